"""Mixed precision, channels-last and compiled networks give the fp32 losses, within tolerance."""

import pytest
import torch
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.plugins.precision import MixedPrecision

from gan_lightning.module import GAN
from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator
from gan_lightning.networks.init import NetworkSetup
from tests.helpers import RandomDataModule, quiet_trainer, toy_data, toy_gan

STEPS = 3


class LossRecorder(Callback):
    """The losses of each batch, as training_step returns them."""

    def __init__(self) -> None:
        self.losses: list[tuple[float, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append((float(outputs["loss_D"]), float(outputs["loss_G"])))


def small_dcgan(**setup) -> GAN:
    adam = lambda p: torch.optim.Adam(p, lr=2e-4, betas=(0.5, 0.999))  # noqa: E731
    netG, netD = DCGANGenerator(16, 1, 32, 4), DCGANDiscriminator(1, 32, 4)
    return GAN(netG, netD, optimizer_G=adam, optimizer_D=adam, network_setup=NetworkSetup(weight_init="dcgan", **setup))


def seeded_losses(make_gan, plugins=None, **trainer_kwargs) -> tuple[list[tuple[float, float]], GAN]:
    seed_everything(0)
    gan, recorder = make_gan(), LossRecorder()
    trainer = quiet_trainer(max_steps=STEPS, callbacks=[recorder], plugins=plugins, **trainer_kwargs)
    data = RandomDataModule(1, 32, num_samples=64, batch_size=16) if isinstance(gan.netG, DCGANGenerator) else toy_data()
    trainer.fit(gan, data)
    return recorder.losses, gan


@pytest.fixture(scope="module")
def dcgan_fp32_losses() -> list[tuple[float, float]]:
    return seeded_losses(small_dcgan)[0]


def test_bf16_mixed_losses_close_to_fp32_and_both_networks_train(dcgan_fp32_losses):
    ref = dcgan_fp32_losses
    losses, gan = seeded_losses(small_dcgan, precision="bf16-mixed")
    assert len(losses) == STEPS
    # bf16 keeps 8 bits of mantissa: the losses agree to a few percent, not to fp32 rounding.
    assert torch.tensor(losses) == pytest.approx(torch.tensor(ref), rel=0.05)
    seed_everything(0)
    fresh = small_dcgan()
    for net in ("netG", "netD"):
        start, end = getattr(fresh, net).parameters(), getattr(gan, net).parameters()
        assert any(not torch.equal(a, b) for a, b in zip(start, end)), f"{net} did not train"


def test_fp16_grad_scaler_steps_both_optimizers_like_fp32():
    """Lightning 2.6 turns ``16-mixed`` into bf16 on CPU, so pass its fp16 plugin (with a
    GradScaler) directly: the loss scaling, unscaling and the scaler's step and update then run
    for both optimizers as they do on a GPU. SGD, unlike Adam, would take a 2**16 times larger
    step from gradients left scaled."""
    sgd = lambda p: torch.optim.SGD(p, lr=0.05)  # noqa: E731
    make = lambda: toy_gan(optimizer_G=sgd, optimizer_D=sgd)  # noqa: E731
    ref, _ = seeded_losses(make)
    plugin = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu", init_scale=2.0**10))
    losses, gan = seeded_losses(make, plugins=[plugin])
    assert plugin.scaler is not None and plugin.scaler.get_scale() == 2.0**10  # no step skipped
    assert torch.tensor(losses) == pytest.approx(torch.tensor(ref), rel=0.01)
    assert all(torch.isfinite(p).all() for p in gan.parameters())


def test_channels_last_matches_fp32_and_keeps_the_format(dcgan_fp32_losses):
    ref = dcgan_fp32_losses
    losses, gan = seeded_losses(lambda: small_dcgan(channels_last=True))
    assert torch.tensor(losses) == pytest.approx(torch.tensor(ref), rel=1e-4)
    conv = next(m for m in gan.netD.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_compiled_networks_match_eager_and_keep_checkpoint_keys():
    ref, eager = seeded_losses(toy_gan)
    # aot_eager runs the whole capture path (dynamo graphs, AOTAutograd's joint forward and
    # backward) without inductor's C++ code generation, which takes minutes on a busy 2-core CPU.
    losses, gan = seeded_losses(lambda: toy_gan(network_setup=NetworkSetup(compile="aot_eager")))
    assert torch.tensor(losses) == pytest.approx(torch.tensor(ref), rel=1e-4)
    assert gan.netG._compiled_call_impl is not None
    assert gan.state_dict().keys() == eager.state_dict().keys()
