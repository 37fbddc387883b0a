"""Stop on a NaN/inf loss without a host sync per batch, on every rank at once.

Checking ``math.isfinite(loss.item())`` before each optimizer step costs a host-device sync
(twice a batch), which stalls a GPU's launch queue; and under DDP a rank that raises alone leaves
the others waiting in the next all-reduce until the job's wall-time limit.

``FiniteGuard`` instead keeps the check on the device:

- ``step(optimizer, name, loss, ...)`` replaces ``optimizer.step()``. It sets a sticky on-device
  flag when ``loss`` is not finite, all-reduced (MAX) over the ranks under DDP (one scalar
  collective per optimizer step, queued like the gradient all-reduce, no host sync), so that
  every rank skips the same steps and stops at the same point. From the first bad loss on, the
  optimizer steps are made harmless on the device:

  * fused optimizers (``fused=True`` Adam/AdamW/SGD/Adagrad) get the flag as ``found_inf``, the
    argument ``torch.amp.GradScaler`` uses: the fused kernel skips the update of the weights, the
    moments and the step count. The weights stay exactly the last good ones.
  * any other optimizer gets its gradients zeroed (``masked_fill_``; a multiply would keep NaN)
    before it steps. Plain SGD then leaves the weights unchanged; Adam's moments decay and the
    weights move by momentum alone, at most ``lr`` per element and step: they stay finite, not
    frozen, until the stop. Skipping ``step()`` itself would need the flag on the host, a sync.

- ``check(...)`` raises ``FloatingPointError`` naming the loss, its value, the global step, the
  epoch and the rank, if the flag is set. Call it where a sync happens anyway: on the batches the
  loggers write, before a checkpoint is written, at the end of an epoch and of training. Every
  rank holds the same flag, so every rank raises the same message at the same point.

Parameters stay finite; buffers such as BatchNorm running statistics are updated by the forward
of a bad batch and may not be. Nothing is saved after the bad batch (``check`` runs before each
checkpoint), so the last checkpoint on disk holds the last good state.
"""

import torch
import torch.distributed as dist
from torch import Tensor

LOSS_NAMES = ("loss_D", "loss_G")
_NONE = -1.0  # "no non-finite loss seen on this rank" in the info vector's step slot


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class FiniteGuard:
    """On-device record of the first non-finite loss and a sticky stop flag (see the module doc).

    Args:
        advice: the sentence after the diagnosis in the error message: what to do about it.
    """

    def __init__(
        self,
        advice: str = "Lower the learning rates, add a gradient penalty, or resume from the last good "
        "checkpoint with --ckpt_path last.",
    ) -> None:
        self.advice = advice
        self.bad: Tensor | None = None  # float 0/1, sticky, the same on every rank (all-reduced)
        self.info: Tensor | None = None  # float64 [global step, epoch, loss index, value] of this rank's first

    def reset(self) -> None:
        """Forget the flag (a new fit)."""
        self.bad = self.info = None

    def step(self, optimizer: object, name: str, loss: Tensor, global_step: int, epoch: int) -> None:
        """``optimizer.step()``, made harmless on the device if ``loss`` or any earlier loss (on any
        rank) was not finite. ``optimizer`` may be Lightning's ``LightningOptimizer``."""
        loss = loss.detach()
        if self.bad is None or self.bad.device != loss.device:
            self.bad = torch.zeros((), dtype=torch.float32, device=loss.device)
            self.info = torch.tensor([_NONE, _NONE, _NONE, 0.0], dtype=torch.float64, device=loss.device)
        assert self.info is not None
        local = torch.isfinite(loss).logical_not_()
        first_here = local & (self.info[0] == _NONE)  # this rank's first non-finite loss
        self.info[0:1].masked_fill_(first_here, global_step)  # python scalars: kernel arguments, no copy
        self.info[1:2].masked_fill_(first_here, epoch)
        self.info[2:3].masked_fill_(first_here, LOSS_NAMES.index(name) if name in LOSS_NAMES else -2)
        self.info[3:4] = torch.where(first_here, loss.double(), self.info[3])
        flag = local.float()
        if _world_size() > 1:
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)  # asynchronous on NCCL: no host sync
        torch.maximum(self.bad, flag, out=self.bad)
        inner = getattr(optimizer, "optimizer", optimizer)  # LightningOptimizer wraps the torch one
        if getattr(inner, "_step_supports_amp_scaling", False) and not _scaler_in_use(optimizer):
            inner.found_inf = self.bad  # fused kernels skip the whole update when it is non-zero
        else:
            skip = self.bad.bool()
            for group in inner.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.masked_fill_(skip, 0.0)
        optimizer.step()

    def check(self) -> None:
        """Raise ``FloatingPointError`` if any rank has seen a non-finite loss. One host sync (and
        under DDP, only once a loss was bad, one all-gather): call it where a sync happens anyway,
        on every rank at the same point."""
        if self.bad is None or not self.bad.item():
            return
        assert self.info is not None
        world = _world_size()
        if world > 1:
            gathered = [torch.empty_like(self.info) for _ in range(world)]
            dist.all_gather(gathered, self.info)
        else:
            gathered = [self.info]
        seen = [(info.tolist(), rank) for rank, info in enumerate(gathered) if info[0].item() != _NONE]
        if not seen:  # the flag came from elsewhere (cannot happen through step)
            raise FloatingPointError(f"A loss became NaN or inf. {self.advice}")
        (step, epoch, index, value), rank = min(seen)  # the earliest step; the lowest rank on a tie
        ranks = sorted(r for (s, *_), r in seen if s == step)
        name = LOSS_NAMES[int(index)] if int(index) >= 0 else "a loss"
        where = f" on rank{'s' if len(ranks) > 1 else ''} {', '.join(map(str, ranks))} of {world}" if world > 1 else ""
        stopped = " (every rank stopped)" if world > 1 else ""
        raise FloatingPointError(
            f"{name} is {value} at global step {int(step)} (epoch {int(epoch)}){where}{stopped}. "
            f"No optimizer step applied it and no checkpoint was written after it. {self.advice}"
        )


def _scaler_in_use(optimizer: object) -> bool:
    """Whether Lightning's precision plugin steps through a GradScaler (16-mixed), which sets the
    optimizer's ``found_inf`` itself."""
    strategy = getattr(optimizer, "_strategy", None)
    return getattr(getattr(strategy, "precision_plugin", None), "scaler", None) is not None
