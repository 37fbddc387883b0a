"""NaN/inf losses are caught on the device: no host sync on the batches the loggers do
not write, the optimizer steps of a bad batch leave the weights finite, and the fit stops with the
message at the next sync point (a logged batch, a checkpoint, the end of an epoch or of training)."""

import functools
import math
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint

from gan_lightning.finite import FiniteGuard
from gan_lightning.module import logs_this_batch
from gan_lightning.networks.init import NetworkSetup
from gan_lightning.terms import BalancedConsistency, GradientPenalty, LeCam, ModeSeeking, R1, R2
from tests.helpers import quiet_trainer, toy_data, toy_gan

SYNCS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")
OPTIMIZERS = {
    "fused_adam": functools.partial(torch.optim.Adam, lr=1e-3, fused=True),
    "adam": functools.partial(torch.optim.Adam, lr=1e-3),
    "sgd": functools.partial(torch.optim.SGD, lr=1e-2, momentum=0.9),
}


class PoisonBatch(Callback):
    """Fills the real batch with NaN at ``batch_idx`` of ``epoch`` (in place, before training_step)."""

    def __init__(self, batch_idx: int, epoch: int = 0) -> None:
        self.batch_idx, self.epoch = batch_idx, epoch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch_idx:
            (batch[0] if isinstance(batch, (list, tuple)) else batch).fill_(math.nan)


def count_syncs_in_training_step(monkeypatch, model, trainer) -> list[str]:
    """Run ``trainer.fit`` and return the host syncs (Tensor method and caller) made inside the
    module's training_step on the batches the loggers do not write. The guard is forced onto its
    device path, the one a GPU takes (on a CPU it checks on the host, where no queue waits)."""
    model.finite_guard.on_device = True
    inside = [False]
    calls: list[str] = []
    for name in SYNCS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, __original=original, __name=name, **kwargs):
            if inside[0]:
                caller = sys._getframe(1).f_code
                calls.append(f"{__name} from {Path(caller.co_filename).name}:{caller.co_name}")
            return __original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    step = model.training_step

    def watched(*args, **kwargs):
        inside[0] = not logs_this_batch(trainer)
        try:
            return step(*args, **kwargs)
        finally:
            inside[0] = False

    model.training_step = watched
    trainer.fit(model, datamodule=toy_data(num_samples=16 * 12, batch_size=16))
    return calls


@pytest.mark.parametrize("optimizer", ["fused_adam", "sgd"])
def test_no_host_sync_in_training_step_between_logged_batches(monkeypatch, optimizer):
    seed_everything(0)
    opt = OPTIMIZERS[optimizer]
    model = toy_gan(optimizer_G=opt, optimizer_D=opt, n_critic=1, ema_decay=0.9, lr_decay_start=0.5)
    trainer = quiet_trainer(max_epochs=1, log_every_n_steps=100)  # logs batch 0 only: 11 silent batches
    calls = count_syncs_in_training_step(monkeypatch, model, trainer)
    assert trainer.fit_loop.total_batch_idx == 11
    assert calls == [], f"host syncs in training_step: {calls}"


def test_no_host_sync_with_every_option_on(monkeypatch):
    """A DCGAN (BatchNorm) with spectral norm, every term, EMA (with its warm-up), lr decay, n_critic 2."""
    from gan_lightning.data import ShippedDigitsDataModule
    from gan_lightning.module import GAN
    from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator

    seed_everything(0)
    opt = OPTIMIZERS["fused_adam"]
    model = GAN(DCGANGenerator(latent_dim=8, channels=1, image_size=16, ngf=4), DCGANDiscriminator(channels=1, image_size=16, ndf=4),
                optimizer_G=opt, optimizer_D=opt, d_terms=[GradientPenalty(1.0), R1(1.0), R2(1.0), LeCam(), BalancedConsistency()],
                g_terms=[ModeSeeking(0.1)], ema_decay=0.9, lr_decay_start=0.5, n_critic=2,
                network_setup=NetworkSetup(weight_init="dcgan", spectral_norm=True))  # fmt: skip
    trainer = quiet_trainer(max_steps=8, log_every_n_steps=100)
    original = trainer.fit
    trainer.fit = lambda m, datamodule: original(m, ShippedDigitsDataModule(image_size=16, batch_size=8))
    calls = count_syncs_in_training_step(monkeypatch, model, trainer)
    assert trainer.global_step == 8 and calls == [], f"host syncs in training_step: {calls}"


def test_plain_adam_syncs_only_its_host_step_counter(monkeypatch):
    """Non-fused, non-capturable Adam keeps its step count on the host and reads it with
    ``.item()`` (torch/optim): no device sync; the module itself adds none."""
    seed_everything(0)
    model = toy_gan(optimizer_G=OPTIMIZERS["adam"], optimizer_D=OPTIMIZERS["adam"])
    calls = count_syncs_in_training_step(monkeypatch, model, quiet_trainer(max_epochs=1, log_every_n_steps=100))
    assert calls and all(c.startswith("item from adam.py") or c.startswith("item from optimizer.py") for c in calls), calls


@pytest.mark.parametrize("on_device", [True, None], ids=["device_path", "cpu_host_path"])
@pytest.mark.parametrize("optimizer", ["fused_adam", "adam", "sgd"])
def test_nan_between_logged_batches_stops_at_the_next_checkpoint_with_finite_weights(tmp_path, optimizer, on_device):
    """NaN data at batch 5 (global step 5) of an unlogged stretch: the fit stops with the message
    before the checkpoint of step 6 is written; the weights in memory and on disk are finite, and
    exactly those before the bad batch with a fused optimizer (found_inf) or on the CPU host path."""
    seed_everything(0)
    opt = OPTIMIZERS[optimizer]
    model = toy_gan(optimizer_G=opt, optimizer_D=opt)
    model.finite_guard.on_device = on_device
    before_bad: dict[str, list[torch.Tensor]] = {}

    class Snapshot(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            if batch_idx == 5:
                before_bad["params"] = [p.detach().clone() for p in pl_module.parameters()]

    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=2, save_top_k=-1, save_last=True)
    trainer = quiet_trainer(max_epochs=1, log_every_n_steps=100, enable_checkpointing=True,
                            callbacks=[Snapshot(), PoisonBatch(5), checkpoint])
    with pytest.raises(FloatingPointError, match=r"loss_D is nan at global step 5 \(epoch 0\)\. No optimizer step"):
        trainer.fit(model, datamodule=toy_data(num_samples=16 * 12, batch_size=16))
    assert trainer.global_step == 6  # it ran on to the checkpoint at step 6 and stopped there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch=0-step=2.ckpt", "epoch=0-step=4.ckpt", "last.ckpt"]
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["global_step"] == 4 and all(torch.isfinite(v).all() for v in last["state_dict"].values())
    params = [p.detach() for p in model.parameters()]
    assert all(torch.isfinite(p).all() for p in params)
    same = all(torch.equal(a, b) for a, b in zip(before_bad["params"], params))
    # device path: found_inf skips the update; zeroed gradients still let momentum move the weights
    assert same == (on_device is None or optimizer == "fused_adam")


@pytest.mark.parametrize("on_device", [True, None])
def test_nan_on_a_logged_batch_stops_there(on_device):
    seed_everything(0)
    model = toy_gan()
    model.finite_guard.on_device = on_device
    trainer = quiet_trainer(max_epochs=1, log_every_n_steps=4, callbacks=[PoisonBatch(2)])
    with pytest.raises(FloatingPointError, match=r"loss_D is nan at global step 2 \(epoch 0\)"):
        trainer.fit(model, datamodule=toy_data(num_samples=16 * 12, batch_size=16))
    assert trainer.fit_loop.total_batch_idx == 3  # batch index 3 is the 4th, a logged one


def test_nan_after_the_last_logged_batch_fails_the_fit():
    seed_everything(0)
    trainer = quiet_trainer(max_steps=7, log_every_n_steps=100, callbacks=[PoisonBatch(6)])
    with pytest.raises(FloatingPointError, match=r"loss_D is nan at global step 6"):
        trainer.fit(toy_gan(), datamodule=toy_data(num_samples=16 * 12, batch_size=16))


def test_fused_adam_found_inf_skips_weights_moments_and_step_count():
    """The property the fused path relies on (torch's fused Adam, as GradScaler uses it)."""
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5))
    opt = torch.optim.Adam([p], lr=0.1, fused=True)
    p.grad = torch.randn(5)
    opt.step()
    state = {k: v.clone() for k, v in opt.state[p].items()}
    weights = p.detach().clone()
    guard = FiniteGuard(on_device=True)

    class Opt:  # stands in for LightningOptimizer
        optimizer = opt

        def step(self) -> None:
            opt.step()

    p.grad = torch.full((5,), math.nan)
    guard.step(Opt(), "loss_G", torch.tensor(math.nan), global_step=7, epoch=2)
    assert torch.equal(p.detach(), weights)
    assert all(torch.equal(v, opt.state[p][k]) for k, v in state.items())  # exp_avg, exp_avg_sq, step
    with pytest.raises(FloatingPointError, match=r"loss_G is nan at global step 7 \(epoch 2\)"):
        guard.check()


def test_host_path_skips_an_inf_step_exactly_for_any_optimizer():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5))
    opt = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.randn(5)
    opt.step()
    state = {k: v.clone() for k, v in opt.state[p].items()}
    weights = p.detach().clone()
    guard = FiniteGuard(on_device=False)
    p.grad = torch.full((5,), math.inf)
    guard.step(opt, "loss_G", torch.tensor(-math.inf), global_step=3, epoch=0)
    assert torch.equal(p.detach(), weights) and all(torch.equal(v, opt.state[p][k]) for k, v in state.items())
    with pytest.raises(FloatingPointError, match=r"loss_G is inf at global step 3 \(epoch 0\)\. No optimizer step"):
        guard.check()
