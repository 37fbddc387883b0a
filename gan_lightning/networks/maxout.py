"""PacGAN's 2-D discriminator: fully connected maxout layers (Goodfellow et al. 2013).

PacGAN's own code (fjxmlzn/PacGAN, ``synthetic_data_experiments/2D*_GAN&PacGAN``, built on
ALI's) uses three maxout layers of 200 units with 5 pieces each and a linear output, with D
seeing ``pack`` samples concatenated into one input.
"""

import math

from torch import Tensor, nn


class Maxout(nn.Module):
    """A Linear layer to ``out_features * pieces`` values, then the maximum over each unit's
    ``pieces``: unit ``j`` is ``max_k (W x + b)[j * pieces + k]``."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        if pieces < 1:
            raise ValueError(f"a maxout unit needs at least 1 piece, got pieces={pieces}.")
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(x.shape[0], self.out_features, self.pieces).max(dim=2).values


class MaxoutDiscriminator(nn.Module):
    """A sample (flattened) -> maxout layers -> one raw output (a logit or a score).

    Args:
        in_shape: shape of one sample (the CLI sets it from the data). With PacGAN packing D
            sees ``pack`` samples concatenated, so its input has ``pack`` times as many values.
        hidden: units of each maxout layer (PacGAN: [200, 200, 200]).
        pieces: linear pieces per maxout unit (PacGAN: 5).
        pack: PacGAN packing degree (the GAN module reads it from here).

    PacGAN initialises every weight from N(0, 0.02) and every bias at 0: with the GAN,
    ``model.network_setup.weight_init: dcgan`` does that.
    """

    def __init__(self, in_shape: list[int] = [2], hidden: list[int] = [200, 200, 200], pieces: int = 5, pack: int = 1) -> None:
        super().__init__()
        self.pack = pack  # the GAN module reads it
        sizes = [math.prod(in_shape) * pack, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        layers += [Maxout(n_in, n_out, pieces) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)
