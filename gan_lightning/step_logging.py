"""When the GAN module logs its per-batch statistics, and the epoch means it logs instead.

Each ``self.log`` call costs Lightning's result bookkeeping, about 0.3 ms per value on a CPU, so
logging a step's five values every batch costs more than a 2-D GAN's whole step
(benchmarks/step_overhead.py). The module therefore logs step values only on the batches the
loggers write, and sums the losses itself for one epoch-mean log per epoch.
"""

from typing import Any

import torch
from lightning.pytorch import Trainer
from torch import Tensor


def logs_this_batch(trainer: Trainer) -> bool:
    """Whether the loggers write this training batch's step values: the first batch (so the
    progress bar has numbers at once) and every ``trainer.log_every_n_steps``-th, Lightning's own
    schedule, counted in batches. A value logged on any other batch would never reach a logger;
    the progress bar shows the last logged one.
    """
    if trainer.fast_dev_run:
        return True
    batch = trainer.fit_loop.total_batch_idx
    every = trainer.log_every_n_steps
    return batch == 0 or (every > 0 and (batch + 1) % every == 0)


class EpochMeans:
    """Running sums of chosen per-batch values (on their device: no host sync per batch).

    Checkpoints keep the sums (``state_dict``), so a run resumed mid-epoch logs the means of the
    whole epoch.
    """

    def __init__(self, names: tuple[str, ...] = ("loss_D", "loss_G")) -> None:
        self.names = names
        self._sums: dict[str, tuple[Tensor | float, int]] = {}

    def add(self, stats: dict[str, Tensor]) -> None:
        for name in self.names:
            if name in stats:
                total, count = self._sums.get(name, (0.0, 0))
                self._sums[name] = (total + stats[name], count + 1)

    def pop(self) -> dict[str, Tensor | float]:
        """{"loss_D_epoch": mean, ...} of the values added since the last pop, and reset."""
        means = {f"{k}_epoch": total / count for k, (total, count) in self._sums.items()}
        self._sums.clear()
        return means

    def state_dict(self) -> dict[str, Any]:
        """The sums so far, on the CPU (a checkpoint is a host sync anyway)."""
        return {k: (total.detach().cpu() if isinstance(total, Tensor) else total, count)
                for k, (total, count) in self._sums.items()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self._sums = {k: (total.to(device) if isinstance(total, Tensor) else total, count)
                      for k, (total, count) in state.items()}
