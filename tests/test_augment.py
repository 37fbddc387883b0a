"""DiffAugment: differentiable, the identity when empty, and each transform's statistics as in
the official implementation."""

import pytest
import torch

from gan_lightning.augment import AUGMENTATIONS, DiffAugment, cutout_mask, translate


def test_unknown_policy_names_the_valid_ones():
    with pytest.raises(ValueError) as err:
        DiffAugment("translation,flip")
    assert "'flip'" in str(err.value) and "color, translation, cutout" in str(err.value)


def test_empty_policy_is_the_identity():
    x = torch.randn(4, 3, 8, 8)
    assert DiffAugment("")(x) is x


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_gradient_reaches_the_input(policy):
    torch.manual_seed(0)
    x = torch.randn(8, 3, 16, 16, requires_grad=True)
    DiffAugment(policy)(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # What the transform keeps of the input gets gradient 2 * output * d(output)/dx != 0.
    assert (x.grad != 0).float().mean() > 0.5


def test_a_fixed_seed_gives_the_same_augmentation_whatever_the_images():
    """Real and fake batches go through one instance; the draws depend on the stream, not the
    pixels, so with the same seed both get the same transform family and parameters."""
    augment = DiffAugment("color,translation,cutout")
    real, fake = torch.ones(16, 3, 32, 32), torch.full((16, 3, 32, 32), 0.5)
    torch.manual_seed(3)
    a = augment(real)
    torch.manual_seed(3)
    b = augment(real)
    torch.manual_seed(3)
    c = augment(fake)
    assert torch.equal(a, b)
    assert torch.equal(a == 0, c == 0)  # the same cut and shifted-in border on both batches
    assert not torch.equal(a[0] == 0, a[1] == 0)  # but a different one per sample


def test_translate_moves_content_by_minus_the_shift_and_fills_with_zero():
    x = torch.arange(1, 26, dtype=torch.float).view(1, 1, 5, 5)
    out = translate(x, torch.tensor([1]), torch.tensor([-2]))
    assert out.shape == x.shape
    assert torch.equal(out[0, 0, :4, 2:], x[0, 0, 1:, :3])  # pixel (i, j) <- (i + 1, j - 2)
    assert out[0, 0, 4].abs().sum() == 0 and out[0, 0, :, :2].abs().sum() == 0


def test_random_translation_shifts_at_most_an_eighth_and_keeps_shape():
    torch.manual_seed(0)
    x = torch.ones(2000, 1, 32, 32)
    out = AUGMENTATIONS["translation"](x)
    assert out.shape == x.shape
    empty_rows = (out[:, 0].sum(dim=2) == 0).sum(dim=1)  # rows shifted in from outside
    assert empty_rows.max() == 4  # 32 // 8
    # shifts uniform on -4..4, so |shift| averages 20/9 = 2.22 rows
    assert abs(empty_rows.float().mean().item() - 20 / 9) < 0.1


def test_cutout_zeroes_the_official_fraction():
    """A half-side square centred uniformly on 0..32 covers 456/33 of 32 rows on average per
    axis, so 18.65% of the pixels; never more than a quarter."""
    torch.manual_seed(0)
    out = AUGMENTATIONS["cutout"](torch.ones(4000, 3, 32, 32))
    cut = (out == 0).float().mean(dim=(1, 2, 3))
    assert abs(cut.mean().item() - (456 / 33 / 32) ** 2) < 0.005
    assert cut.max().item() == 0.25
    assert torch.equal(out[:, 0] == 0, out[:, 2] == 0)  # the same square in every channel


def test_cutout_mask_clips_at_the_border():
    mask = cutout_mask((8, 8), torch.tensor([0]), torch.tensor([7]), (4, 4))[0, 0]
    expected = torch.ones(8, 8, dtype=torch.bool)
    expected[0:2, 5:8] = False  # rows -2..1 and columns 5..8, clipped to the image
    assert torch.equal(mask, expected)


def test_color_draws_brightness_and_contrast_per_sample():
    torch.manual_seed(0)
    x = torch.zeros(4000, 1, 4, 4)
    out = AUGMENTATIONS["color"](x)
    # A constant image only gets the brightness offset U(-0.5, 0.5): mean 0, variance 1/12.
    offsets = out[:, 0, 0, 0]
    assert torch.allclose(out, offsets.view(-1, 1, 1, 1).expand_as(out))
    assert abs(offsets.mean().item()) < 0.02 and abs(offsets.var().item() - 1 / 12) < 0.005
    torch.manual_seed(0)
    y = torch.randn(4000, 3, 4, 4)
    spread = AUGMENTATIONS["color"](y).std(dim=(1, 2, 3)) / y.std(dim=(1, 2, 3))
    # saturation x U(0, 2) then contrast x U(0.5, 1.5) scale the spread by at most 3
    assert spread.max() <= 3 and spread.min() < 0.5 and spread.std() > 0.3


def test_the_gan_augments_every_image_d_sees_and_g_still_gets_gradients():
    from gan_lightning.module import GAN
    from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(0)
    gan = GAN(DCGANGenerator(8, 1, 16, 4), DCGANDiscriminator(1, 16, 4), diffaugment="translation,cutout")
    x = torch.randn(4, 1, 16, 16)
    torch.manual_seed(1)
    augmented = gan.discriminate(x)
    torch.manual_seed(1)
    assert torch.equal(augmented, gan.netD(gan.augment(x)).reshape(-1))  # D sees the augmented batch
    assert not torch.allclose(augmented, gan.netD(x).reshape(-1))
    fake = gan.netG(torch.randn(4, 8))
    gan.objective.g_loss(gan.discriminate(fake), augmented.detach()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.netG.parameters() if p.dim() > 1)
    assert GAN(DCGANGenerator(8, 1, 16, 4), DCGANDiscriminator(1, 16, 4)).augment(x) is x  # no policy: identity
