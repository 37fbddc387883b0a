"""Exact resume from any checkpoint: one stopped mid-epoch (every_n_train_steps, SIGTERM, SLURM's
requeue signal) or at an epoch end resumes the rest of the epoch's batches in the same order with
the same random states, so the final weights, EMA weights and logged losses equal those of the
run that was never stopped, bit for bit (both runs computed here)."""

import csv
import os
import signal
import stat
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from gan_lightning.cli import cli_main
from gan_lightning.terms import R1
from tests.helpers import quiet_trainer, toy_data, toy_gan

BATCHES = 16  # per epoch: 256 points in batches of 16


class LossRecorder(Callback):
    """Every batch's (epoch, batch index, loss_D, loss_G, sum of the real batch)."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.rows.append((trainer.current_epoch, batch_idx, outputs["loss_D"].item(), outputs["loss_G"].item(),
                          batch[0].sum().item()))


class CrashAtStep(Callback):
    """Dies as a preempted job would, at the start of the batch at global step (batch) ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError("simulated crash")


def logged(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """metrics.csv rows by (epoch, step), empty cells dropped."""
    with open(path) as f:
        return {(r["epoch"], r["step"]): {k: v for k, v in r.items() if v} for r in csv.DictReader(f)}


def fit(tmp: Path, limit: str, every: int | None = None, crash: int | None = None, ckpt: Path | None = None):
    """The toy GAN with an EMA G, R1 and decaying rates, 3 epochs (or 40 batches with max_steps),
    every batch logged; checkpoints every ``every`` batches and at epoch ends."""
    seed_everything(0)
    model, recorder = toy_gan(ema_decay=0.9, d_terms=[R1(1.0)], lr_decay_start=0.5), LossRecorder()
    callbacks = [ModelCheckpoint(dirpath=tmp / "ckpt", save_last=True, every_n_train_steps=every, save_top_k=-1), recorder]
    limits = {"max_epochs": 3} if limit == "epochs" else {"max_steps": 40}
    trainer = quiet_trainer(enable_checkpointing=True, logger=CSVLogger(tmp, name="run"), log_every_n_steps=1,
                            callbacks=callbacks + ([CrashAtStep(crash)] if crash is not None else []), **limits)
    if crash is None:
        trainer.fit(model, datamodule=toy_data(), ckpt_path=ckpt)
    else:
        with pytest.raises(RuntimeError, match="simulated crash"):
            trainer.fit(model, datamodule=toy_data(), ckpt_path=ckpt)
    return model, recorder.rows


@pytest.mark.parametrize("limit,every,name", [
    ("steps", 5, "epoch=1-step=20.ckpt"),  # mid-epoch: batch 4 of epoch 1
    ("epochs", 5, "epoch=1-step=20.ckpt"),
    ("steps", None, "last.ckpt"),  # the end of epoch 1 in a step-limited run
])
def test_a_checkpoint_resumes_the_uninterrupted_run_bit_for_bit(tmp_path, limit, every, name):
    straight, rows = fit(tmp_path / "straight", limit, every)
    fit(tmp_path / "split", limit, every, crash=21 if every else 2 * BATCHES)
    ckpt = tmp_path / "split" / "ckpt" / name
    saved = torch.load(ckpt, weights_only=True)
    resumed, resumed_rows = fit(tmp_path / "split", limit, every, ckpt=ckpt)

    done = saved["global_step"]  # batches before the checkpoint
    assert len(resumed_rows) == len(rows) - done > 0
    assert resumed_rows == rows[done:]  # the same batches, in the same order, with the same losses
    assert straight.state_dict().keys() == resumed.state_dict().keys()
    for key, value in straight.state_dict().items():  # netG, netD, netG_ema, fixed noise
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert any(k.startswith("netG_ema.") for k in straight.state_dict())
    before, after = logged(tmp_path / "straight/run/version_0/metrics.csv"), logged(tmp_path / "split/run/version_1/metrics.csv")
    assert after and all(before[key] == row for key, row in after.items())  # step losses and epoch means
    assert any("loss_D_epoch" in row for row in after.values())
    assert len(saved["rank_states"]) == 1 and torch.equal(saved["rank_states"][0]["rng"]["torch"], saved["rng_states"]["torch"])


GAUSSIAN2D = str(Path(__file__).parents[1] / "configs" / "gaussian2d.yaml")


def cli_fit(tmp: Path, *extra: str) -> None:
    """``gan-lightning fit`` of the seed-003 Gaussian (EMA G, R1, lr decay) on 64 points: 8
    batches an epoch, 3 epochs, every batch logged."""
    cli_main([
        "fit", "--config", GAUSSIAN2D, "--seed_everything", "0", "--trainer.max_epochs", "3",
        "--trainer.default_root_dir", str(tmp), "--trainer.logger.init_args.save_dir", str(tmp),
        "--trainer.enable_progress_bar", "false", "--data.init_args.num_samples", "64",
        "--trainer.log_every_n_steps", "1", *extra,
    ])


def assert_same_run(straight: Path, resumed_version: Path) -> None:
    """The resumed run's last.ckpt weights (EMA too) and logged rows equal the straight run's."""
    a = torch.load(straight / "version_0/checkpoints/last.ckpt", weights_only=True)
    b = torch.load(resumed_version / "checkpoints/last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 8 * 3
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    before, after = logged(straight / "version_0/metrics.csv"), logged(resumed_version / "metrics.csv")
    assert len(after) > 8 and all(before[key] == row for key, row in after.items())


class SignalAt(Callback):
    """Sends $GAN_TEST_SIGNAL to this process in batch 3 of epoch 1, between the D update and the
    G update (the D optimizer's step hook): where a preemption notice may land."""

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        is_d_step = optimizer is trainer.optimizers[1]  # [opt_G, opt_D]
        if trainer.current_epoch == 1 and trainer.fit_loop.epoch_loop.batch_idx == 3 and is_d_step:
            os.kill(os.getpid(), getattr(signal, os.environ["GAN_TEST_SIGNAL"]))


def test_sigterm_mid_epoch_resumes_exactly(tmp_path, monkeypatch, capsys):
    cli_fit(tmp_path / "straight")
    monkeypatch.setenv("GAN_TEST_SIGNAL", "SIGTERM")
    split = tmp_path / "split"
    with pytest.raises(SystemExit):
        cli_fit(split, "--trainer.callbacks+=tests.test_exact_resume.SignalAt")
    interrupted = split / "version_0/checkpoints/interrupted.ckpt"
    assert torch.load(interrupted, weights_only=True)["global_step"] == 8 + 4  # after batch 3 of epoch 1
    cli_fit(split, "--ckpt_path", "last")
    assert f"resuming from {interrupted}" in capsys.readouterr().err
    assert_same_run(tmp_path / "straight", split / "version_1")


def test_slurm_requeue_signal_saves_between_batches_and_resumes_exactly(tmp_path, monkeypatch):
    """SIGUSR1 lands between the D and the G update: the requeue checkpoint is written after the
    batch (not inside the signal handler), the job is requeued with scontrol, and the next start
    of the same command resumes from hpc_ckpt_1.ckpt by itself."""
    cli_fit(tmp_path / "straight")
    bin_dir, requeued = tmp_path / "bin", tmp_path / "requeued.txt"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" > {requeued}\n')
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    for key, value in {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "gan", "SLURM_JOB_ID": "4242", "SLURM_PROCID": "0",
                       "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "GAN_TEST_SIGNAL": "SIGUSR1"}.items():
        monkeypatch.setenv(key, value)
    split = tmp_path / "split"
    with pytest.raises(SystemExit):
        cli_fit(split, "--trainer.callbacks+=tests.test_exact_resume.SignalAt")
    assert requeued.read_text().split() == ["requeue", "4242"]
    hpc = split / "hpc_ckpt_1.ckpt"
    assert torch.load(hpc, weights_only=True)["global_step"] == 8 + 4  # the whole batch 3, D and G
    assert not (split / "version_0/checkpoints/interrupted.ckpt").exists()
    cli_fit(split)  # the requeued job: the same command, no --ckpt_path
    assert_same_run(tmp_path / "straight", split / "version_1")


@pytest.mark.slow
@pytest.mark.parametrize("strategy_name", ["separate", "unused"])
def test_two_process_ddp_resumes_mid_epoch_bit_for_bit(tmp_path, strategy_name):
    """2 processes (gloo): stopped in epoch 1, resumed from the step-15 checkpoint (batch 3 of
    that epoch): each rank serves the same batches and draws the same latents as in the
    uninterrupted run, so both ranks' losses, the weights, the EMA and the logged rows agree."""
    from tests.test_ddp import rank_states, run_ddp

    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run_ddp("resume", straight, strategy_name=strategy_name).returncode == 0
    crashed = run_ddp("resume", split, strategy_name=strategy_name, crash=17)
    assert crashed.returncode != 0 and "simulated crash" in crashed.stderr
    ckpt = split / "ckpt" / "epoch=1-step=15.ckpt"
    saved = torch.load(ckpt, weights_only=True)
    assert len(saved["rank_states"]) == 2
    assert not torch.equal(saved["rank_states"][0]["rng"]["torch"], saved["rank_states"][1]["rng"]["torch"])
    done = run_ddp("resume", split, strategy_name=strategy_name, ckpt=str(ckpt))
    assert done.returncode == 0, done.stderr[-3000:]

    for rank in (0, 1):
        rows = torch.load(straight / f"rank{rank}_losses.pt")
        resumed_rows = torch.load(split / f"rank{rank}_losses.pt")
        assert len(rows) == 36 and resumed_rows == rows[15:], rank  # batches 15-35, same data and latents
    (a0, a1), (b0, b1) = rank_states(straight), rank_states(split)
    assert a0["step"] == b0["step"] == 36  # batches
    for key, value in a0["state_dict"].items():  # netG, netD, netG_ema
        assert torch.equal(value, b0["state_dict"][key]), key
        assert torch.equal(a1["state_dict"][key], b1["state_dict"][key]), key
    before, after = logged(straight / "run/version_0/metrics.csv"), logged(split / "run/version_1/metrics.csv")
    assert len(after) > 20 and all(before[key] == row for key, row in after.items())
