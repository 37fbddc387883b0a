"""Each diagnostic fires (once, naming pitfall and remedy) on a run built to fail and stays
quiet on a healthy one."""

import math
import warnings

import pytest
import torch
from lightning.pytorch import seed_everything
from torch import Tensor, nn

from gan_lightning.callbacks.classes import ClassCoverage
from gan_lightning.callbacks.health import TrainingHealth
from gan_lightning.callbacks.modes import ModeCoverage
from gan_lightning.data import RingDataModule, TensorDataModule
from gan_lightning.networks import MLPDiscriminator, MLPGenerator
from tests.conftest import learning_seed
from tests.helpers import quiet_trainer, toy_gan


def adam(lr: float):
    return lambda params: torch.optim.Adam(params, lr=lr)


def train_health(loss: str, lr_D: float, lr_G: float, batches: int, n_critic: int = 1) -> TrainingHealth:
    seed_everything(learning_seed(0))
    health = TrainingHealth(window=30, patience=30)
    gan = toy_gan(
        loss=loss,
        n_critic=n_critic,
        optimizer_D=adam(lr_D),
        optimizer_G=adam(lr_G),
        netG=MLPGenerator(latent_dim=2, out_shape=[2], hidden=[16]),
        netD=MLPDiscriminator(in_shape=[2], hidden=[32, 32], activation="leaky_relu"),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_trainer(max_steps=batches, callbacks=[health]).fit(gan, RingDataModule(num_samples=3200, batch_size=32))
    health.messages = [str(w.message) for w in caught if str(w.message).startswith("[")]
    return health


@pytest.fixture(scope="module")
def strong_d_runs() -> dict[str, TrainingHealth]:
    """The same too-strong D (10x G's lr, 5 D steps per G step) under both G losses."""
    return {loss: train_health(loss, lr_D=1e-2, lr_G=1e-4, batches=300, n_critic=5) for loss in ("minimax", "non_saturating")}


@pytest.mark.learning
def test_minimax_with_a_strong_d_reports_vanishing_gradients_and_d_overpowering(strong_d_runs, record_learning):
    health = strong_d_runs["minimax"]
    record_learning(seed=learning_seed(0), fired=sorted(health.fired))
    assert {"vanishing gradients", "D overpowering"} <= health.fired
    # one warning per pitfall, naming it and a remedy
    assert sum("[vanishing gradients]" in m for m in health.messages) == 1
    assert any("[D overpowering]" in m and "spectral_norm" in m for m in health.messages)
    assert any("non_saturating" in m for m in health.messages if "[vanishing" in m)


@pytest.mark.learning
def test_non_saturating_loss_keeps_g_gradients_under_the_same_strong_d(strong_d_runs, record_learning):
    health = strong_d_runs["non_saturating"]
    record_learning(seed=learning_seed(0), fired=sorted(health.fired))
    assert "D overpowering" in health.fired
    assert "vanishing gradients" not in health.fired


@pytest.mark.learning
def test_huge_learning_rates_report_oscillation(record_learning):
    health = train_health("non_saturating", lr_D=0.5, lr_G=0.5, batches=40)
    record_learning(seed=learning_seed(0), fired=sorted(health.fired))
    assert "oscillation" in health.fired


@pytest.mark.learning
def test_healthy_run_is_quiet_and_logs_the_scalars(record_learning):
    seed_everything(learning_seed(0))
    health = TrainingHealth(window=30, patience=30)
    trainer = quiet_trainer(max_steps=100, callbacks=[health])
    gan = toy_gan(
        optimizer_D=adam(1e-3),
        optimizer_G=adam(1e-3),
        netG=MLPGenerator(latent_dim=2, out_shape=[2], hidden=[16]),
        netD=MLPDiscriminator(in_shape=[2], hidden=[32, 32], activation="leaky_relu"),
    )
    trainer.fit(gan, RingDataModule(num_samples=3200, batch_size=32))
    record_learning(seed=learning_seed(0), fired=sorted(health.fired))
    assert health.fired == set()
    logged = trainer.callback_metrics
    for name in ("grad_norm_G", "grad_norm_D", "loss_G_std", "loss_D_std", "D_x_mean", "D_G_z_mean"):
        assert math.isfinite(logged[f"health/{name}"])
    assert logged["health/grad_norm_G"] > 0


class RingSampler(nn.Module):
    """A generator that already covers the ring: the angle of z picks the mode."""

    latent_dim = 2

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, z: Tensor) -> Tensor:
        k = ((torch.atan2(z[:, 1], z[:, 0]) + math.pi) / (2 * math.pi) * 8).long().clamp(max=7)
        angle = 2 * math.pi * k / 8
        return torch.stack([angle.cos(), angle.sin()], 1) + 0.005 * torch.tanh(z) + 0 * self.unused


def fit_with_modes(netG: nn.Module, tmp_path) -> ModeCoverage:
    seed_everything(0)
    modes = ModeCoverage(every_n_batches=10, num_samples=500)
    gan = toy_gan(netG=netG, optimizer_G=adam(0.0))
    quiet_trainer(max_steps=25, callbacks=[modes], default_root_dir=tmp_path).fit(
        gan, RingDataModule(num_samples=1000, batch_size=50)
    )
    return modes


def test_mode_coverage_flags_collapse_and_draws_the_scatter(tmp_path):
    collapsed = MLPGenerator(latent_dim=2, out_shape=[2], hidden=[8])  # untrained: one blob
    with pytest.warns(UserWarning, match=r"\[mode collapse\] G covers \d of 8 modes.*pack"):
        modes = fit_with_modes(collapsed, tmp_path)
    assert modes.history[-1]["modes_covered"] < 6
    assert [h["batch"] for h in modes.history] == [10, 20, 25]  # every 10 batches and at the end
    assert len(list((tmp_path / "modes").glob("*.png"))) == 3


def test_mode_coverage_is_quiet_on_a_generator_that_covers_the_ring(tmp_path):
    modes = fit_with_modes(RingSampler(), tmp_path)
    assert modes.fired == set()
    last = modes.history[-1]
    assert last["modes_covered"] == 8 and last["hq_fraction"] == 1.0 and last["reverse_kl"] < 0.05
    assert last["diversity"] > 0.8


def test_mode_coverage_needs_modes():
    with pytest.raises(ValueError, match="needs mode centres"):
        quiet_trainer(max_steps=1, callbacks=[ModeCoverage()]).fit(toy_gan(), TinyImages())


class TinyImages(TensorDataModule):
    """256 random 1x4x4 'images'."""

    def __init__(self) -> None:
        super().__init__(batch_size=32)

    def make_data(self) -> Tensor:
        return torch.randn(256, 1, 4, 4, generator=torch.Generator().manual_seed(0))


class ArgmaxClassifier(nn.Module):
    """A stand-in for the digit classifier: the class is the brightest of the first 10 pixels."""

    def predict_proba(self, x: Tensor) -> Tensor:
        return x.flatten(1)[:, :10].softmax(dim=1)


def fit_images(weight_scale: float) -> ClassCoverage:
    seed_everything(0)
    netG = MLPGenerator(latent_dim=16, out_shape=[1, 4, 4])  # one Linear
    nn.init.eye_(netG.net[0].weight)
    netG.net[0].weight.data *= weight_scale
    callback = ClassCoverage(every_n_batches=4, num_samples=200, classifier=ArgmaxClassifier())
    netD = MLPDiscriminator(in_shape=[1, 4, 4], hidden=[8])
    quiet_trainer(max_steps=8, callbacks=[callback]).fit(
        toy_gan(netG=netG, netD=netD, optimizer_G=adam(0.0)), TinyImages()
    )
    return callback


def test_class_coverage_flags_a_collapsed_image_generator():
    with pytest.warns(UserWarning, match=r"\[mode collapse\] G makes 10% of the classes"):
        callback = fit_images(weight_scale=0.0)  # every z gives the same image
    assert callback.history[-1]["class_coverage"] == pytest.approx(0.1)
    assert callback.history[-1]["class_kl"] == pytest.approx(math.log(10))
    assert callback.history[-1]["diversity"] < 0.01


def test_class_coverage_is_quiet_on_a_diverse_generator():
    callback = fit_images(weight_scale=1.0)  # G(z) = z: as spread as the data
    assert callback.fired == set()
    assert callback.history[-1]["class_coverage"] == 1.0
    assert callback.history[-1]["diversity"] == pytest.approx(1.0, abs=0.15)


def test_periodic_check_values_land_on_the_batch_axis_of_the_losses(tmp_path):
    """Every 3rd batch (index 2) and once at the end (index 4, the last of 5 batches): the same
    step axis as the losses, not Lightning's optimizer-step count (2 per batch)."""
    import pandas as pd
    from lightning.pytorch.loggers import CSVLogger

    seed_everything(0)
    callback = ModeCoverage(every_n_batches=3, num_samples=64, plot=False)
    trainer = quiet_trainer(max_steps=5, logger=CSVLogger(tmp_path, name=""), log_every_n_steps=1, callbacks=[callback])
    trainer.fit(toy_gan(netG=MLPGenerator(latent_dim=2, out_shape=[2], hidden=[8])), RingDataModule(num_samples=160, batch_size=32))
    metrics = pd.read_csv(tmp_path / "version_0" / "metrics.csv")
    assert sorted(metrics.dropna(subset=["modes_covered"])["step"]) == [2, 4]
    assert sorted(metrics.dropna(subset=["loss_D"])["step"]) == [0, 1, 2, 3, 4]
