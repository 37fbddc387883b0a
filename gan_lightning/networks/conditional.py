"""Layers that make a network class-conditional: conditional BatchNorm for generators and the
projection head for discriminators (Miyato & Koyama 2018, pfnet-research/sngan_projection).

Both are used only when a network is built with ``num_classes``; without it the networks build
and run exactly the layers they always did.
"""

import torch
from torch import Tensor, nn


class ConditionalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm whose gain and bias depend on the class: gain 1 + W_g e_y, bias W_b e_y, from
    a learned class embedding e_y (BigGAN's form, Brock et al. 2019; ajbrock/BigGAN-PyTorch ccbn).

    The statistics are shared by all classes (a plain BN without its own affine). W_g and W_b
    start at zero, so at initialisation the layer is the plain BN it replaces (gain 1, bias 0).
    Why not a gain and bias table per class (pfnet-research/sngan_projection): Adam moves each
    table entry by about the learning rate per step, so at 2e-4 a class's gain can drift 0.1 in
    500 steps, and on the digits G still ignored the labels after 1,000 batches; through W and an
    embedding of ``embed_dim`` entries the gain moves ~embed_dim times faster.
    """

    def __init__(self, num_features: int, num_classes: int, embed_dim: int = 32) -> None:
        super().__init__(num_features, affine=False)
        self.embed = nn.Embedding(num_classes, embed_dim)  # N(0, 1)
        self.gain = nn.Parameter(torch.zeros(num_features, embed_dim))  # Parameters, not Linear: dcgan_init
        self.shift = nn.Parameter(torch.zeros(num_features, embed_dim))  # must not move them off zero

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:  # type: ignore[override]
        e = self.embed(labels)
        gain, shift = 1 + e @ self.gain.T, e @ self.shift.T
        return gain[:, :, None, None] * super().forward(x) + shift[:, :, None, None]


def conditional_sequential(layers: nn.Sequential, x: Tensor, labels: Tensor) -> Tensor:
    """Run ``layers`` in order, giving the labels to the conditional BatchNorm layers."""
    for layer in layers:
        x = layer(x, labels) if isinstance(layer, ConditionalBatchNorm2d) else layer(x)
    return x


def batch_norm(num_features: int, num_classes: int | None) -> nn.BatchNorm2d:
    """A plain BatchNorm2d for an unconditional network, a ConditionalBatchNorm2d otherwise."""
    return nn.BatchNorm2d(num_features) if num_classes is None else ConditionalBatchNorm2d(num_features, num_classes)


def projection_embedding(num_classes: int, num_features: int) -> nn.Embedding:
    """The class embedding of a projection discriminator, Glorot-uniform as in the reference
    (so <embed(y), phi(x)> starts on the scale of the unconditional output, not sqrt(F) above it)."""
    embed = nn.Embedding(num_classes, num_features)
    nn.init.xavier_uniform_(embed.weight)
    return embed


def projection(embed: nn.Module, features: Tensor, labels: Tensor) -> Tensor:
    """<embed(y), phi(x)> per sample: (N, ...) features and N labels -> N values."""
    return (embed(labels) * features.flatten(1)).sum(dim=1)


def check_labels(labels: Tensor | None, num_classes: int | None, n: int, network: str) -> Tensor | None:
    """The labels as int64 (None for an unconditional network), or a ValueError naming the mismatch."""
    if num_classes is None:
        if labels is not None:
            raise ValueError(f"{network} is unconditional (num_classes None) but was given labels: set model.num_classes.")
        return None
    if labels is None:
        raise ValueError(
            f"{network} was built with num_classes={num_classes} and needs labels: call it as "
            f"net(x, labels) with N class indices in 0..{num_classes - 1}."
        )
    if labels.shape != (n,) or labels.dtype.is_floating_point:
        raise ValueError(
            f"{network} needs {n} integer class labels, got a {labels.dtype} tensor of shape {tuple(labels.shape)}."
        )
    return labels.long()

