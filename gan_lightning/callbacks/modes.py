"""Mode-collapse diagnostics on 2-D mixtures (PacGAN's ring and grid) while training.

Every ``every_n_batches`` batches and at the end of training, G draws ``num_samples`` points
from a fixed latent seed (so curves compare like with like) and the callback logs PacGAN's
``modes_covered``, ``hq_fraction`` and ``reverse_kl`` plus a label-free ``diversity`` (mean
pairwise distance of generated over real points), shows a scatter of real vs generated points
(W&B / TensorBoard image, else ``modes/step_XXXXXXX.png`` in the run directory), and warns
once if G collapses.
"""

from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from PIL import Image
from torch import Tensor

from gan_lightning.callbacks.health import warn_once
from gan_lightning.callbacks.samples import run_dir
from gan_lightning.metrics.modes import diversity_ratio, mode_stats
from gan_lightning.visualize import scatter_image


def show_image(trainer: Trainer, key: str, image: np.ndarray, step: int) -> bool:
    """Send a uint8 (H, W, 3) image to every W&B / TensorBoard logger; False when there is none."""
    shown = False
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key, [image], step=step)
            shown = True
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, step, dataformats="HWC")
            shown = True
    return shown


class ModeCoverage(Callback):
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
        if every_n_batches < 1 or num_samples < 2:
            raise ValueError(
                f"every_n_batches must be >= 1 and num_samples >= 2, got {every_n_batches} and {num_samples}."
            )
        self.every_n_batches = every_n_batches
        self.num_samples = num_samples
        self.num_std = num_std
        self.min_coverage = min_coverage
        self.min_diversity = min_diversity
        self.plot = plot
        self.modes = torch.tensor(modes, dtype=torch.float32) if modes is not None else None
        self.std = std
        self.seed = seed
        self.fired: set[str] = set()
        self.history: list[dict[str, float]] = []
        self._real: Tensor | None = None

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

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        real = batch[0] if isinstance(batch, (list, tuple)) else batch
        if self._real is None or len(self._real) < self.num_samples:  # a reference sample of real points
            self._real = real.detach().cpu() if self._real is None else torch.cat([self._real, real.detach().cpu()])
        if (trainer.fit_loop.total_batch_idx + 1) % self.every_n_batches == 0:
            pl_module.log_dict(self.evaluate(trainer, pl_module), on_step=True, on_epoch=False)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.history and self.history[-1]["batch"] == trainer.fit_loop.total_batch_idx + 1:
            return  # the last batch was just evaluated
        metrics = self.evaluate(trainer, pl_module)
        for logger in trainer.loggers:  # self.log is not allowed in on_train_end
            logger.log_metrics(metrics, step=trainer.global_step)

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """Compute, log and check the metrics once; returns them."""
        fake = pl_module.sample(self.num_samples, torch.Generator().manual_seed(self.seed)).cpu().flatten(1)
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
                f"{metrics['diversity']:.2f} of the data's. Remedies: PacGAN packing (model.pack and "
                "netD pack: 2-4), netD minibatch_std: true, model.mode_seeking_weight > 0; see configs/ring8.yaml.",
            )
        if self.plot and trainer.is_global_zero:
            self.draw(trainer, real, fake)
        return metrics

    def draw(self, trainer: Trainer, real: Tensor, fake: Tensor) -> Path | None:
        """Show the scatter in the loggers, or write it as a PNG; returns the PNG's path."""
        image = scatter_image(real, fake)
        step = trainer.global_step
        if show_image(trainer, "modes/scatter", image, step):
            return None
        path = Path(run_dir(trainer)) / "modes" / f"step_{step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        return path
