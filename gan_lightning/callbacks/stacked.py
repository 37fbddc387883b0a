"""Stacked MNIST mode coverage while training (gan_lightning.metrics.stacked).

Every ``every_n_batches`` batches and at the end of training, G makes ``num_samples`` images from
a fixed latent seed; the shipped digit classifier reads each channel, and the callback logs
``stacked_modes`` (triplets made at least once, of 1,000) and ``stacked_kl`` (KL of the triplet
histogram to uniform), shows the 10 x 100 histogram (W&B / TensorBoard image, else
``stacked_histogram/batch_XXXXXXX.png`` in the run directory), and warns once if G collapses.
"""

from lightning.pytorch import LightningModule, Trainer
from torch import nn

from gan_lightning.callbacks.health import warn_once
from gan_lightning.callbacks.periodic import PeriodicSampleCheck, log_values
from gan_lightning.metrics.classifier import load_digit_classifier
from gan_lightning.metrics.stacked import NUM_TRIPLETS, generated_counts, histogram_image, stacked_stats
from gan_lightning.visualize import log_or_save_image


class StackedMNISTCoverage(PeriodicSampleCheck):
    """Modes and KL of Stacked MNIST samples, and their histogram, while training.

    Args:
        every_n_batches: training batches between evaluations.
        num_samples: generated images per evaluation (PacGAN scores 25,600: ~14 CPU s; 10,000
            cost ~6 s and real stacked digits still cover all 1,000 triplets at that count).
        min_modes: warn of mode collapse when fewer triplets than this are made...
        max_kl: ...or when the KL to uniform exceeds this (real digits: ~0.05 at 10,000 samples).
        plot: draw the histogram.
        classifier_path: weights of the digit classifier; None takes the shipped one.
        seed: seed of the latent points drawn at each evaluation.
        classifier: any module with ``predict_proba(images) -> (N, 10)``, instead (for tests).
    """

    def __init__(
        self, every_n_batches: int = 2000, num_samples: int = 10_000, min_modes: int = 750, max_kl: float = 1.0,
        plot: bool = True, classifier_path: str | None = None, seed: int = 0, classifier: nn.Module | None = None,
    ) -> None:  # fmt: skip
        super().__init__(every_n_batches, num_samples, seed)
        if not 0 <= min_modes <= NUM_TRIPLETS:
            raise ValueError(f"min_modes counts triplets, in 0..{NUM_TRIPLETS}; got {min_modes}.")
        self.min_modes, self.max_kl, self.plot = min_modes, max_kl, plot
        self.classifier_path, self.classifier = classifier_path, classifier

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        shape = tuple(getattr(trainer.datamodule, "sample_shape", ()) or ())
        if shape[:1] != (3,):
            raise ValueError(
                f"StackedMNISTCoverage reads one digit per channel of 3-channel images; the data has samples of "
                f"shape {shape}. Use it with gan_lightning.data.stacked.StackedDigitsDataModule."
            )
        if self.classifier is None:
            self.classifier = load_digit_classifier(self.classifier_path)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        """Evaluate on schedule; unlike the base class, keep no real batches (no diversity ratio)."""
        if (trainer.fit_loop.total_batch_idx + 1) % self.every_n_batches == 0:
            log_values(trainer, self.evaluate(trainer, pl_module))

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """Compute, log and check the metrics once; returns them."""
        counts = generated_counts(pl_module, self.classifier, self.num_samples, self.seed)
        stats = stacked_stats(counts)
        metrics = {"stacked_modes": float(stats.modes), "stacked_kl": stats.kl}
        self.history.append({"batch": trainer.fit_loop.total_batch_idx + 1, **metrics})
        if stats.modes < self.min_modes or stats.kl > self.max_kl:
            warn_once(
                self.fired,
                "mode collapse",
                f"G makes {stats.modes} of the {NUM_TRIPLETS} digit triplets (KL to uniform {stats.kl:.2f}; real "
                "stacked digits: 1000 and ~0.02 at 25,600 samples). Remedies: PacGAN packing (netD pack: 2-4, "
                "configs/stacked/pack2.yaml), the R1 term with an EMA G (configs/stacked/recipe.yaml).",
            )
        if self.plot and trainer.is_global_zero:
            log_or_save_image(trainer, "stacked_histogram", histogram_image(counts), trainer.fit_loop.total_batch_idx)
        return metrics
