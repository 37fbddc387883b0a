"""Class-conditional GANs (model.num_classes): labels reach G and D, G depends on them, the
unconditional GAN is unchanged, and misconfigurations fail with the fix in the message."""

import pytest
import torch
from lightning.pytorch import Callback, seed_everything

from gan_lightning.callbacks.samples import SampleGrid
from gan_lightning.data import ShippedDigitsDataModule, TensorDataModule
from gan_lightning.data.digits import load_digits_split
from gan_lightning.latent import Latent
from gan_lightning.module import GAN
from gan_lightning.networks.init import NetworkSetup
from gan_lightning.terms import GradientPenalty, R1
from gan_lightning.networks import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
)
from tests.helpers import RandomDataModule, quiet_trainer


class TwoClassData(TensorDataModule):
    """16 px noise images labelled 0 or 1 only, for a GAN of 3 classes: class 2 never appears."""

    def make_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        return torch.rand(32, 1, 16, 16, generator=g) * 2 - 1, torch.arange(32) % 2


def small_cgan(**kwargs) -> GAN:
    torch.manual_seed(0)
    return GAN(DCGANGenerator(8, 1, 16, 4, num_classes=3), DCGANDiscriminator(1, 16, 4, num_classes=3),
               num_classes=3, latent=Latent(num_fixed=7), **kwargs)  # fmt: skip


def test_projection_gradient_reaches_the_embeddings_of_the_labels_given():
    torch.manual_seed(0)
    for netD in (DCGANDiscriminator(1, 16, 4, num_classes=3), ResNetDiscriminator(1, 28, 8, num_classes=3),
                 MLPDiscriminator([1, 16, 16], [8], num_classes=3)):  # fmt: skip
        x = torch.randn(4, *([1, 28, 28] if isinstance(netD, ResNetDiscriminator) else [1, 16, 16]))
        netD(x, torch.tensor([0, 0, 1, 1])).sum().backward()
        spectral = hasattr(netD.embed, "parametrizations")  # sigma of the whole table: every row gets a gradient
        embed = netD.embed.parametrizations.weight.original if spectral else netD.embed.weight
        row_norms = embed.grad.norm(dim=1)
        assert (row_norms[:2] > 1e-4).all() and (spectral or row_norms[2] == 0), type(netD).__name__


def test_training_sends_the_batch_labels_to_g_and_d():
    """Only the classes in the data (0 and 1 of 3) move G's conditional BN embedding and D's."""
    seed_everything(0)
    gan = small_cgan()
    cbn = gan.netG.main[1]
    g_embed0, embed0 = cbn.embed.weight.detach().clone(), gan.netD.embed.weight.detach().clone()
    quiet_trainer(max_steps=2).fit(gan, TwoClassData(batch_size=8))
    g_moved = (cbn.embed.weight - g_embed0).abs().sum(dim=1)
    d_moved = (gan.netD.embed.weight - embed0).abs().sum(dim=1)
    assert (g_moved[:2] > 1e-4).all() and g_moved[2] == 0
    assert (d_moved[:2] > 1e-4).all() and d_moved[2] == 0


def test_generator_output_depends_on_the_label():
    torch.manual_seed(0)
    z = torch.randn(4, 8)
    for netG in (DCGANGenerator(8, 1, 16, 4, num_classes=3), ResNetGenerator(8, 1, 28, 8, num_classes=3),
                 MLPGenerator(8, [1, 16, 16], [16], num_classes=3)):  # fmt: skip
        for module in netG.modules():  # conditional BN starts as the plain BN: give the classes their own gains
            if hasattr(module, "gain"):
                torch.nn.init.normal_(module.gain, 0.0, 0.5)
        netG.eval()
        a, b = netG(z, torch.zeros(4, dtype=torch.long)), netG(z, torch.ones(4, dtype=torch.long))
        assert (a - b).abs().mean() > 1e-2, type(netG).__name__
        assert torch.equal(a, netG(z, torch.zeros(4, dtype=torch.long)))


def test_conditional_batch_norm_starts_as_the_plain_one():
    torch.manual_seed(0)
    plain = DCGANGenerator(8, 1, 16, 4)
    torch.manual_seed(0)
    conditional = DCGANGenerator(8, 1, 16, 4, num_classes=3)
    conditional.load_state_dict(plain.state_dict(), strict=False)  # the convs: same weights
    z = torch.randn(6, 8)
    assert torch.allclose(plain(z), conditional(z, torch.tensor([0, 1, 2, 0, 1, 2])), atol=1e-6)


class RecordLosses(Callback):
    def __init__(self) -> None:
        self.values: list[tuple[float, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.values.append((outputs["loss_D"].item(), outputs["loss_G"].item()))


def seeded_losses(build, data, steps: int) -> list[tuple[float, float]]:
    seed_everything(0)
    gan, record = build(), RecordLosses()
    quiet_trainer(max_steps=steps, callbacks=[record]).fit(gan, data)
    assert "fixed_labels" not in gan.state_dict() and not any("embed" in k or "gain" in k or "shift" in k for k in gan.state_dict())
    return record.values


class DigitImagesOnly(TensorDataModule):
    """The shipped train digits without their labels: batches of images alone."""

    def __init__(self, image_size: int) -> None:
        super().__init__(batch_size=8)
        self.image_size = image_size

    def make_data(self) -> torch.Tensor:
        return load_digits_split("train", self.image_size)[0]


@pytest.mark.parametrize("case", ["dcgan_r1", "resnet"])
def test_unconditional_gans_ignore_the_labels_the_digits_yield(case):
    """num_classes None: the digits' (image, label) batches give bit for bit the losses of the
    same images served alone (both runs here, in this process), with no class layers built."""
    build, image_size = {
        "dcgan_r1": (lambda: GAN(DCGANGenerator(8, 1, 16, 4), DCGANDiscriminator(1, 16, 4), d_terms=[R1(1.0)],
                                 network_setup=NetworkSetup(weight_init="dcgan"), latent=Latent(num_fixed=16)), 16),
        "resnet": (lambda: GAN(ResNetGenerator(8, 1, 28, 8), ResNetDiscriminator(1, 28, 8), latent=Latent(num_fixed=16)), 28),
    }[case]  # fmt: skip
    with_labels = seeded_losses(build, ShippedDigitsDataModule(image_size, batch_size=8), 3)
    images_only = seeded_losses(build, DigitImagesOnly(image_size), 3)
    assert len(with_labels) == 3 and with_labels == images_only


def test_fixed_grid_is_one_row_per_class_with_shared_latents_and_is_saved():
    gan = small_cgan()
    assert gan.fixed_labels.tolist() == [0, 0, 1, 1, 2, 2]  # 7 // 3 = 2 per class
    assert torch.equal(gan.fixed_noise[:2], gan.fixed_noise[2:4]) and not torch.equal(gan.fixed_noise[0], gan.fixed_noise[1])
    assert {"fixed_noise", "fixed_labels"} <= gan.state_dict().keys()
    image = SampleGrid(nrow=8).draw(gan)
    assert image.shape == (3 * 18 + 2, 2 * 18 + 2, 3)  # 3 rows of 2 images of 16 px, 2 px padding


def test_gradient_penalties_and_ema_run_with_labels():
    seed_everything(0)
    gan = small_cgan(d_terms=[GradientPenalty(10.0), R1(1.0)], ema_decay=0.9)
    quiet_trainer(max_steps=2).fit(gan, TwoClassData(batch_size=8))
    samples = gan.sample(5, torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 16, 16) and samples.isfinite().all()


def test_conditional_gan_without_labels_in_the_data_says_how_to_fix_it():
    seed_everything(0)
    with pytest.raises(ValueError, match="data yields no labels.*ShippedDigitsDataModule.*num_classes: null"):
        quiet_trainer(max_steps=1).fit(small_cgan(), RandomDataModule(1, 16, batch_size=8))


def test_labels_beyond_num_classes_are_refused_on_the_first_batch():
    torch.manual_seed(0)
    gan = GAN(DCGANGenerator(8, 1, 16, 4, num_classes=2), DCGANDiscriminator(1, 16, 4, num_classes=2), num_classes=2)

    class ThreeClassData(TwoClassData):
        def make_data(self):
            images, labels = super().make_data()
            return images, labels * 2  # 0 and 2

    with pytest.raises(ValueError, match=r"labels in 0\.\.2 but model.num_classes is 2"):
        quiet_trainer(max_steps=1).fit(gan, ThreeClassData(batch_size=8))


def test_networks_must_be_built_for_the_gans_num_classes():
    with pytest.raises(ValueError, match="netD .* was built with num_classes=None: build both networks with num_classes=3"):
        GAN(DCGANGenerator(8, 1, 16, 4, num_classes=3), DCGANDiscriminator(1, 16, 4), num_classes=3)
    with pytest.raises(ValueError, match="netG .* was built with num_classes=3"):
        GAN(DCGANGenerator(8, 1, 16, 4, num_classes=3), DCGANDiscriminator(1, 16, 4))
    with pytest.raises(ValueError, match="cannot pack"):
        GAN(MLPGenerator(2, [2], num_classes=3), MLPDiscriminator([2], pack=2, num_classes=3), num_classes=3)
    with pytest.raises(ValueError, match=r"needs labels: call it as net\(x, labels\)"):
        small_cgan().generate(torch.randn(2, 8))
    with pytest.raises(ValueError, match="unconditional .* was given labels"):
        DCGANGenerator(8, 1, 16, 4)(torch.randn(2, 8), torch.zeros(2, dtype=torch.long))


def test_fid_features_of_a_conditional_gan_come_from_balanced_labels():
    from gan_lightning.metrics.evaluator import GANEvaluator
    from gan_lightning.metrics.protocol import EvalProtocol

    gan = small_cgan()
    evaluator = GANEvaluator(EvalProtocol("digits", num_samples=6), batch_size=4, cache_dir=None)
    features = evaluator.fake_features(gan)
    z = gan.draw_latent(6, torch.Generator().manual_seed(0))
    expected = evaluator.extract(gan.generate(z, labels=torch.tensor([0, 1, 2, 0, 1, 2])))
    assert torch.equal(features, expected)
