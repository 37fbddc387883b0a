"""Layers that make a network class-conditional: conditional BatchNorm for generators and the
projection head for discriminators (Miyato & Koyama 2018, pfnet-research/sngan_projection).

Both are used only when a network is built with ``num_classes``; without it the networks build
and run exactly the layers they always did.
"""

from torch import Tensor, nn


class ConditionalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm whose gain and bias are looked up per class (categorical conditional BN).

    The statistics are shared by all classes (a plain BN without its own affine); the
    per-class gain starts at 1 and the bias at 0, so at initialisation the layer is the plain
    BN it replaces and only training makes it class-dependent (crcrpar/pytorch.sngan_projection).
    """

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__(num_features, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.shift = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:  # type: ignore[override]
        h = super().forward(x)
        return self.gain(labels)[:, :, None, None] * h + self.shift(labels)[:, :, None, None]


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
        raise ValueError(f"{network} needs {n} integer class labels, got a {labels.dtype} tensor of shape {tuple(labels.shape)}.")
    return labels.long()

