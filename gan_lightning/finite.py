"""Stop on a NaN/inf loss without a host sync per batch, on every rank at once.

Checking ``math.isfinite(loss.item())`` before each optimizer step costs a host-device sync
(twice a batch), which stalls a GPU's launch queue; and under DDP a rank that raises alone leaves
the others waiting in the next all-reduce until the job's wall-time limit.

``FiniteGuard`` instead keeps the check on the device:

- ``step(optimizer, name, loss, ...)`` replaces ``optimizer.step()``. When ``loss`` is not
  finite it records, on the device, one float64 code of (global step, loss, NaN or inf, rank),
  all-reduced with MIN over the ranks under DDP (one scalar collective per optimizer step, queued
  like the gradient all-reduce, no host sync) and kept as the minimum over time. So every rank
  holds the same sticky record of the first bad loss, skips the same steps and stops at the same
  point with the same message, and ``check`` needs no collective. From the first bad loss on,
  the optimizer steps are made harmless on the device:

  * fused optimizers (``fused=True`` Adam/AdamW/SGD/Adagrad) get the flag as ``found_inf``, the
    argument ``torch.amp.GradScaler`` uses: the fused kernel skips the update of the weights, the
    moments and the step count. The weights stay exactly the last good ones.
  * any other optimizer gets its gradients zeroed (``masked_fill_``; a multiply would keep NaN)
    before it steps. Plain SGD then leaves the weights unchanged; Adam's moments decay and the
    weights move by momentum alone, at most ``lr`` per element and step: they stay finite, not
    frozen, until the stop. Skipping ``step()`` itself would need the flag on the host, a sync.

- ``check(...)`` raises ``FloatingPointError`` naming the loss, its value, the global step, the
  epoch and the rank, if a loss was bad. It costs one host sync: call it where a sync happens
  anyway: on the batches the loggers write, before a checkpoint is written, at the end of an
  epoch and of training. It runs no collective, so rank 0 alone may call it too.

Parameters stay finite; buffers such as BatchNorm running statistics are updated by the forward
of a bad batch and may not be. Nothing is saved after the bad batch (``check`` runs before each
checkpoint), so the last checkpoint on disk holds the last good state.
"""

import bisect
import math

import torch
import torch.distributed as dist
from torch import Tensor

LOSS_NAMES = ("loss_D", "loss_G", "a loss")  # index 2: any other name
KINDS = ("nan", "inf")  # inf: +inf or -inf
NONE = math.inf  # the record when every loss so far was finite


def _world() -> tuple[int, int]:
    """(world size, rank) of the default process group, (1, 0) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class FiniteGuard:
    """On-device record of the first non-finite loss on any rank (see the module doc).

    Args:
        advice: the sentence after the diagnosis in the error message: what to do about it.
        on_device: None (default) keeps the record on the device unless the loss is on the CPU,
            where ``.item()`` waits for no queue: there the check runs on the host (0.2 us, not
            ~40 us of small tensor ops) and a bad step is skipped exactly (gradients set to None,
            which every torch optimizer skips). True forces the device path (the tests use it
            to check on a CPU what a GPU runs); False forces the host path.
    """

    def __init__(
        self,
        advice: str = "Lower the learning rates, add a gradient penalty, or resume from the last good "
        "checkpoint with --ckpt_path last.",
        on_device: bool | None = None,
    ) -> None:
        self.advice = advice
        self.on_device = on_device
        self.reset()

    def reset(self) -> None:
        """Forget the record (a new fit)."""
        self.first: Tensor | None = None  # float64 code of the first bad loss, NONE if none (device path)
        self.first_host = NONE  # the same, host path
        self.epoch_starts: list[tuple[int, int]] = []  # (global step, epoch): host-side, for the message

    def step(self, optimizer: object, name: str, loss: Tensor, global_step: int, epoch: int) -> None:
        """``optimizer.step()``, made harmless on the device if ``loss`` or any earlier loss (on any
        rank) was not finite. ``optimizer`` may be Lightning's ``LightningOptimizer``."""
        loss = loss.detach()
        if not self.epoch_starts or self.epoch_starts[-1][1] != epoch:
            self.epoch_starts.append((global_step, epoch))
        world, rank = _world()
        index = LOSS_NAMES.index(name) if name in LOSS_NAMES[:2] else 2
        if self.on_device is False or (self.on_device is None and loss.device.type == "cpu"):
            return self._host_step(optimizer, loss, global_step, index, world, rank)
        if self.first is None or self.first.device != loss.device:
            self.first = torch.full((), NONE, dtype=torch.float64, device=loss.device)
        # code = ((step * 3 + index) * 2 + kind) * world + rank, kind 0: NaN, 1: inf; 5 small kernels
        code_nan = torch.full((), ((global_step * 3 + index) * 2) * world + rank, dtype=torch.float64, device=loss.device)
        code = torch.where(loss.isfinite(), NONE, torch.where(loss.isnan(), code_nan, code_nan + world))
        if world > 1:
            dist.all_reduce(code, op=dist.ReduceOp.MIN)  # asynchronous on NCCL: no host sync
        torch.minimum(self.first, code, out=self.first)
        bad = self.first < NONE
        inner = getattr(optimizer, "optimizer", optimizer)  # LightningOptimizer wraps the torch one
        if getattr(inner, "_step_supports_amp_scaling", False) and not _scaler_in_use(optimizer):
            inner.found_inf = bad.float()  # fused kernels skip the whole update when it is non-zero
        else:
            for group in inner.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.masked_fill_(bad, 0.0)
        optimizer.step()

    def _host_step(self, optimizer: object, loss: Tensor, global_step: int, index: int, world: int, rank: int) -> None:
        """The CPU path: the same record on the host; a bad step skipped exactly."""
        value = loss.item()
        code = NONE if math.isfinite(value) else ((global_step * 3 + index) * 2 + (0 if math.isnan(value) else 1)) * world + rank
        if world > 1:  # the CPU backend (gloo) all-reduces synchronously anyway
            reduced = torch.tensor(code, dtype=torch.float64)
            dist.all_reduce(reduced, op=dist.ReduceOp.MIN)
            code = reduced.item()
        self.first_host = min(self.first_host, code)
        if self.first_host < NONE:  # no gradient, no update: Adam's moments and step count stay too
            inner = getattr(optimizer, "optimizer", optimizer)
            for group in inner.param_groups:
                for p in group["params"]:
                    p.grad = None
        optimizer.step()  # still called, so that Lightning counts the step as on the device path

    def check(self) -> None:
        """Raise ``FloatingPointError`` if a loss on any rank was not finite (one host sync)."""
        code = self.first_host if self.first is None else min(self.first_host, self.first.item())
        if code == NONE:
            return
        world, _ = _world()
        code = int(code)
        rank, code = code % world, code // world
        kind, code = code % 2, code // 2
        index, step = code % 3, code // 3
        starts = self.epoch_starts
        epoch = starts[max(0, bisect.bisect_right([s for s, _ in starts], step) - 1)][1] if starts else 0
        where = f" on rank {rank} of {world} (every rank stopped)" if world > 1 else ""
        raise FloatingPointError(
            f"{LOSS_NAMES[index]} is {KINDS[kind]} at global step {step} (epoch {epoch}){where}. "
            f"No optimizer step applied it and no checkpoint was written after it. {self.advice}"
        )


def _scaler_in_use(optimizer: object) -> bool:
    """Whether Lightning's precision plugin steps through a GradScaler (16-mixed), which sets the
    optimizer's ``found_inf`` itself."""
    strategy = getattr(optimizer, "_strategy", None)
    return getattr(getattr(strategy, "precision_plugin", None), "scaler", None) is not None
