"""DCGAN generator and discriminator (Radford et al.; the PyTorch DCGAN tutorial, seeds 000/001/004).

For 64 px the layers are exactly the tutorial's: G is a ConvTranspose2d stack
nz -> ngf*8 (4x4) -> ngf*4 (8x8) -> ngf*2 (16x16) -> ngf (32x32) -> nc (64x64), kernel 4,
stride 2, padding 1 (the first layer stride 1, padding 0), no bias, BatchNorm2d + ReLU between
and Tanh at the end; D is the mirror Conv2d stack with LeakyReLU(0.2) and BatchNorm2d on all but
the first layer. D returns logits (no Sigmoid): the losses take raw outputs.

Other sizes keep the same doubling layers and change only the first (last, in D) layer's kernel:
an image of side ``base * 2**k`` with ``base`` in 4..7 starts from a ``base x base`` map, so 32 px
has one doubling fewer than 64 px, and 28 px (MNIST) starts from 7x7.
"""

from torch import Tensor, nn

from gan_lightning.networks.conditional import (
    batch_norm,
    check_labels,
    conditional_sequential,
    projection,
    projection_embedding,
)
from gan_lightning.networks.layers import check_image_input


def dcgan_layout(image_size: int) -> tuple[int, int]:
    """(base, k): the first feature map's side and the number of stride-2 layers after it.

    Raises a ValueError naming the sizes that work when ``image_size`` is not ``base * 2**k``
    with ``base`` in 4..7 and k >= 1.
    """
    base, k = image_size, 0
    while base >= 8 and base % 2 == 0:
        base, k = base // 2, k + 1
    if not (4 <= base <= 7 and k >= 1):
        raise ValueError(
            f"A DCGAN cannot make {image_size}x{image_size} images: the side must be 4..7 times a "
            "power of two (e.g. 16, 28, 32, 48, 64, 128). Set image_size on the networks and the "
            "datamodule to such a size (the datamodules resize)."
        )
    return base, k


def dcgan_encoder(channels: int, image_size: int, ndf: int, out_channels: int) -> nn.Sequential:
    """D's Conv2d stack: (N, channels, S, S) -> (N, out_channels, 1, 1).

    Conv 4/2/1 + LeakyReLU(0.2), then Conv 4/2/1 + BatchNorm2d + LeakyReLU(0.2) doubling the width
    until the map is base x base, then one Conv with a base x base kernel; no biases.
    """
    base, k = dcgan_layout(image_size)
    layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    width = ndf
    for _ in range(k - 1):
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, inplace=True)]
        width *= 2
    layers.append(nn.Conv2d(width, out_channels, base, 1, 0, bias=False))
    return nn.Sequential(*layers)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, image_size, image_size) in (-1, 1).

    Args:
        latent_dim: size of z (nz; the tutorial uses 100).
        channels: image channels (nc): 1 for digits, 3 for colour.
        image_size: side of the square images, e.g. 28, 32 or 64.
        ngf: width of the last hidden layer; earlier layers double it.
        num_classes: makes G(z, y) class-conditional: every BatchNorm becomes a conditional
            BatchNorm (a gain and bias per class). None: the unconditional G.
    """

    def __init__(
        self, latent_dim: int = 100, channels: int = 3, image_size: int = 64, ngf: int = 64, num_classes: int | None = None
    ) -> None:
        super().__init__()
        base, k = dcgan_layout(image_size)
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        self.num_classes = num_classes
        width = ngf * 2 ** (k - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, width, base, 1, 0, bias=False),
            batch_norm(width, num_classes),
            nn.ReLU(True),
        ]
        for _ in range(k - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), batch_norm(width // 2, num_classes), nn.ReLU(True)
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = check_labels(labels, self.num_classes, z.shape[0], "DCGANGenerator")
        z = z.view(z.shape[0], self.latent_dim, 1, 1)
        return self.main(z) if labels is None else conditional_sequential(self.main, z, labels)


class DCGANDiscriminator(nn.Module):
    """Images (N, channels, image_size, image_size) -> N logits.

    Args:
        channels: image channels (nc).
        image_size: side of the square images, e.g. 28, 32 or 64.
        ndf: width of the first layer; later layers double it.
        pack: PacGAN packing degree; D then takes ``channels * pack`` channels (the GAN
            module reads it from here).
        num_classes: makes D(x, y) a projection discriminator: phi(x) is the last feature map
            (what the final conv, psi, reads) and D(x, y) = psi(phi(x)) + <embed(y), phi(x)>,
            i.e. a final layer of weights w + embed(y) per class. None: the unconditional D.
    """

    def __init__(
        self, channels: int = 3, image_size: int = 64, ndf: int = 64, pack: int = 1, num_classes: int | None = None
    ) -> None:
        super().__init__()
        self.pack = pack  # the GAN module reads it
        self.num_classes = num_classes
        self.in_shape = (channels * pack, image_size, image_size)
        self.main = dcgan_encoder(channels * pack, image_size, ndf, 1)
        if num_classes is not None:
            final = self.main[-1]
            self.embed = projection_embedding(num_classes, final.in_channels * final.kernel_size[0] * final.kernel_size[1])

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        check_image_input(x, self.in_shape, "DCGANDiscriminator")
        labels = check_labels(labels, self.num_classes, x.shape[0], "DCGANDiscriminator")
        if labels is None:
            return self.main(x).view(x.shape[0])
        features = self.main[:-1](x)
        return self.main[-1](features).view(x.shape[0]) + projection(self.embed, features, labels)
