"""gan-lightning: a PyTorch Lightning research template for GANs."""

from gan_lightning.module import GAN

__all__ = ["GAN"]
