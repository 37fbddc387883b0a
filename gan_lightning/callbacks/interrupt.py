"""Checkpoints when training is stopped from outside, to resume from exactly where it stopped:
``interrupted.ckpt`` on Ctrl-C or SIGTERM, and under SLURM's auto-requeue ``hpc_ckpt_N.ckpt`` at
the batch boundary after the requeue signal."""

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

INTERRUPTED_NAME = "interrupted.ckpt"


class InterruptCheckpoint(Callback):
    """Save ``interrupted.ckpt`` beside this run's ``last.ckpt`` when the run is interrupted, and
    under SLURM write the requeue checkpoint between two batches instead of inside the signal.

    Lightning turns SIGTERM into a ``SIGTERMException`` at the next batch and Ctrl-C into a
    ``KeyboardInterrupt``; both reach ``on_exception``. Lightning's own ``OnExceptionCheckpoint``
    is not used because it saves on *every* exception (a NaN stop or a config error would leave a
    checkpoint that ``--ckpt_path last`` then prefers) and, being a ``Checkpoint``, it switches off
    the default ``ModelCheckpoint``. Without a ``ModelCheckpoint`` (checkpointing off) it does nothing.

    SLURM (``#SBATCH --signal=SIGUSR1@90``, Lightning's auto-requeue on): Lightning's own handler
    saves ``hpc_ckpt_N.ckpt`` inside the signal handler, wherever the step is (between the D and
    the G update, say), so the resumed run would not be the uninterrupted one. This callback takes
    the signal first (Lightning then adds no handler of its own), and at the end of the batch in
    which any rank got it (every rank agrees: one all-reduce of a flag per batch under DDP, only
    under SLURM) calls Lightning's save-and-requeue (``hpc_ckpt_N.ckpt`` in ``default_root_dir``,
    ``scontrol requeue`` on rank 0) and stops the run. The requeued job resumes from that file by
    itself (Lightning looks there when no ``--ckpt_path`` is given).
    """

    def __init__(self) -> None:
        self._requeue_signal: signal.Signals | None = None
        self._previous_handler: Any = None
        self._requeue_requested = False
        self._saved_for_requeue = False

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        env = trainer._accelerator_connector.cluster_environment  # what Lightning's signal handling reads
        if (
            stage != "fit"
            or not isinstance(env, SLURMEnvironment)
            or not env.auto_requeue
            or threading.current_thread() is not threading.main_thread()
            or not hasattr(signal, "SIGUSR1")
        ):
            return
        self._requeue_signal = env.requeue_signal or signal.SIGUSR1
        self._requeue_requested = self._saved_for_requeue = False
        self._previous_handler = signal.signal(self._requeue_signal, self._on_requeue_signal)

    def _on_requeue_signal(self, signum: int, frame: FrameType | None) -> None:
        self._requeue_requested = True  # acted on between batches: on_train_batch_end

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if self._requeue_signal is None:
            return
        requested = self._requeue_requested
        if trainer.world_size > 1:  # the same batch on every rank, whichever got the signal when
            requested = trainer.strategy.reduce_boolean_decision(requested, all=False)
        if requested:
            # Lightning's SLURM handler: finalize loggers, save hpc_ckpt_N.ckpt, requeue (rank 0)
            trainer._signal_connector._slurm_sigusr_handler_fn(self._requeue_signal, None)
            self._saved_for_requeue = True
            raise SIGTERMException  # stop here, as Lightning stops on SIGTERM; on_exception saves nothing more

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._restore_signal_handler()

    def _restore_signal_handler(self) -> None:
        if self._requeue_signal is not None:
            signal.signal(self._requeue_signal, self._previous_handler)
            self._requeue_signal = None

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._restore_signal_handler()  # Lightning calls no teardown hook after an exception
        if (
            not isinstance(exception, (KeyboardInterrupt, SIGTERMException))
            or trainer.global_step == 0
            or self._saved_for_requeue
        ):
            return
        dirs = [cb.dirpath for cb in trainer.checkpoint_callbacks if isinstance(cb, ModelCheckpoint) and cb.dirpath]
        if dirs:
            trainer.save_checkpoint(Path(dirs[0]) / INTERRUPTED_NAME, weights_only=False)  # full state
