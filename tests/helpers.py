"""Small builders shared by the tests."""

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

from gan_lightning.data import GaussianDataModule, TensorDataModule
from gan_lightning.module import GAN
from gan_lightning.networks import MLPDiscriminator, MLPGenerator
from gan_lightning.terms import StepContext


def toy_gan(**kwargs) -> GAN:
    """A small 2-D GAN with an 8-unit G (so that G has hidden layers to check) and seed 003's D."""
    kwargs.setdefault("optimizer_G", lambda p: torch.optim.Adam(p, lr=1e-3))
    kwargs.setdefault("optimizer_D", lambda p: torch.optim.Adam(p, lr=1e-3))
    netG = kwargs.pop("netG", None) or MLPGenerator(latent_dim=2, out_shape=[2], hidden=[8])
    netD = kwargs.pop("netD", None) or MLPDiscriminator(in_shape=[2], hidden=[5, 3], pack=kwargs.pop("pack", 1))
    return GAN(netG, netD, **kwargs)


def quiet_trainer(**kwargs) -> Trainer:
    """A CPU Trainer that writes nothing and prints little."""
    defaults = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return Trainer(**{**defaults, **kwargs})


def toy_data(**kwargs) -> GaussianDataModule:
    return GaussianDataModule(**{"num_samples": 256, "batch_size": 16, **kwargs})


class RandomDataModule(TensorDataModule):
    """Uniform noise in [-1, 1] of images (channels, image_size, image_size): stands in for image
    data that is not on disk. Its ``image_size`` makes the CLI size the networks from it."""

    def __init__(self, channels: int = 1, image_size: int = 28, num_samples: int = 16, batch_size: int = 8) -> None:
        super().__init__(batch_size=batch_size)
        self.shape = (channels, image_size, image_size)
        self.num_samples = num_samples

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return self.shape

    def make_data(self) -> torch.Tensor:
        return torch.rand(self.num_samples, *self.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1


class ShiftedGLossGAN(GAN):
    """A fork's GAN subclass, chosen in YAML (``model: {class_path: tests.helpers.ShiftedGLossGAN}``):
    its G loss is the parent's plus a constant, which shows in the logged loss_G."""

    def g_loss(self, ctx: StepContext) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, values = super().g_loss(ctx)
        return loss + 100.0, values


def write_random_inception_weights(path: Path, seed: int = 0) -> Path:
    """torch-fidelity's Inception-v3 with seeded random weights, saved where a weights file goes: the
    file format ``inception_weights_path`` and torch's hub cache expect (the real weights cannot be
    downloaded here)."""
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        torch.manual_seed(seed)
        net = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path
