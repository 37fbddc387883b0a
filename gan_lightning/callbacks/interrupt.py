"""A checkpoint when training is interrupted (Ctrl-C, SIGTERM), to resume from with --ckpt_path last."""

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

INTERRUPTED_NAME = "interrupted.ckpt"


class InterruptCheckpoint(Callback):
    """Save ``interrupted.ckpt`` beside this run's ``last.ckpt`` when the run is interrupted.

    Lightning turns SIGTERM into a ``SIGTERMException`` at the next batch and Ctrl-C into a
    ``KeyboardInterrupt``; both reach ``on_exception``. Lightning's own ``OnExceptionCheckpoint``
    is not used because it saves on *every* exception (a NaN stop or a config error would leave a
    checkpoint that ``--ckpt_path last`` then prefers) and, being a ``Checkpoint``, it switches off
    the default ``ModelCheckpoint``. Without a ``ModelCheckpoint`` (checkpointing off) it does nothing.
    """

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)) or trainer.global_step == 0:
            return
        dirs = [cb.dirpath for cb in trainer.checkpoint_callbacks if isinstance(cb, ModelCheckpoint) and cb.dirpath]
        if dirs:
            trainer.save_checkpoint(Path(dirs[0]) / INTERRUPTED_NAME, weights_only=False)  # full state
