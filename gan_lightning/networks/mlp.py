"""Fully connected G and D: the seed-003 toy (a linear G), seed 002's MNIST MLP, PacGAN's MLPs."""

import math
from typing import Literal

import torch
from torch import Tensor, nn

from gan_lightning.networks.conditional import check_labels, projection, projection_embedding
from gan_lightning.networks.layers import MinibatchStdDev

Activation = Literal["relu", "leaky_relu", "tanh", "none"]


def _activation(name: Activation, leaky_slope: float) -> nn.Module:
    return {
        "relu": nn.ReLU(),
        "leaky_relu": nn.LeakyReLU(leaky_slope),
        "tanh": nn.Tanh(),
        "none": nn.Identity(),
    }[name]


def _mlp(
    sizes: list[int], activation: Activation, batch_norm: bool, leaky_slope: float, hidden_bias: bool = True
) -> list[nn.Module]:
    """Linear layers between ``sizes``, each but the last followed by [BatchNorm1d] + activation;
    ``hidden_bias=False`` leaves the bias out of every Linear but the last."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        layers.append(nn.Linear(n_in, n_out, bias=hidden_bias or not hidden))
        if hidden:
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(_activation(activation, leaky_slope))
    return layers


class MLPGenerator(nn.Module):
    """z -> hidden layers -> a sample of ``out_shape``.

    Args:
        latent_dim: size of z.
        out_shape: shape of one sample, e.g. [2] for 2-D points or [1, 28, 28] for MNIST.
        hidden: widths of the hidden layers; [] makes G a single Linear (seed 003).
        activation: hidden activation.
        batch_norm: BatchNorm1d after each hidden Linear (seed 002).
        output_activation: "tanh" for images in [-1, 1], "none" for unbounded data.
        leaky_slope: negative slope when activation is "leaky_relu".
        num_classes: makes G(z, y) class-conditional: a learned label embedding of num_classes
            entries is concatenated to z (cGAN, Mirza & Osindero 2014; an MLP may have no
            BatchNorm to condition). None: the unconditional G.
        hidden_bias: False leaves the bias out of the hidden Linear layers (the output layer
            keeps its own), as PacGAN's 2-D G does: before BatchNorm a bias is cancelled by the
            mean subtraction and BatchNorm's shift takes its place. Needs ``batch_norm``.
    """

    def __init__(
        self,
        latent_dim: int = 2,
        out_shape: list[int] = [2],
        hidden: list[int] = [],
        activation: Activation = "relu",
        batch_norm: bool = False,
        output_activation: Activation = "none",
        leaky_slope: float = 0.2,
        num_classes: int | None = None,
        hidden_bias: bool = True,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.out_shape = tuple(out_shape)
        self.num_classes = num_classes
        if not hidden_bias and not batch_norm:
            raise ValueError("hidden_bias=False needs batch_norm=True: without BatchNorm's shift the hidden layers have no offset.")
        sizes = [latent_dim + (num_classes or 0), *hidden, math.prod(out_shape)]
        self.net = nn.Sequential(
            *_mlp(sizes, activation, batch_norm, leaky_slope, hidden_bias), _activation(output_activation, leaky_slope)
        )
        if num_classes is not None:
            self.embed = nn.Embedding(num_classes, num_classes)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = check_labels(labels, self.num_classes, z.shape[0], "MLPGenerator")
        h = z if labels is None else torch.cat([z, self.embed(labels)], dim=1)
        return self.net(h).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """A sample (flattened) -> hidden layers -> one raw output (a logit, score or energy).

    Args:
        in_shape: shape of one sample. With PacGAN packing, D sees ``pack`` samples
            concatenated along the first dimension, so in_shape[0] is multiplied by ``pack``.
        hidden: widths of the hidden layers (seed 003: [5, 3]; seed 002: [200]).
        activation: hidden activation.
        pack: PacGAN packing degree (the GAN module reads it from here).
        leaky_slope: negative slope when activation is "leaky_relu".
        minibatch_std: append the batch's standard deviation as a feature before the last
            Linear (``MinibatchStdDev``), a remedy for mode collapse.
        num_classes: makes D(x, y) a projection discriminator on the features the last Linear
            reads. None: the unconditional D.
    """

    def __init__(
        self,
        in_shape: list[int] = [2],
        hidden: list[int] = [5, 3],
        activation: Activation = "tanh",
        pack: int = 1,
        leaky_slope: float = 0.2,
        minibatch_std: bool = False,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        self.pack = pack  # the GAN module reads it
        self.num_classes = num_classes
        sizes = [math.prod(in_shape) * pack, *hidden, 1]
        layers = _mlp(sizes, activation, False, leaky_slope)
        if minibatch_std:
            layers[-1:] = [MinibatchStdDev(), nn.Linear(sizes[-2] + 1, 1)]
        self.net = nn.Sequential(nn.Flatten(), *layers)
        if num_classes is not None:
            self.embed = projection_embedding(num_classes, self.net[-1].in_features)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = check_labels(labels, self.num_classes, x.shape[0], "MLPDiscriminator")
        if labels is None:
            return self.net(x).squeeze(1)
        features = self.net[:-1](x)
        return self.net[-1](features).squeeze(1) + projection(self.embed, features, labels)
