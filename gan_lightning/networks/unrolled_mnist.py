"""The Stacked MNIST networks of Unrolled GAN (Metz et al. 2017), as PacGAN (Lin et al. 2018,
Table 3; fjxmlzn/PacGAN ``stacked_MNIST_experiments/unrolled_GAN_experiment``) reimplemented them.

G: z (256) -> linear to 4x4x64 -> 3x3 stride-2 transposed convs to 7x7x32, 14x14x16, 28x28x8,
each with BatchNorm and ReLU -> 3x3 stride-1 conv to 3 channels -> tanh.
D: 3x3 stride-2 convs with 2, 4, 8 channels ("D is 1/4 the size of G"; 4, 8, 16 for "1/2"),
each with BatchNorm and LeakyReLU(0.3), on 28 -> 14 -> 7 -> 4 px maps -> linear to one logit.
Both use biases (TensorFlow's conv2d/deconv2d/linear of carpedm20's DCGAN). The D is small on
purpose: it is the weak critic that makes a plain GAN drop most of the 1,000 modes.
"""

from collections.abc import Sequence

from torch import Tensor, nn

from gan_lightning.networks.layers import check_image_input

IMAGE_SIZE = 28  # the side these layers make and take: 4 -> 7 -> 14 -> 28


def check_size(image_size: int, network: str) -> None:
    """A ValueError naming the fix when the data is not 28 px (the only size these layers fit)."""
    if image_size != IMAGE_SIZE:
        raise ValueError(
            f"{network} makes/takes {IMAGE_SIZE}x{IMAGE_SIZE} images (Stacked MNIST) but the data is "
            f"{image_size}x{image_size}: set data.init_args.image_size: {IMAGE_SIZE}."
        )


class UnrolledMNISTGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, 28, 28) in (-1, 1).

    Args:
        latent_dim: size of z (256 in the paper).
        channels: image channels (3: one digit per channel).
        image_size: must be 28.
        widths: channels of the 4x4 map and of the 7, 14 and 28 px maps (64, 32, 16, 8).
    """

    def __init__(
        self, latent_dim: int = 256, channels: int = 3, image_size: int = 28, widths: Sequence[int] = (64, 32, 16, 8)
    ) -> None:
        super().__init__()
        check_size(image_size, "UnrolledMNISTGenerator")
        if len(widths) != 4:
            raise ValueError(f"widths are the channels of the 4, 7, 14 and 28 px maps: 4 numbers, got {list(widths)}.")
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        w0, w1, w2, w3 = widths
        self.project = nn.Sequential(nn.Linear(latent_dim, w0 * 16), nn.Unflatten(1, (w0, 4, 4)), nn.BatchNorm2d(w0), nn.ReLU(True))
        self.main = nn.Sequential(
            nn.ConvTranspose2d(w0, w1, 3, 2, 1), nn.BatchNorm2d(w1), nn.ReLU(True),  # 4 -> 7
            nn.ConvTranspose2d(w1, w2, 3, 2, 1, output_padding=1), nn.BatchNorm2d(w2), nn.ReLU(True),  # 7 -> 14
            nn.ConvTranspose2d(w2, w3, 3, 2, 1, output_padding=1), nn.BatchNorm2d(w3), nn.ReLU(True),  # 14 -> 28
            nn.Conv2d(w3, channels, 3, 1, 1), nn.Tanh(),
        )  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        return self.main(self.project(z))


class UnrolledMNISTDiscriminator(nn.Module):
    """Images (N, channels * pack, 28, 28) -> N logits.

    Args:
        channels: image channels (3).
        image_size: must be 28.
        widths: channels of the three stride-2 convs: (2, 4, 8) is "D = 1/4 G", (4, 8, 16) "1/2".
        pack: PacGAN packing degree (the GAN module reads it); D takes ``channels * pack`` channels.
        negative_slope: of the LeakyReLUs (0.3 in the paper).
        first_norm: BatchNorm after the first conv, as in the paper. On a real and a fake batch
            apart it takes out a brightness/contrast change the whole batch shares, so D barely
            sees a grey background (docs/stacked_digits.md); False drops it, as Radford et al.'s
            DCGAN D does (not the paper's network).
    """

    def __init__(
        self, channels: int = 3, image_size: int = 28, widths: Sequence[int] = (2, 4, 8), pack: int = 1,
        negative_slope: float = 0.3, first_norm: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        check_size(image_size, "UnrolledMNISTDiscriminator")
        self.pack = pack
        self.in_shape = (channels * pack, image_size, image_size)
        layers: list[nn.Module] = []
        width, side = channels * pack, image_size
        for i, out in enumerate(widths):
            norm = nn.BatchNorm2d(out) if i > 0 or first_norm else nn.Identity()
            layers += [nn.Conv2d(width, out, 3, 2, 1), norm, nn.LeakyReLU(negative_slope, True)]
            width, side = out, (side + 1) // 2  # 28 -> 14 -> 7 -> 4, as TensorFlow's "SAME" padding
        self.main = nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * side * side, 1))

    def forward(self, x: Tensor) -> Tensor:
        check_image_input(x, self.in_shape, "UnrolledMNISTDiscriminator")
        return self.main(x).view(x.shape[0])
