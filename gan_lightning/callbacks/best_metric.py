"""Keep the checkpoint with the best FID (or another MetricsCallback metric) seen while training.

A GAN's last generator is often not its best, so the one to keep is chosen by a metric. The
metric's logged name carries the protocol and depends on the data (``val/fid_digits_val500_gen5k``
on the default experiment, ``val/fid_inception_test5k_gen5k`` on CIFAR-10), so a plain
``ModelCheckpoint(monitor=...)`` needs the name spelt per experiment, and a wrong one only warns.
This ModelCheckpoint asks the run's MetricsCallback for the name at setup, and saves right after
each of its evaluations (mid-epoch ones included), so the checkpoint holds the generator that was
scored. configs/callbacks/metrics.yaml stacks both on any experiment.
"""

from typing import Literal

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from gan_lightning.callbacks.metrics import MetricsCallback

MonitoredMetric = Literal["fid", "kid", "precision", "recall", "density", "coverage"]
LOWER_IS_BETTER = ("fid", "kid")


class BestMetricCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` on a metric of the run's ``MetricsCallback``, checked at each evaluation.

    Args:
        metric: "fid" or "kid" (lower is better), or "precision", "recall", "density", "coverage"
            (higher is better; "prdc" must then be among the MetricsCallback's metrics).
        save_top_k: how many of the best checkpoints to keep.
        filename: checkpoint file name pattern (default ``best_{metric}-{step}``: best_fid-step=930.ckpt).
        dirpath: where to save (default: the run's checkpoints/ folder, beside last.ckpt).
        verbose: print each time the best changes.
    """

    def __init__(
        self,
        metric: MonitoredMetric = "fid",
        save_top_k: int = 1,
        filename: str | None = None,
        dirpath: str | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(
            dirpath=dirpath,
            filename=filename or f"best_{metric}-{{step}}",
            monitor=f"val/{metric}",  # a placeholder until setup asks the MetricsCallback for the full name
            mode="min" if metric in LOWER_IS_BETTER else "max",
            save_top_k=save_top_k,
            every_n_epochs=0,  # no schedule of its own: it saves when the metrics were just computed
            verbose=verbose,
        )
        self.metric = metric
        self._metrics: MetricsCallback | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Take the monitored name from the MetricsCallback (set up before: Lightning runs checkpoint callbacks last)."""
        super().setup(trainer, pl_module, stage)
        found = [c for c in trainer.callbacks if isinstance(c, MetricsCallback)]
        if len(found) != 1:
            raise ValueError(
                f"BestMetricCheckpoint keeps the checkpoint with the best MetricsCallback {self.metric!r}, and the "
                f"trainer has {len(found)} MetricsCallbacks: add exactly one (configs/callbacks/metrics.yaml has both)."
            )
        self._metrics = found[0]
        self.monitor = found[0].logged_name(self.metric)

    def save_if_just_evaluated(self, trainer: Trainer) -> None:
        """Save (if among the best) when the MetricsCallback evaluated this batch and nothing was saved at it yet."""
        if self._metrics is None or self._metrics.last_evaluated_batch != trainer.fit_loop.total_batch_idx:
            return
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: object) -> None:
        self.save_if_just_evaluated(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.save_if_just_evaluated(trainer)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.save_if_just_evaluated(trainer)  # the MetricsCallback's evaluation at fit's end
        super().on_train_end(trainer, pl_module)
