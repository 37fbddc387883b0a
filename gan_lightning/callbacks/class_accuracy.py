"""Per-class accuracy of a conditional GAN while it trains (gan_lightning.metrics.class_accuracy)."""

from lightning.pytorch import LightningModule, Trainer
from torch import nn

from gan_lightning.callbacks.periodic import PeriodicSampleCheck
from gan_lightning.metrics.class_accuracy import class_accuracy
from gan_lightning.metrics.classifier import load_digit_classifier


class ClassAccuracy(PeriodicSampleCheck):
    """Every ``every_n_batches`` batches and at the end of training, log ``class_accuracy/K`` for
    every class K, ``class_accuracy_min`` (the worst class: what the conditioning has to get
    right everywhere) and ``class_accuracy_mean``.

    Args:
        every_n_batches: training batches between evaluations.
        samples_per_class: samples G makes for each class per evaluation.
        classifier_path: weights of the digit classifier; None takes the shipped one.
        seed: seed of the latents, the same at every evaluation and for every class.
        classifier: any module with ``predict_proba(images) -> (N, K)`` instead (tests, other data).
    """

    def __init__(
        self,
        every_n_batches: int = 500,
        samples_per_class: int = 100,
        classifier_path: str | None = None,
        seed: int = 0,
        classifier: nn.Module | None = None,
    ) -> None:
        super().__init__(every_n_batches, samples_per_class, seed)
        self.classifier_path = classifier_path
        self.classifier = classifier

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if getattr(pl_module, "num_classes", None) is None:
            raise ValueError("ClassAccuracy needs a conditional GAN: set model.num_classes, or drop the callback.")
        if self.classifier is None:
            self.classifier = load_digit_classifier(self.classifier_path)

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """Compute the per-class accuracies once, keep them in ``history`` and return them to log."""
        accuracy = class_accuracy(pl_module, self.classifier, self.num_samples, self.seed)
        metrics = {f"class_accuracy/{k}": a for k, a in enumerate(accuracy.tolist())}
        metrics |= {"class_accuracy_min": accuracy.min().item(), "class_accuracy_mean": accuracy.mean().item()}
        self.history.append({"batch": trainer.fit_loop.total_batch_idx + 1, **metrics})
        return metrics
