"""Exact resume, NaN stops, and clear errors for bad checkpoints (issue 7)."""

import math
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint

from gan_lightning.checkpoint import load_gan
from tests.helpers import quiet_trainer, toy_data, toy_gan


class LossRecorder(Callback):
    """Keeps the per-step losses that the module logs."""

    def __init__(self) -> None:
        self.losses: list[tuple[float, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        metrics = trainer.callback_metrics
        self.losses.append((metrics["loss_D"].item(), metrics["loss_G"].item()))


def fit(tmp: Path, max_epochs: int, ckpt_path: str | None = None, **model_kwargs) -> tuple:
    """A seeded toy run with last.ckpt in ``tmp``, as the same command line would make it."""
    seed_everything(0)
    model, recorder = toy_gan(**model_kwargs), LossRecorder()
    trainer = quiet_trainer(
        max_epochs=max_epochs,
        enable_checkpointing=True,
        callbacks=[ModelCheckpoint(dirpath=tmp, save_last=True), recorder],
    )
    trainer.fit(model, datamodule=toy_data(), ckpt_path=ckpt_path)
    return model, recorder.losses, trainer


def test_resume_continues_the_uninterrupted_run_exactly(tmp_path):
    straight, losses, _ = fit(tmp_path / "straight", max_epochs=4)
    fit(tmp_path / "split", max_epochs=2)
    resumed, resumed_losses, trainer = fit(tmp_path / "split", max_epochs=4, ckpt_path=str(tmp_path / "split" / "last.ckpt"))
    assert len(losses) == 64 and len(resumed_losses) == 32
    assert torch.allclose(torch.tensor(resumed_losses), torch.tensor(losses[32:]), atol=1e-6, rtol=0)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    assert trainer.global_step == 128  # two optimizer steps per batch, counted across the restart
