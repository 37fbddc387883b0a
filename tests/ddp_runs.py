"""Multi-process fits for tests/test_ddp.py, run as ``python -m tests.ddp_runs KIND OUT [JSON]`` in a
subprocess under ``timeout``, so a regression that hangs a rank fails the test instead of hanging it.

They use Lightning's subprocess launcher (``ddp``, as ``gan-lightning fit`` does), which re-runs
this command for rank 1: inside pytest it would re-run pytest. ``ddp_spawn`` cannot be used with
EMA: ``AveragedModel``'s ``get_ema_multi_avg_fn`` closure does not pickle."""

import functools
import json
import sys
from pathlib import Path

import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from gan_lightning.callbacks.metrics import MetricsCallback
from gan_lightning.callbacks.samples import SampleGrid
from gan_lightning.data import GaussianDataModule, ShippedDigitsDataModule
from gan_lightning import terms
from gan_lightning.latent import Latent
from gan_lightning.module import GAN
from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from gan_lightning.networks.init import NetworkSetup


class SaveRankState(Callback):
    """Each rank writes its final weights (G, D, EMA) and the logged metrics."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_end(self, trainer: Trainer, pl_module: GAN) -> None:
        state = {
            "state_dict": pl_module.state_dict(),
            "step": trainer.global_step,
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()},
            "wrapped": sorted(pl_module.__dict__.get("ddp_wrappers", {})),
            "sync_buffers": {  # forward_sync_buffers from torch 2.14, broadcast_buffers before
                name: getattr(w, "forward_sync_buffers", getattr(w, "broadcast_buffers", None))
                for name, w in pl_module.__dict__.get("ddp_wrappers", {}).items()
            },
        }
        torch.save(state, self.out / f"rank{trainer.global_rank}.pt")


def digit_gan(d_terms: list = (("GradientPenalty", 1.0),), g_terms: list = (), **kwargs) -> GAN:
    """A tiny 16 px DCGAN (BatchNorm in G and D) with EMA and, by default, a gradient penalty
    (double backward); terms are given as (class name in gan_lightning.terms, weight) pairs."""
    adam = functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999))
    kwargs = {"ema_decay": 0.9, "network_setup": NetworkSetup(weight_init="dcgan"), "optimizer_G": adam,
              "optimizer_D": adam, "latent": Latent(num_fixed=16), **kwargs,
              "d_terms": [getattr(terms, name)(weight) for name, weight in d_terms],
              "g_terms": [getattr(terms, name)(weight) for name, weight in g_terms]}
    return GAN(DCGANGenerator(latent_dim=8, channels=1, image_size=16, ngf=8),
               DCGANDiscriminator(channels=1, image_size=16, ndf=8), **kwargs)


def strategy(name: str):
    if name == "separate":
        from gan_lightning.strategies import SeparateDDPStrategy

        return SeparateDDPStrategy()
    return "ddp_find_unused_parameters_true"


class RecordLosses(Callback):
    """Each rank writes every batch's (epoch, batch index, loss_D, loss_G, real batch sum) at the end."""

    def __init__(self, out: Path) -> None:
        self.out, self.rows = out, []

    def on_train_batch_end(self, trainer: Trainer, pl_module: GAN, outputs, batch, batch_idx: int) -> None:
        self.rows.append((trainer.current_epoch, batch_idx, outputs["loss_D"].item(), outputs["loss_G"].item(),
                          batch[0].sum().item()))

    def on_train_end(self, trainer: Trainer, pl_module: GAN) -> None:
        torch.save(self.rows, self.out / f"rank{trainer.global_rank}_losses.pt")


class CrashAtStep(Callback):
    """Every rank dies at the start of the batch at global step (batch) ``step``, as a preempted job."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: Trainer, pl_module: GAN, batch, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError("simulated crash")


def fit_resume(out: Path, strategy_name: str = "separate", crash: int | None = None, ckpt: str | None = None) -> None:
    """The 2-D toy (EMA G, R1, decaying rates) on 2 processes, 3 epochs of 12 batches per rank,
    every batch logged, a checkpoint every 5 batches; dies at batch ``crash`` or resumes
    from ``ckpt``."""
    seed_everything(0)
    adam = functools.partial(torch.optim.Adam, lr=1e-3)
    model = GAN(MLPGenerator(latent_dim=2, out_shape=[2], hidden=[8]), MLPDiscriminator(in_shape=[2], hidden=[5, 3]),
                optimizer_G=adam, optimizer_D=adam, ema_decay=0.9, d_terms=[terms.R1(1.0)], lr_decay_start=0.5)
    callbacks = [ModelCheckpoint(dirpath=out / "ckpt", save_last=True, every_n_train_steps=5, save_top_k=-1),
                 RecordLosses(out), SaveRankState(out)]
    trainer = Trainer(
        accelerator="cpu", devices=2, strategy=strategy(strategy_name), max_epochs=3,
        logger=CSVLogger(out, name="run"), log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
        callbacks=callbacks + ([CrashAtStep(crash)] if crash is not None else []),
    )
    trainer.fit(model, GaussianDataModule(num_samples=2 * 8 * 12, batch_size=8), ckpt_path=ckpt)


class PoisonRank(Callback):
    """Serves a NaN batch on one rank only (fills it in place before training_step)."""

    def __init__(self, rank: int, batch_idx: int) -> None:
        self.rank, self.batch_idx = rank, batch_idx

    def on_train_batch_start(self, trainer: Trainer, pl_module: GAN, batch, batch_idx: int) -> None:
        if trainer.global_rank == self.rank and batch_idx == self.batch_idx:
            (batch[0] if isinstance(batch, (list, tuple)) else batch).fill_(float("nan"))


class RecordException(Callback):
    """Each rank writes the exception that stopped it, to check that every rank stopped, and why."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def on_exception(self, trainer: Trainer, pl_module: GAN, exception: BaseException) -> None:
        text = f"{type(exception).__name__}: {exception}\nglobal_step={trainer.global_step}\n"
        (self.out / f"rank{trainer.global_rank}.err").write_text(text)


def fit_nan(
    out: Path, strategy_name: str, rank: int = 1, batch_idx: int = 5, fused: bool = False, on_device: bool | None = None
) -> None:
    """The 2-D toy on 2 processes, a NaN batch on ``rank`` at ``batch_idx``, checkpoints every
    2 batches, the loggers' batches far apart (so the checkpoint is the first sync point)."""
    seed_everything(0)
    adam = functools.partial(torch.optim.Adam, lr=1e-3, fused=fused)
    model = GAN(MLPGenerator(latent_dim=2, out_shape=[2], hidden=[8]), MLPDiscriminator(in_shape=[2], hidden=[5, 3]),
                optimizer_G=adam, optimizer_D=adam)
    model.finite_guard.on_device = on_device  # True: the path a GPU takes; None on a CPU: the host path
    trainer = Trainer(
        accelerator="cpu", devices=2, strategy=strategy(strategy_name), max_epochs=1,
        logger=CSVLogger(out, name="run"), log_every_n_steps=100, enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[ModelCheckpoint(save_last=True, every_n_train_steps=2, save_top_k=-1),
                   PoisonRank(rank, batch_idx), RecordException(out)],
    )
    trainer.fit(model, GaussianDataModule(num_samples=2 * 8 * 12, batch_size=8))  # 12 batches per rank


def fit_digits(out: Path, strategy_name: str, steps: int = 6, **model_kwargs) -> None:
    """``steps`` batches on 2 CPU processes with EMA, GP, grids, FID and checkpoints."""
    seed_everything(0)
    model = digit_gan(**model_kwargs)
    trainer = Trainer(
        accelerator="cpu", devices=2, strategy=strategy(strategy_name), max_steps=steps,
        logger=CSVLogger(out, name="run"), log_every_n_steps=2, enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[
            ModelCheckpoint(save_last=True, every_n_train_steps=2),
            SampleGrid(every_n_batches=1000),
            MetricsCallback(num_samples=64, metrics=["fid"], every_n_epochs=None, cache_dir=None, batch_size=32),
            SaveRankState(out),
        ],
    )
    trainer.fit(model, ShippedDigitsDataModule(image_size=16, batch_size=8))


if __name__ == "__main__":
    kind, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    if kind == "digits":
        fit_digits(out, **args)
    elif kind == "nan":
        fit_nan(out, **args)
    elif kind == "resume":
        fit_resume(out, **args)
    else:
        raise SystemExit(f"unknown run kind {kind!r}")
