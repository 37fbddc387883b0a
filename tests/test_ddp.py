"""Two processes of DDP on the CPU (gloo): the GAN trains, ranks agree, files are written once."""

from functools import partial
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from gan_lightning.callbacks.samples import SampleGrid
from tests.helpers import quiet_trainer, toy_data, toy_gan

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


def test_two_process_ddp_trains_with_ranks_in_step(tmp_path):
    seed_everything(0)
    adam = partial(torch.optim.Adam, lr=1e-3)  # picklable, for the spawned processes
    model = toy_gan(optimizer_G=adam, optimizer_D=adam)
    trainer = quiet_trainer(
        strategy="ddp_spawn_find_unused_parameters_true",  # `ddp` re-runs pytest in the children
        devices=2,
        max_epochs=2,
        logger=CSVLogger(tmp_path, name="run"),
        enable_checkpointing=True,
        callbacks=[ModelCheckpoint(save_last=True), SampleGrid(every_n_batches=1000), SaveRankState(tmp_path)],
    )
    trainer.fit(model, datamodule=toy_data(num_samples=64, batch_size=8))  # 4 batches per rank
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0["step"] == rank1["step"] == 2 * 4 * 2  # D and G step, 4 batches, 2 epochs
    assert rank0["netG"].keys() == rank1["netG"].keys()
    for key in rank0["netG"]:
        assert torch.equal(rank0["netG"][key], rank1["netG"][key]), key
    assert torch.equal(rank0["fixed_noise"], rank1["fixed_noise"])
    assert not torch.equal(rank0["z"], rank1["z"]), "ranks must draw different latents"
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "rank0.pt", "rank1.pt",
        "run/version_0/checkpoints/epoch=1-step=16.ckpt", "run/version_0/checkpoints/last.ckpt",
        "run/version_0/hparams.yaml", "run/version_0/metrics.csv",
        "run/version_0/samples/batch_0000007.png",
    ]
    epoch_losses = (tmp_path / "run/version_0/metrics.csv").read_text().splitlines()[0]
    assert "loss_D_epoch" in epoch_losses and "loss_G_epoch" in epoch_losses
