"""Exact resume, NaN stops, and clear errors for bad checkpoints."""

import math
import os
import signal
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint

from gan_lightning.checkpoint import load_gan
from gan_lightning.cli import cli_main
from tests.helpers import quiet_trainer, toy_data, toy_gan


class LossRecorder(Callback):
    """Keeps the per-step losses that training_step returns."""

    def __init__(self) -> None:
        self.losses: list[tuple[float, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append((outputs["loss_D"].item(), outputs["loss_G"].item()))


class CrashAtEpoch(Callback):
    """Kills the run as a preempted job would die: at the start of epoch 2, after epoch 1's last.ckpt."""

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 2:
            raise RuntimeError("simulated crash")


def fit(tmp: Path, ckpt_path: str | None = None, crash: bool = False) -> tuple:
    """A seeded 4-epoch toy run (lr decaying over the second half) with last.ckpt in ``tmp``."""
    seed_everything(0)
    model, recorder = toy_gan(lr_decay_start=0.5), LossRecorder()
    trainer = quiet_trainer(
        max_epochs=4,
        enable_checkpointing=True,
        callbacks=[ModelCheckpoint(dirpath=tmp, save_last=True), recorder, *([CrashAtEpoch()] if crash else [])],
    )
    trainer.fit(model, datamodule=toy_data(), ckpt_path=ckpt_path)
    return model, recorder.losses, trainer


def test_resume_continues_the_uninterrupted_run_exactly(tmp_path):
    straight, losses, _ = fit(tmp_path / "straight")
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(tmp_path / "split", crash=True)
    resumed, resumed_losses, trainer = fit(tmp_path / "split", ckpt_path=str(tmp_path / "split" / "last.ckpt"))
    assert len(losses) == 64 and len(resumed_losses) == 32  # 16 batches an epoch; resumed at epoch 2
    assert torch.allclose(torch.tensor(resumed_losses), torch.tensor(losses[32:]), atol=1e-6, rtol=0)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    assert trainer.global_step == 64  # batches, counted across the restart


GAUSSIAN2D = str(Path(__file__).parents[1] / "configs" / "gaussian2d.yaml")


def cli_fit(tmp: Path, *extra: str) -> None:
    """``gan-lightning fit`` on 64 points of the seed-003 Gaussian (8 batches an epoch), into ``tmp``."""
    cli_main([
        "fit", "--config", GAUSSIAN2D, "--seed_everything", "0",
        "--trainer.default_root_dir", str(tmp), "--trainer.logger.init_args.save_dir", str(tmp),
        "--trainer.enable_progress_bar", "false", "--data.init_args.num_samples", "64", *extra,
    ])


class InjectNaN(Callback):
    """Poisons netD at batch 4 of the second epoch, so that loss_D becomes NaN there."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 1 and batch_idx == 4:
            with torch.no_grad():
                next(pl_module.netD.parameters()).fill_(math.nan)


def test_cli_resume_last_finds_the_previous_version_and_continues(tmp_path, capsys):
    cli_fit(tmp_path, "--trainer.max_epochs", "1")
    cli_fit(tmp_path, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert "resuming from" in capsys.readouterr().err
    resumed = torch.load(tmp_path / "version_1" / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["epoch"] == 1 and resumed["global_step"] == 2 * 8  # 8 batches an epoch


class SendSignal(Callback):
    """Sends the signal named by $GAN_TEST_SIGNAL to this process after batch 2 of the second epoch."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == 1 and batch_idx == 2:
            os.kill(os.getpid(), getattr(signal, os.environ["GAN_TEST_SIGNAL"]))


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_sigterm_and_ctrl_c_leave_a_checkpoint_to_resume_from(tmp_path, monkeypatch, capsys, signal_name):
    """Ctrl-C runs Python's own SIGINT handler (KeyboardInterrupt), installed here: a library that an
    earlier test of the suite imported may have left another one."""
    monkeypatch.setenv("GAN_TEST_SIGNAL", signal_name)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(SystemExit):
            cli_fit(tmp_path, "--trainer.max_epochs", "2", "--trainer.callbacks+=tests.test_resume.SendSignal")
    finally:
        signal.signal(signal.SIGINT, previous)
    interrupted = tmp_path / "version_0" / "checkpoints" / "interrupted.ckpt"
    assert torch.load(interrupted, weights_only=True)["global_step"] == 8 + 3
    cli_fit(tmp_path, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert f"resuming from {interrupted}" in capsys.readouterr().err
    finished = torch.load(tmp_path / "version_1" / "checkpoints" / "last.ckpt", weights_only=True)
    assert finished["global_step"] == 2 * 8


def test_nan_stops_with_step_and_loss_and_keeps_last_good_checkpoint(tmp_path):
    with pytest.raises(FloatingPointError, match=r"loss_D is nan at global step 12 \(epoch 1\)"):
        cli_fit(tmp_path, "--trainer.max_epochs", "2", "--trainer.callbacks+=tests.test_resume.InjectNaN")
    checkpoints = tmp_path / "version_0" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch=0-step=8.ckpt", "last.ckpt"]
    model = load_gan(checkpoints / "last.ckpt")
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_truncated_and_foreign_checkpoints_are_refused_before_training(tmp_path):
    cli_fit(tmp_path, "--trainer.max_epochs", "1")
    last = tmp_path / "version_0" / "checkpoints" / "last.ckpt"
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(last.read_bytes()[:2000])
    with pytest.raises(SystemExit, match="is not a readable checkpoint.*truncated"):
        cli_fit(tmp_path, "--ckpt_path", str(truncated))
    not_gan = tmp_path / "not_gan.ckpt"
    torch.save({"state_dict": {"layer.weight": torch.zeros(2)}, "hyper_parameters": {}}, not_gan)
    with pytest.raises(SystemExit, match="not a gan-lightning GAN checkpoint"):
        cli_fit(tmp_path, "--ckpt_path", str(not_gan))
    # `last` resolves to version_0's file, written for a G without hidden layers.
    with pytest.raises(SystemExit, match=r"different model than this config \(netG\.net\.0\.bias has shape \(2,\)"):
        cli_fit(tmp_path, "--ckpt_path", "last", "--model.netG.init_args.hidden", "[8]")
    assert [p.parent.name for p in tmp_path.glob("version_*/checkpoints")] == ["version_0"]  # nothing trained
