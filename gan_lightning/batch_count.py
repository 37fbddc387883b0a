"""``trainer.global_step`` counts batches: one unit for a run's length.

Lightning counts every optimizer step in ``trainer.global_step``. A GAN steps D every batch and
G every ``n_critic``-th batch, so ``max_steps`` would count D and G steps together and change its
meaning with ``n_critic``. The module steps G inside ``uncounted``, so that ``global_step``,
``max_steps``, ``ModelCheckpoint(every_n_train_steps)``, checkpoint names and the learning-rate
schedule all count batches (one D step each), as the loggers' step axis and the progress bar do.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from lightning.pytorch.core.optimizer import LightningOptimizer, do_nothing_closure


@contextmanager
def uncounted(optimizer: LightningOptimizer) -> Iterator[None]:
    """Steps of ``optimizer`` inside are not counted in ``trainer.global_step``: Lightning's manual
    loop counts them through the optimizer's ``_on_before_step``/``_on_after_step`` hooks, which
    are emptied here and put back after."""
    hooks = optimizer._on_before_step, optimizer._on_after_step
    optimizer._on_before_step = optimizer._on_after_step = do_nothing_closure
    try:
        yield
    finally:
        optimizer._on_before_step, optimizer._on_after_step = hooks
