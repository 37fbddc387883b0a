"""Generators and discriminators. A generator has ``latent_dim`` and maps (N, latent_dim) to
(N, *sample_shape); a discriminator maps (N, *sample_shape) to N raw outputs."""

from gan_lightning.networks.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_lightning.networks.energy import AutoencoderEnergy
from gan_lightning.networks.maxout import MaxoutDiscriminator
from gan_lightning.networks.mlp import MLPDiscriminator, MLPGenerator
from gan_lightning.networks.resnet import ResNetDiscriminator, ResNetGenerator
from gan_lightning.networks.unrolled_mnist import UnrolledMNISTDiscriminator, UnrolledMNISTGenerator

__all__ = [
    "AutoencoderEnergy",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MaxoutDiscriminator",
    "MLPGenerator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "UnrolledMNISTDiscriminator",
    "UnrolledMNISTGenerator",
]
