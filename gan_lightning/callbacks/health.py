"""Training-health diagnostics for the seeds' pitfalls, each a logged scalar plus a one-time
warning that names the pitfall and its remedy.

- vanishing G gradients: G's gradient norm, averaged over the last ``patience`` batches, falls
  below ``vanish_ratio`` of its peak while D rejects the fakes (mean D(G(z)) < ``confident``),
  as under ``loss: minimax``;
- D overpowering: mean D(x) > 1 - ``confident`` and mean D(G(z)) < ``confident`` over the last
  ``patience`` batches;
- oscillation: the standard deviation of loss_G over the last ``window`` batches exceeds
  ``oscillation_std``.

The gradient norms are measured in ``on_before_optimizer_step``, which Lightning also calls
under manual optimization (between ``manual_backward`` and the step), so G's norm is the one
of the G step. D(x) and D(G(z)) are probabilities, so the first two checks need a logit loss
(the module returns ``D_x``); for other losses only the norms and the loss spread are logged.
"""

from collections import deque

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn

from gan_lightning.step_logging import logs_this_batch


def warn_once(fired: set[str], pitfall: str, message: str) -> None:
    """Warn (rank 0) the first time ``pitfall`` is seen; remember it in ``fired``."""
    if pitfall not in fired:
        fired.add(pitfall)
        rank_zero_warn(f"[{pitfall}] {message}", category=UserWarning)


def grad_norm(optimizer: torch.optim.Optimizer) -> float:
    """The 2-norm of all gradients that ``optimizer`` is about to apply."""
    grads = [p.grad.detach().flatten() for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    return torch.cat(grads).norm().item() if grads else 0.0


class TrainingHealth(Callback):
    """Logs ``health/grad_norm_G``, ``health/grad_norm_D``, ``health/loss_G_std``,
    ``health/loss_D_std`` and (for logit losses) ``health/D_x_mean``, ``health/D_G_z_mean`` over
    the last ``patience`` batches on the batches the loggers write (``logs_this_batch``), and
    warns once per pitfall. It reads every batch's statistics from the GAN's ``training_step``
    outputs, so the checks see every batch. ``fired`` holds the pitfalls seen so far.

    Args:
        window: batches over which the loss spread is measured.
        oscillation_std: loss_G standard deviation (over ``window``) above which training is
            called oscillating; the default suits the BCE losses (in nats).
        vanish_ratio: G's mean gradient norm below this fraction of its peak counts as vanished.
        confident: mean D(G(z)) below this (and mean D(x) above 1 - this) is a confident D.
        patience: batches the D(x), D(G(z)) and gradient-norm means are taken over.
    """

    def __init__(
        self,
        window: int = 200,
        oscillation_std: float = 1.0,
        vanish_ratio: float = 0.2,
        confident: float = 0.1,
        patience: int = 100,
    ) -> None:
        if window < 2 or patience < 1:
            raise ValueError(f"window must be >= 2 and patience >= 1, got window={window}, patience={patience}.")
        self.window = window
        self.oscillation_std = oscillation_std
        self.vanish_ratio = vanish_ratio
        self.confident = confident
        self.patience = patience
        self.fired: set[str] = set()
        self._losses: dict[str, deque[float]] = {k: deque(maxlen=window) for k in ("loss_G", "loss_D")}
        self._norms: dict[str, float] = {}
        self._recent: dict[str, deque[float]] = {k: deque(maxlen=patience) for k in ("D_x", "D_G_z1", "grad_G")}
        self._peak_G = 0.0

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer) -> None:
        opt_G = pl_module.optimizers()[0]
        net = "G" if optimizer is getattr(opt_G, "optimizer", opt_G) else "D"
        self._norms[net] = grad_norm(optimizer)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: dict[str, torch.Tensor], batch, batch_idx: int
    ) -> None:
        metrics = outputs or {}  # the GAN's training_step returns every batch's loss_D, loss_G, D_x, ...
        logged: dict[str, float] = {}
        for name, value in self._norms.items():
            logged[f"health/grad_norm_{name}"] = value
        for name, history in self._losses.items():
            if name in metrics:
                history.append(float(metrics[name]))
            if len(history) >= 2:
                logged[f"health/{name}_std"] = float(torch.tensor(history).std())
        if "G" in self._norms:
            self._recent["grad_G"].append(self._norms["G"])
            self._peak_G = max(self._peak_G, self._norms["G"])
        if "D_x" in metrics and "D_G_z1" in metrics:
            self._recent["D_x"].append(float(metrics["D_x"]))
            self._recent["D_G_z1"].append(float(metrics["D_G_z1"]))
            d_x, d_g_z = (sum(self._recent[k]) / len(self._recent[k]) for k in ("D_x", "D_G_z1"))
            logged["health/D_x_mean"], logged["health/D_G_z_mean"] = d_x, d_g_z
            if len(self._recent["D_x"]) == self.patience:
                self._check_confident_d(d_x, d_g_z)
        self._check_oscillation(logged.get("health/loss_G_std"))
        self._norms.clear()
        if logs_this_batch(trainer):
            pl_module.log_dict(logged, on_step=True, on_epoch=False)

    def _check_confident_d(self, d_x: float, d_g_z: float) -> None:
        if d_x > 1 - self.confident and d_g_z < self.confident:
            warn_once(
                self.fired,
                "D overpowering",
                f"mean D(x) = {d_x:.3f} and mean D(G(z)) = {d_g_z:.3f} over {self.patience} batches: "
                "D's feedback no longer guides G. Remedies: lower optimizer_D's lr or D's width, "
                "model.network_setup.spectral_norm: true, an R1 or GradientPenalty term in model.d_terms.",
            )
        grads = self._recent["grad_G"]
        if len(grads) < self.patience:
            return
        norm = sum(grads) / len(grads)
        if norm < self.vanish_ratio * self._peak_G and d_g_z < self.confident:
            warn_once(
                self.fired,
                "vanishing gradients",
                f"G's mean gradient norm fell to {norm:.3g} (peak {self._peak_G:.3g}) while mean D(G(z)) = "
                f"{d_g_z:.3f}: a confident D saturates log(1 - D(G(z))). Remedies: model.loss: "
                "non_saturating (or wasserstein with a GradientPenalty term), network_setup.spectral_norm: true, a weaker D.",
            )

    def _check_oscillation(self, loss_G_std: float | None) -> None:
        if loss_G_std is not None and len(self._losses["loss_G"]) == self.window and loss_G_std > self.oscillation_std:
            warn_once(
                self.fired,
                "oscillation",
                f"loss_G's standard deviation over {self.window} batches is {loss_G_std:.3g} "
                f"(> {self.oscillation_std}): unstable convergence, G and D chase each other. "
                "Remedies: lower both learning rates, ema_decay: 0.999 (sample from the average G), "
                "network_setup.spectral_norm: true, an R1 term in model.d_terms.",
            )
