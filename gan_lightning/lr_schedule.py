"""The learning-rate schedule of ``model.lr_decay_start``: constant, then linear decay to zero.

Decaying both rates at the end of training is what pulls a GAN's samples onto the modes in the
2-D benchmarks (docs/mode_collapse.md): late updates become small, so G stops hopping.
"""

from lightning.pytorch import Trainer


def training_progress(trainer: Trainer) -> float:
    """The fraction of training done, in batches: ``global_step`` (which counts batches,
    gan_lightning.batch_count) over ``max_steps``, else batches over ``max_epochs``."""
    if trainer.max_steps > 0:
        return trainer.global_step / trainer.max_steps
    return trainer.fit_loop.total_batch_idx / (trainer.max_epochs * trainer.num_training_batches)


def linear_decay(progress: float, start: float) -> float:
    """1 until ``progress`` reaches ``start``, then linearly down to 0 at ``progress`` 1."""
    if start >= 1.0:
        return 1.0
    return min(1.0, max(0.0, (1.0 - progress) / (1.0 - start)))
