"""Two processes of DDP on the CPU (gloo): the GAN trains, ranks agree, files are written once."""

import json
import math
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from gan_lightning.callbacks.samples import SampleGrid
from gan_lightning.strategies import SeparateDDPStrategy
from tests.helpers import quiet_trainer, toy_data, toy_gan

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.slow  # spawns processes: seconds each, not milliseconds


class SaveRankState(Callback):
    """Each rank writes the netG weights and fixed noise it ends with, to compare them across ranks."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_end(self, trainer, pl_module) -> None:
        state = {
            "netG": pl_module.netG.state_dict(),
            "fixed_noise": pl_module.fixed_noise,
            "step": trainer.global_step,
            "z": pl_module.draw_latent(4),  # each rank's own random stream
        }
        torch.save(state, self.out / f"rank{trainer.global_rank}.pt")


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["one_wrapper", "separate"])
def test_two_process_ddp_trains_with_ranks_in_step(tmp_path, strategy):
    seed_everything(0)
    adam = partial(torch.optim.Adam, lr=1e-3)  # picklable, for the spawned processes
    model = toy_gan(optimizer_G=adam, optimizer_D=adam)
    trainer = quiet_trainer(
        # spawn: `ddp`'s subprocess launcher would re-run pytest in the children
        strategy="ddp_spawn_find_unused_parameters_true" if strategy == "one_wrapper" else SeparateDDPStrategy(start_method="spawn"),
        devices=2,
        max_epochs=2,
        logger=CSVLogger(tmp_path, name="run"),
        enable_checkpointing=True,
        callbacks=[ModelCheckpoint(save_last=True), SampleGrid(every_n_batches=1000), SaveRankState(tmp_path)],
    )
    trainer.fit(model, datamodule=toy_data(num_samples=64, batch_size=8))  # 4 batches per rank
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0["step"] == rank1["step"] == 4 * 2  # batches: 4 a rank and epoch, 2 epochs
    assert rank0["netG"].keys() == rank1["netG"].keys()
    for key in rank0["netG"]:
        assert torch.equal(rank0["netG"][key], rank1["netG"][key]), key
    assert torch.equal(rank0["fixed_noise"], rank1["fixed_noise"])
    assert not torch.equal(rank0["z"], rank1["z"]), "ranks must draw different latents"
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "rank0.pt", "rank1.pt",
        "run/version_0/checkpoints/epoch=1-step=8.ckpt", "run/version_0/checkpoints/last.ckpt",
        "run/version_0/hparams.yaml", "run/version_0/metrics.csv",
        "run/version_0/samples/batch_0000007.png",
    ]
    epoch_losses = (tmp_path / "run/version_0/metrics.csv").read_text().splitlines()[0]
    assert "loss_D_epoch" in epoch_losses and "loss_G_epoch" in epoch_losses


# --- SeparateDDPStrategy: netG and netD in their own DDP wrappers -----------------------------

def run_ddp(kind: str, out: Path, timeout: int = 240, **args) -> subprocess.CompletedProcess:
    """``python -m tests.ddp_runs`` (2 processes, Lightning's subprocess launcher) under
    ``timeout``: a rank left waiting in a collective makes the test fail, not hang."""
    cmd = ["timeout", "-k", "10", str(timeout), sys.executable, "-m", "tests.ddp_runs", kind, str(out), json.dumps(args)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 124, f"{kind} {args} hung (killed after {timeout} s):\n{done.stderr[-3000:]}"
    return done


def rank_states(out: Path) -> list[dict]:
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


@pytest.mark.slow
@pytest.mark.parametrize("options", [
    {"d_terms": [["GradientPenalty", 1.0]]},  # WGAN-GP: a double backward through D's wrapper
    {"n_critic": 2, "d_terms": [["GradientPenalty", 1.0], ["R1", 1.0]], "g_terms": [["ModeSeeking", 0.5]],
     "loss": "wasserstein"},  # G idle on odd batches
])
def test_separate_wrappers_train_like_one_wrapper(tmp_path, options):
    """Same seeds, 6 batches on 2 processes: G, D and EMA weights, checkpoint keys and FID equal
    those of Lightning's one-wrapper ``ddp_find_unused_parameters_true``."""
    runs = {}
    for name in ("separate", "unused"):
        done = run_ddp("digits", tmp_path / name, strategy_name=name, **options)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[name] = rank_states(tmp_path / name)
    new, old = runs["separate"][0], runs["unused"][0]
    assert new["wrapped"] == ["netD", "netG"] and old["wrapped"] == []
    assert new["sync_buffers"] == {"netG": False, "netD": False}
    assert new["step"] == old["step"] == 6  # batches
    assert new["state_dict"].keys() == old["state_dict"].keys()
    assert not any(".module." in k for k in new["state_dict"] if not k.startswith("netG_ema.")), "keys gained .module."
    for key, value in new["state_dict"].items():
        torch.testing.assert_close(value, old["state_dict"][key], rtol=1e-5, atol=1e-6, msg=key)
    ema, g = new["state_dict"]["netG_ema.module.main.0.weight"], new["state_dict"]["netG.main.0.weight"]
    assert not torch.equal(ema, g), "the EMA must lag the weights it averages"
    for key in new["state_dict"]:  # parameters agree across ranks (running statistics are per rank)
        if "running" not in key and "num_batches" not in key:
            assert torch.equal(new["state_dict"][key], runs["separate"][1]["state_dict"][key]), key
    fid_new, fid_old = new["metrics"]["val/fid_digits_val64_gen64"], old["metrics"]["val/fid_digits_val64_gen64"]
    assert math.isfinite(fid_new) and abs(fid_new - fid_old) <= 1e-4 * fid_old
    ckpts = sorted(p.name for p in (tmp_path / "separate/run/version_0/checkpoints").iterdir())
    assert ckpts == ["epoch=0-step=6.ckpt", "last.ckpt"]
    saved = torch.load(tmp_path / "separate/run/version_0/checkpoints/last.ckpt", weights_only=False)["state_dict"]
    assert saved.keys() == new["state_dict"].keys()
    assert len(list((tmp_path / "separate/run/version_0/samples").glob("batch_*.png"))) == 1  # the final grid, rank 0


def test_separate_strategy_refuses_the_unused_parameter_search():
    with pytest.raises(ValueError, match="find_unused_parameters"):
        SeparateDDPStrategy(find_unused_parameters=True)
    with pytest.raises(ValueError, match="static_graph"):
        SeparateDDPStrategy(static_graph=True)


def test_cli_defaults_of_ddp_arguments_do_not_override_sync_buffers():
    """LightningCLI passes every DDP argument behind **kwargs, mostly as None."""
    strategy = SeparateDDPStrategy(broadcast_buffers=None, forward_sync_buffers=None, static_graph=False,
                                   find_unused_parameters=False, bucket_cap_mb=None, gradient_as_bucket_view=True)
    assert strategy._ddp_kwargs == {"static_graph": False, "gradient_as_bucket_view": True}
    assert strategy.sync_buffers == {"netG": False, "netD": False}


# --- a NaN on one rank stops every rank ------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("strategy_name,fused,on_device", [("separate", False, True), ("unused", True, None)])
def test_nan_on_one_rank_stops_every_rank_with_the_same_message(tmp_path, strategy_name, fused, on_device):
    """Rank 1 alone gets a NaN batch (batch 5, global step 5) between logged batches: both ranks
    raise the same FloatingPointError at the next checkpoint (step 6), which is not written; the
    last checkpoint on disk is step 4's, finite. Were rank 1 to raise alone, rank 0 would die in
    gloo ("Connection closed by peer"), or on NCCL wait in the next all-reduce."""
    done = run_ddp("nan", tmp_path, timeout=180, strategy_name=strategy_name, fused=fused, on_device=on_device)
    assert done.returncode != 0
    errors = [(tmp_path / f"rank{r}.err").read_text() for r in (0, 1)]
    expected = (
        "FloatingPointError: loss_D is nan at global step 5 (epoch 0) on rank 1 of 2 (every rank stopped). "
        "No optimizer step applied it and no checkpoint was written after it."
    )
    assert errors[0] == errors[1] and errors[0].startswith(expected), errors
    assert errors[0].endswith("global_step=6\n")  # stopped one batch after the NaN, at the checkpoint
    assert "loss_D is nan at global step 5" in done.stderr
    ckpts = tmp_path / "run/version_0/checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["epoch=0-step=2.ckpt", "epoch=0-step=4.ckpt", "last.ckpt"]
    last = torch.load(ckpts / "last.ckpt", weights_only=True)
    assert last["global_step"] == 4 and all(torch.isfinite(v).all() for v in last["state_dict"].values())
