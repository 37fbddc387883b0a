"""An autoencoder cost network for EBGAN (Zhao et al.; the energy-based view of seeds 000 and 004).

The cost of a sample is its reconstruction error, C(x) = mean over pixels of (x - Dec(Enc(x)))^2:
low on the data the autoencoder has learnt, high elsewhere, and never negative, as the margin
loss ``energy`` in gan_lightning.losses expects.
"""

from torch import Tensor, nn

from gan_lightning.networks.dcgan import DCGANGenerator, dcgan_encoder


class AutoencoderEnergy(nn.Module):
    """Images (N, channels, S, S) -> N energies (per-sample reconstruction MSE).

    The encoder is the DCGAN discriminator's Conv2d stack ending in a ``code_dim`` code; the
    decoder is a DCGAN generator from that code, whose Tanh keeps reconstructions in [-1, 1].

    Args:
        channels: image channels.
        image_size: side of the square images (see networks.dcgan for the sizes that work).
        code_dim: size of the bottleneck code.
        width: ndf of the encoder and ngf of the decoder.
    """

    def __init__(self, channels: int = 1, image_size: int = 32, code_dim: int = 64, width: int = 32) -> None:
        super().__init__()
        self.in_shape = (channels, image_size, image_size)
        self.encoder = dcgan_encoder(channels, image_size, width, code_dim)
        self.decoder = DCGANGenerator(code_dim, channels, image_size, width)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(
                f"AutoencoderEnergy was built for inputs of shape {self.in_shape} but got "
                f"{tuple(x.shape[1:])}: set its channels/image_size to the datamodule's."
            )
        return (x - self.reconstruct(x)).pow(2).flatten(1).mean(1)
