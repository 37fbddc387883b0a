"""Datamodules. Each has ``sample_shape`` so that the GAN can check its networks at setup."""

from gan_lightning.data.base import TensorDataModule
from gan_lightning.data.digits import ShippedDigitsDataModule, load_shipped_digits
from gan_lightning.data.images import (
    CelebADataModule,
    CIFAR10DataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
)
from gan_lightning.data.stacked import StackedDigitsDataModule
from gan_lightning.data.toy import GaussianDataModule, GridDataModule, MixtureDataModule, RingDataModule

__all__ = [
    "CelebADataModule",
    "CIFAR10DataModule",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "GaussianDataModule",
    "GridDataModule",
    "MixtureDataModule",
    "RingDataModule",
    "ShippedDigitsDataModule",
    "StackedDigitsDataModule",
    "TensorDataModule",
    "load_shipped_digits",
]
