"""Mode-collapse diagnostics for images while training: class coverage and class-histogram KL
from a classifier (the shipped digit classifier by default), and a label-free diversity ratio.

Every ``every_n_batches`` batches and at the end of training, G draws ``num_samples`` images
from a fixed latent seed; the callback logs ``class_coverage`` (fraction of classes made),
``class_kl`` (KL of the predicted-class histogram to uniform) and ``diversity`` (mean pairwise
distance of generated over real images), and warns once if G collapses.
"""

from lightning.pytorch import LightningModule, Trainer
from torch import nn

from gan_lightning.callbacks.health import warn_once
from gan_lightning.callbacks.periodic import PeriodicSampleCheck
from gan_lightning.metrics.classifier import class_coverage, class_histogram, load_digit_classifier
from gan_lightning.metrics.modes import diversity_ratio, kl_to_uniform


class ClassCoverage(PeriodicSampleCheck):
    """Class coverage, class KL and diversity of generated images.

    Args:
        every_n_batches: training batches between evaluations.
        num_samples: generated images per evaluation.
        classifier_path: weights of the digit classifier; None takes the shipped one.
        min_coverage: warn of mode collapse when fewer than this fraction of classes is made...
        min_diversity: ...or when the diversity ratio falls below this.
        seed: seed of the latent points drawn at each evaluation.
        classifier: any module with ``predict_proba(images) -> (N, K)``, instead of the digit
            classifier (for other data sets, and for tests).
    """

    def __init__(
        self,
        every_n_batches: int = 500,
        num_samples: int = 1000,
        classifier_path: str | None = None,
        min_coverage: float = 0.8,
        min_diversity: float = 0.5,
        seed: int = 0,
        classifier: nn.Module | None = None,
    ) -> None:
        super().__init__(every_n_batches, num_samples, seed)
        if classifier is not None and not callable(getattr(classifier, "predict_proba", None)):
            raise ValueError(f"classifier ({type(classifier).__name__}) needs a predict_proba(images) method.")
        self.classifier_path = classifier_path
        self.min_coverage = min_coverage
        self.min_diversity = min_diversity
        self.classifier = classifier

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.classifier is None:
            self.classifier = load_digit_classifier(self.classifier_path)

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """Compute, log and check the metrics once; returns them."""
        fake = self.draw_samples(pl_module)
        probs = self.classifier.predict_proba(fake)
        metrics = {
            "class_coverage": class_coverage(probs),
            "class_kl": kl_to_uniform(class_histogram(probs)),
            "diversity": diversity_ratio(fake, self._real[: self.num_samples]),
        }
        self.history.append({"batch": trainer.fit_loop.total_batch_idx + 1, **metrics})
        if metrics["class_coverage"] < self.min_coverage or metrics["diversity"] < self.min_diversity:
            warn_once(
                self.fired,
                "mode collapse",
                f"G makes {metrics['class_coverage']:.0%} of the classes (class KL to uniform "
                f"{metrics['class_kl']:.2f}), diversity {metrics['diversity']:.2f} of the data's. Remedies: "
                "netD minibatch_std / PacGAN packing (netD pack), the ModeSeeking term in model.g_terms, "
                "model.network_setup.spectral_norm: true.",
            )
        return metrics
