"""A grid of samples from the GAN's fixed noise, logged as training goes.

The noise is the module's ``fixed_noise`` buffer: saved in the checkpoint, so the same after a
resume and on every rank, and the grids of one run show the same latent points changing. The
generator draws in eval mode (BatchNorm running statistics, so two grids in a row are identical)
and is restored to its mode after.
"""

from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger
from PIL import Image

from gan_lightning.visualize import samples_to_image


class SampleGrid(Callback):
    """Every ``every_n_steps`` trainer steps and at the end of training, draw G(fixed_noise) as a
    uint8 grid and send it to W&B (``log_image``) and TensorBoard (``add_image``); when neither
    logger is active, write ``samples/step_XXXXXXX.png`` in the run directory. Rank 0 only.

    Args:
        every_n_steps: trainer steps between grids. Lightning counts every optimizer step, so
            a batch with one D and one G step advances it by 2.
        nrow: images per row of the grid.
        key: name of the image in the loggers.
    """

    def __init__(self, every_n_steps: int = 500, nrow: int = 8, key: str = "samples") -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}.")
        self.every_n_steps = every_n_steps
        self.nrow = nrow
        self.key = key
        self._last_period = 0
        self._last_step: int | None = None

    @torch.no_grad()
    def draw(self, pl_module: LightningModule) -> np.ndarray:
        """The (H, W, 3) uint8 grid of G(fixed_noise), with G in eval mode and restored after."""
        return samples_to_image(pl_module.generate(pl_module.fixed_noise), self.nrow)

    def log_grid(self, trainer: Trainer, pl_module: LightningModule) -> Path | None:
        """Draw and log one grid (rank 0 only); return the PNG written, if any."""
        step = trainer.global_step
        if not trainer.is_global_zero or step == self._last_step:
            return None
        self._last_step = step
        grid = self.draw(pl_module)
        # Loggers get the step Lightning logs the losses at (one per batch, not per optimizer
        # step), so that grids and losses line up on the same x-axis.
        logged_step = trainer.fit_loop.epoch_loop._batches_that_stepped
        if show_image(trainer, self.key, grid, logged_step):
            return None
        path = Path(run_dir(trainer)) / "samples" / f"step_{step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(path)
        return path

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._last_period = trainer.global_step // self.every_n_steps  # a resumed run keeps its schedule

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        period = trainer.global_step // self.every_n_steps
        if period > self._last_period:
            self._last_period = period
            self.log_grid(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.log_grid(trainer, pl_module)


def show_image(trainer: Trainer, key: str, image: np.ndarray, step: int) -> bool:
    """Send a uint8 (H, W, C) image to every W&B / TensorBoard logger; False when there is none."""
    shown = False
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key, [image], step=step)
            shown = True
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, step, dataformats="HWC")
            shown = True
    return shown


def run_dir(trainer: Trainer) -> str:
    """The run's directory without ``trainer.log_dir``'s broadcast, which would hang on rank 0 alone."""
    for logger in trainer.loggers:
        if isinstance(logger, (CSVLogger, TensorBoardLogger)):
            return logger.log_dir
    return trainer.default_root_dir
