"""The schedule shared by the sample-based diagnostics (ModeCoverage, ClassCoverage)."""

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor


class PeriodicSampleCheck(Callback):
    """Every ``every_n_batches`` batches and at the end of training, call ``evaluate`` and log it.

    Keeps a reference sample of ``num_samples`` real items from the first batches (for the
    diversity ratio), the history of results, and the set of warnings already given.
    Subclasses implement ``evaluate(trainer, pl_module) -> dict`` and append to ``history``.

    Args:
        every_n_batches: training batches between evaluations.
        num_samples: generated samples per evaluation (and real ones kept for reference).
        seed: seed of the latent points drawn at each evaluation, so curves compare like with like.
    """

    def __init__(self, every_n_batches: int, num_samples: int, seed: int) -> None:
        if every_n_batches < 1 or num_samples < 2:
            raise ValueError(
                f"every_n_batches must be >= 1 and num_samples >= 2, got {every_n_batches} and {num_samples}."
            )
        self.every_n_batches = every_n_batches
        self.num_samples = num_samples
        self.seed = seed
        self.fired: set[str] = set()
        self.history: list[dict[str, float]] = []
        self._real: Tensor | None = None

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        raise NotImplementedError

    def draw_samples(self, pl_module: LightningModule) -> Tensor:
        """``num_samples`` samples from the fixed latent seed, on the CPU."""
        return pl_module.sample(self.num_samples, torch.Generator().manual_seed(self.seed)).cpu()

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        real = batch[0] if isinstance(batch, (list, tuple)) else batch
        if self._real is None or len(self._real) < self.num_samples:  # a reference sample of real data
            real = pl_module.to_data_space(real.detach()).cpu()  # where the samples are: data space
            self._real = real if self._real is None else torch.cat([self._real, real])
        if (trainer.fit_loop.total_batch_idx + 1) % self.every_n_batches == 0:
            log_values(trainer, self.evaluate(trainer, pl_module))

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.history and self.history[-1]["batch"] == trainer.fit_loop.total_batch_idx + 1:
            return  # the last batch was just evaluated
        log_values(trainer, self.evaluate(trainer, pl_module))


def log_values(trainer: Trainer, values: dict[str, float]) -> None:
    """Write values once, at the batch index the losses of this batch are logged at, and put them
    in ``callback_metrics`` (for ModelCheckpoint / EarlyStopping ``monitor``).

    Straight to the loggers rather than ``self.log``: that is not allowed in ``on_train_end``,
    and from ``on_train_batch_end`` Lightning writes the value again on the next logging batch,
    a stale point on the curve.
    """
    trainer.callback_metrics.update({k: torch.tensor(v) for k, v in values.items()})
    for logger in trainer.loggers:
        logger.log_metrics(values, step=trainer.fit_loop.total_batch_idx)
