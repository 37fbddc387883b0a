"""Image datamodules on data the tests write, DCGAN shapes, and bad input caught before training."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lightning.data import (
    CelebADataModule,
    CIFAR10DataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
    ShippedDigitsDataModule,
)
from gan_lightning.module import GAN
from gan_lightning.networks import AutoencoderEnergy, DCGANDiscriminator, DCGANGenerator
from tests.helpers import RandomDataModule, quiet_trainer
from tests.ondisk import cifar_files_exist, write_cifar10, write_idx_mnist


def first_batch(datamodule) -> torch.Tensor:
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    return batch[0]


def assert_images(x: torch.Tensor, shape: tuple[int, ...]) -> None:
    assert tuple(x.shape) == shape
    assert x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert x.min() < -0.9 and x.max() > 0.9, "black and white pixels should map to -1 and 1"


def write_pngs(folder: Path, n: int, size: tuple[int, int] = (40, 30)) -> None:
    """n RGB PNGs, half black half white, so the normalised range is known."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        pixels[:, size[0] // 2 :] = 255
        pixels[0, 0] = (10 * i, 0, 0)
        Image.fromarray(pixels).save(folder / f"{i}.png")


# --- datamodules -----------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
def test_image_folder_batches(tmp_path, channels):
    write_pngs(tmp_path / "any_class", 6)
    dm = ImageFolderDataModule(str(tmp_path), image_size=16, channels=channels, batch_size=4, num_workers=0)
    assert dm.sample_shape == (channels, 16, 16)
    assert_images(first_batch(dm), (4, channels, 16, 16))


@pytest.mark.parametrize("cls", [MNISTDataModule, FashionMNISTDataModule])
def test_mnist_format_batches_in_memory(tmp_path, cls):
    write_idx_mnist(tmp_path / cls.dataset_class.__name__ / "raw")
    dm = cls(str(tmp_path), image_size=32, batch_size=5)
    assert dm.sample_shape == (1, 32, 32)
    x = first_batch(dm)
    assert_images(x, (5, 1, 32, 32))
    assert dm.dataset.images.dtype == torch.uint8, "held in memory as uint8"


def test_cifar10_format_batches_in_memory(tmp_path, monkeypatch):
    import torchvision.datasets.cifar

    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", cifar_files_exist)  # MD5s of the real files
    write_cifar10(tmp_path, per_batch=2, n_test=3)
    dm = CIFAR10DataModule(str(tmp_path), image_size=32, batch_size=4)
    assert_images(first_batch(dm), (4, 3, 32, 32))
    assert len(dm.dataset) == 10 and len(dm.reference_dataset()) == 3, "five training batches; the test batch"


def test_celeba_reads_the_tutorial_layout(tmp_path):
    write_pngs(tmp_path / "celeba" / "img_align_celeba", 4, size=(178, 218))
    dm = CelebADataModule(str(tmp_path), image_size=64, batch_size=2, num_workers=0)
    assert_images(first_batch(dm), (2, 3, 64, 64))


def test_shipped_digits_shape_without_loading():
    dm = ShippedDigitsDataModule(image_size=32, batch_size=16)
    assert dm.sample_shape == (1, 32, 32)
    assert dm.data is None, "sample_shape must not parse the digits"
    assert_images(first_batch(dm), (16, 1, 32, 32))


# --- networks --------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    G = DCGANGenerator(latent_dim=8, channels=channels, image_size=size, ngf=4)
    D = DCGANDiscriminator(channels=channels, image_size=size, ndf=4)
    x = G(torch.randn(3, 8))
    assert x.shape == (3, channels, size, size)
    assert x.abs().max() < 1, "Tanh output"
    assert D(x).shape == (3,)
    energy = AutoencoderEnergy(channels=channels, image_size=size, code_dim=4, width=4)(x)
    assert energy.shape == (3,) and (energy >= 0).all()


def test_dcgan_64_is_the_tutorial_network():
    G, D = DCGANGenerator(100, 3, 64, 64), DCGANDiscriminator(3, 64, 64)
    convs = [m for m in G.main if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.stride[0], m.padding[0]) for m in convs] == [
        (100, 512, 1, 0), (512, 256, 2, 1), (256, 128, 2, 1), (128, 64, 2, 1), (64, 3, 2, 1)
    ]  # fmt: skip
    assert all(m.kernel_size == (4, 4) and m.bias is None for m in convs)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in D.main) == 3, "BatchNorm on all but the first layer"
    assert sum(p.numel() for p in G.parameters()) == 3576704  # the tutorial's netG
    assert sum(p.numel() for p in D.parameters()) == 2765568  # the tutorial's netD


# --- bad input -------------------------------------------------------------------------------
def digits_gan(channels: int = 1, image_size: int = 16) -> GAN:
    return GAN(DCGANGenerator(8, channels, image_size, 4), DCGANDiscriminator(channels, image_size, 4))


@pytest.mark.parametrize("cls", [MNISTDataModule, CIFAR10DataModule, CelebADataModule])
def test_missing_data_fails_before_training(tmp_path, cls):
    trainer = quiet_trainer(max_steps=2)
    dm = cls(str(tmp_path / "nowhere"), image_size=16)
    with pytest.raises(FileNotFoundError, match="download") as err:
        trainer.fit(digits_gan(dm.sample_shape[0]), dm)
    assert str(tmp_path / "nowhere") in str(err.value)
    assert trainer.global_step == 0


def test_empty_folder_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="No images .* sub-folders of " + str(tmp_path)):
        ImageFolderDataModule(str(tmp_path)).setup("fit")


def test_loose_images_are_told_to_move(tmp_path):
    write_pngs(tmp_path, 2)
    with pytest.raises(FileNotFoundError, match="move them into a sub-folder"):
        ImageFolderDataModule(str(tmp_path)).setup("fit")


@pytest.mark.parametrize("size", [30, 9, 100])
def test_impossible_image_size(size):
    with pytest.raises(ValueError, match=f"cannot make {size}x{size} images.*e.g. 16, 28, 32"):
        DCGANGenerator(image_size=size)
    with pytest.raises(ValueError, match=f"cannot make {size}x{size}"):
        DCGANDiscriminator(image_size=size)


def test_channel_mismatch_fails_before_training():
    trainer = quiet_trainer(max_steps=2)
    with pytest.raises(ValueError, match=r"netG makes samples of shape \(3, 16, 16\) but the data has shape \(1, 16, 16\)"):
        trainer.fit(digits_gan(channels=3), RandomDataModule(1, 16))
    assert trainer.global_step == 0


def test_discriminator_names_its_expected_shape():
    with pytest.raises(ValueError, match=r"built for inputs of shape \(1, 32, 32\).*got \(3, 32, 32\)"):
        DCGANDiscriminator(channels=1, image_size=32, ndf=4)(torch.zeros(2, 3, 32, 32))
