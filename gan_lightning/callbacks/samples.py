"""A grid of samples from the GAN's fixed noise, logged as training goes.

The noise is the module's ``fixed_noise`` buffer: saved in the checkpoint, so the same after a
resume and on every rank, and the grids of one run show the same latent points changing. The
grid is drawn by ``GAN.generate`` (eval mode, EMA G when kept), so two grids in a row are identical.
A conditional GAN's grid has one row per class (its ``fixed_labels`` buffer, saved with the noise).
"""

from pathlib import Path

import numpy as np

from lightning.pytorch import Callback, LightningModule, Trainer

from gan_lightning.visualize import log_or_save_image, samples_to_image


class SampleGrid(Callback):
    """Every ``every_n_batches`` training batches and at the end of training, draw
    G(fixed_noise) as a uint8 grid and send it to W&B / TensorBoard, or, without either logger,
    write ``samples/batch_XXXXXXX.png`` in the run directory. Rank 0 only.

    Args:
        every_n_batches: training batches between grids (the unit of every periodic callback here).
        nrow: images per row of the grid (a conditional GAN's grid has one row per class instead).
        key: name of the image in the loggers (and the PNG folder).
    """

    def __init__(self, every_n_batches: int = 250, nrow: int = 8, key: str = "samples") -> None:
        if every_n_batches < 1:
            raise ValueError(f"every_n_batches must be >= 1, got {every_n_batches}.")
        self.every_n_batches = every_n_batches
        self.nrow = nrow
        self.key = key
        self._last_batch: int | None = None

    def draw(self, pl_module: LightningModule) -> np.ndarray:
        """The (H, W, 3) uint8 grid of G(fixed_noise), or G(fixed_noise, fixed_labels) a class a row."""
        labels = getattr(pl_module, "fixed_labels", None)
        nrow = self.nrow if labels is None else len(labels) // pl_module.num_classes
        return samples_to_image(pl_module.generate(pl_module.fixed_noise, labels=labels), nrow)

    def log_grid(self, trainer: Trainer, pl_module: LightningModule) -> Path | None:
        """Draw and log one grid (rank 0 only) at the current batch; return the PNG written, if any."""
        batch = trainer.fit_loop.total_batch_idx  # the step the losses of this batch are logged at
        if not trainer.is_global_zero or batch == self._last_batch:
            return None
        self._last_batch = batch
        return log_or_save_image(trainer, self.key, self.draw(pl_module), batch)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        if (trainer.fit_loop.total_batch_idx + 1) % self.every_n_batches == 0:  # a resumed run keeps its schedule
            self.log_grid(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.log_grid(trainer, pl_module)
