"""SNGAN's ResNet generator and discriminator (Miyato et al. 2018, the CIFAR-10 architecture).

Layer for layer the Chainer reference (pfnet-research/sngan_projection, gen_models/resnet_32.py
and dis_models/snresnet_32.py, unconditional), whose CIFAR-10 widths are ngf 256 and ndf 128:

* G: z -> Linear -> 4x4xngf -> 3 up-blocks (BN, ReLU, nearest x2, conv3x3, BN, ReLU, conv3x3;
  shortcut nearest x2 + conv1x1) -> BN, ReLU, conv3x3, tanh.
* D: optimized block (conv3x3, ReLU, conv3x3, avgpool; shortcut avgpool + conv1x1) -> a down
  block -> two plain blocks (ReLU, conv3x3, ReLU, conv3x3; identity shortcut) -> ReLU ->
  sum over the 8x8 map -> Linear(ndf, 1) without bias. Spectral norm on every layer of D.

Weights start as in the reference: Glorot-uniform with gain sqrt(2) in the residual convs,
gain 1 in the shortcuts, the Linear layers and G's output conv; biases 0.

Other sizes keep the widths and change the number of x2 blocks: 64 px has one more (G from 4x4),
28 px (MNIST) one fewer (G from 7x7). D's two plain blocks always run at twice G's first side:
8x8 for 32 and 64 px, 14x14 for 28 px.
"""

import math

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_lightning.networks.conditional import batch_norm, check_labels, projection, projection_embedding
from gan_lightning.networks.layers import check_image_input

# image_size: (side of G's first map, number of up-blocks in G); D mirrors it.
LAYOUTS: dict[int, tuple[int, int]] = {28: (7, 2), 32: (4, 3), 64: (4, 4)}


def resnet_layout(image_size: int) -> tuple[int, int]:
    """(bottom side, number of x2 blocks), or a ValueError that names the sizes that work."""
    if image_size not in LAYOUTS:
        raise ValueError(
            f"The SNGAN ResNet cannot make {image_size}x{image_size} images: it is built for "
            f"image_size in {sorted(LAYOUTS)}. Set image_size on both networks and the datamodule "
            "to one of them (the datamodules resize)."
        )
    return LAYOUTS[image_size]


def _conv(n_in: int, n_out: int, kernel: int, gain: float) -> nn.Conv2d:
    conv = nn.Conv2d(n_in, n_out, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


def _up(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GeneratorBlock(nn.Module):
    """BN, ReLU, nearest x2, conv3x3, BN, ReLU, conv3x3, plus nearest x2 + conv1x1 of the input;
    with ``num_classes`` both BNs are conditional (the reference's conditional G block)."""

    def __init__(self, n_in: int, n_out: int, num_classes: int | None = None) -> None:
        super().__init__()
        self.bn1, self.bn2 = batch_norm(n_in, num_classes), batch_norm(n_out, num_classes)
        self.c1, self.c2 = _conv(n_in, n_out, 3, math.sqrt(2)), _conv(n_out, n_out, 3, math.sqrt(2))
        self.c_sc = _conv(n_in, n_out, 1, 1.0)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is None:
            h = self.c1(_up(F.relu(self.bn1(x))))
            h = self.c2(F.relu(self.bn2(h)))
        else:
            h = self.c1(_up(F.relu(self.bn1(x, labels))))
            h = self.c2(F.relu(self.bn2(h, labels)))
        return h + self.c_sc(_up(x))


class DiscriminatorBlock(nn.Module):
    """ReLU, conv3x3, ReLU, conv3x3 [, avgpool], plus the input through conv1x1 [+ avgpool] when
    the block downsamples or changes width, else unchanged. ``optimized`` is D's first block,
    which sees the image itself: no ReLU before the first conv, and its shortcut pools first."""

    def __init__(self, n_in: int, n_out: int, down: bool, optimized: bool = False) -> None:
        super().__init__()
        self.down, self.optimized = down, optimized
        self.c1 = spectral_norm(_conv(n_in, n_out if optimized else n_in, 3, math.sqrt(2)))
        self.c2 = spectral_norm(_conv(n_out if optimized else n_in, n_out, 3, math.sqrt(2)))
        learnable = down or n_in != n_out
        self.c_sc = spectral_norm(_conv(n_in, n_out, 1, 1.0)) if learnable else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.c2(F.relu(self.c1(x if self.optimized else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.c_sc is None:
            return h + x
        if self.optimized:
            return h + self.c_sc(F.avg_pool2d(x, 2))
        s = self.c_sc(x)
        return h + (F.avg_pool2d(s, 2) if self.down else s)


class ResNetGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, image_size, image_size) in (-1, 1).

    Args:
        latent_dim: size of z (the paper: 128).
        channels: image channels: 1 for digits, 3 for colour.
        image_size: 28, 32 or 64.
        ngf: width of every block (the paper's CIFAR-10 G: 256).
        num_classes: makes G(z, y) class-conditional through conditional BatchNorm in every
            block and before the output conv. None: the unconditional G.
    """

    def __init__(
        self, latent_dim: int = 128, channels: int = 3, image_size: int = 32, ngf: int = 256, num_classes: int | None = None
    ) -> None:
        super().__init__()
        self.bottom, n_up = resnet_layout(image_size)
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        self.ngf = ngf
        self.num_classes = num_classes
        self.linear = nn.Linear(latent_dim, self.bottom**2 * ngf)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.blocks = nn.Sequential(*(GeneratorBlock(ngf, ngf, num_classes) for _ in range(n_up)))
        self.bn = batch_norm(ngf, num_classes)
        self.out = _conv(ngf, channels, 3, 1.0)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = check_labels(labels, self.num_classes, z.shape[0], "ResNetGenerator")
        h = self.linear(z.reshape(z.shape[0], self.latent_dim)).view(-1, self.ngf, self.bottom, self.bottom)
        if labels is None:
            return self.out(F.relu(self.bn(self.blocks(h)))).tanh()
        for block in self.blocks:
            h = block(h, labels)
        return self.out(F.relu(self.bn(h, labels))).tanh()


class ResNetDiscriminator(nn.Module):
    """Images (N, channels, image_size, image_size) -> N raw scores, spectral norm built in.

    Every Conv2d and the Linear are wrapped in ``torch.nn.utils.parametrizations.spectral_norm``,
    so ``model.network_setup.spectral_norm`` is not needed (and leaves them as they are).

    Args:
        channels: image channels.
        image_size: 28, 32 or 64.
        ndf: width of every block (the paper's CIFAR-10 D: 128).
        pack: PacGAN packing degree; D then takes ``channels * pack`` channels. Must equal the
            GAN module's ``pack``.
        num_classes: makes D(x, y) a projection discriminator on the pooled features, with a
            spectrally normalised class embedding as in the reference's SNResNetProjectionDiscriminator.
            None: the unconditional D.
    """

    def __init__(
        self, channels: int = 3, image_size: int = 32, ndf: int = 128, pack: int = 1, num_classes: int | None = None
    ) -> None:
        super().__init__()
        _, n_up = resnet_layout(image_size)
        self.pack = pack  # the GAN module reads it
        self.in_shape = (channels * pack, image_size, image_size)
        blocks: list[nn.Module] = [DiscriminatorBlock(channels * pack, ndf, down=True, optimized=True)]
        blocks += [DiscriminatorBlock(ndf, ndf, down=True) for _ in range(n_up - 2)]
        blocks += [DiscriminatorBlock(ndf, ndf, down=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        linear = nn.Linear(ndf, 1, bias=False)
        nn.init.xavier_uniform_(linear.weight)
        self.linear = spectral_norm(linear)
        self.num_classes = num_classes
        if num_classes is not None:
            self.embed = spectral_norm(projection_embedding(num_classes, ndf))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        check_image_input(x, self.in_shape, "ResNetDiscriminator")
        labels = check_labels(labels, self.num_classes, x.shape[0], "ResNetDiscriminator")
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling, as in the reference
        if labels is None:
            return self.linear(h).view(x.shape[0])
        return self.linear(h).view(x.shape[0]) + projection(self.embed, h, labels)
