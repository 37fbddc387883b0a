"""Mode-collapse diagnostics on 2-D mixtures (PacGAN's ring and grid) while training.

Every ``every_n_batches`` batches and at the end of training, G draws ``num_samples`` points
from a fixed latent seed (so curves compare like with like) and the callback logs PacGAN's
``modes_covered``, ``hq_fraction`` and ``reverse_kl`` plus a label-free ``diversity`` (mean
pairwise distance of generated over real points), shows a scatter of real vs generated points
(W&B / TensorBoard image, else ``modes/batch_XXXXXXX.png`` in the run directory), and warns
once if G collapses.
"""

from pathlib import Path

import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor

from gan_lightning.callbacks.health import warn_once
from gan_lightning.callbacks.periodic import PeriodicSampleCheck
from gan_lightning.metrics.modes import diversity_ratio, mode_stats
from gan_lightning.visualize import log_or_save_image, scatter_image


class ModeCoverage(PeriodicSampleCheck):
    """PacGAN's mode metrics, diversity and a scatter plot while training on a mixture.

    The mode centres and their standard deviation come from the datamodule's ``modes`` and
    ``std`` (``RingDataModule``, ``GridDataModule``) unless given here.

    Args:
        every_n_batches: training batches between evaluations.
        num_samples: generated points per evaluation (PacGAN: 2,500).
        num_std: a point within this many standard deviations of its nearest mode is high quality.
        min_coverage: warn of mode collapse when fewer than this fraction of the modes is covered...
        min_diversity: ...or when the diversity ratio falls below this.
        plot: draw the scatter plot.
        modes: (K, 2) mode centres, to override the datamodule's.
        std: the modes' standard deviation, to override the datamodule's.
        seed: seed of the latent points drawn at each evaluation.
    """

    def __init__(
        self,
        every_n_batches: int = 500,
        num_samples: int = 2500,
        num_std: float = 3.0,
        min_coverage: float = 0.75,
        min_diversity: float = 0.5,
        plot: bool = True,
        modes: list[list[float]] | None = None,
        std: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(every_n_batches, num_samples, seed)
        self.num_std = num_std
        self.min_coverage = min_coverage
        self.min_diversity = min_diversity
        self.plot = plot
        self.modes = torch.tensor(modes, dtype=torch.float32) if modes is not None else None
        self.std = std

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if self.modes is None:
            self.modes = getattr(datamodule, "modes", None)
        if self.std is None:
            self.std = getattr(datamodule, "std", None)
        if self.modes is None or self.std is None:
            raise ValueError(
                f"ModeCoverage needs mode centres and their std: use a datamodule with `modes` and `std` "
                f"(RingDataModule, GridDataModule; got {type(datamodule).__name__}) or pass modes= and std=."
            )

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """Compute, log and check the metrics once; returns them."""
        fake = self.draw_samples(pl_module).flatten(1)
        stats = mode_stats(fake, self.modes, self.std, self.num_std)
        real = self._real[: self.num_samples]
        metrics = {**stats._asdict(), "diversity": diversity_ratio(fake, real)}
        metrics = {k: float(v) for k, v in metrics.items()}
        self.history.append({"batch": trainer.fit_loop.total_batch_idx + 1, **metrics})
        if metrics["modes_covered"] < self.min_coverage * len(self.modes) or metrics["diversity"] < self.min_diversity:
            warn_once(
                self.fired,
                "mode collapse",
                f"G covers {stats.modes_covered} of {len(self.modes)} modes, diversity "
                f"{metrics['diversity']:.2f} of the data's. Remedies: R1 (gamma 10) in model.d_terms, "
                "configs/remedies/r1.yaml; PacGAN packing (netD pack: 2-4); netD minibatch_std: true; the "
                "ModeSeeking term in model.g_terms.",
            )
        if self.plot and trainer.is_global_zero:
            self.draw(trainer, real, fake)
        return metrics

    def draw(self, trainer: Trainer, real: Tensor, fake: Tensor) -> Path | None:
        """Show the scatter in the loggers, or write it as a PNG; returns the PNG's path."""
        return log_or_save_image(trainer, "modes", scatter_image(real, fake), trainer.fit_loop.total_batch_idx)
