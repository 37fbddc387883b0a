"""What the GAN module needs to be class-conditional (``model.num_classes``): the labelled
batch checked against it, and the fixed class grid (the networks are checked in
``networks.contract``).

Kept out of module.py so that the module gains only the few lines that pass labels along.
"""

from typing import Callable

import torch
from torch import Tensor


def split_batch(batch: Tensor | list[Tensor], num_classes: int | None, check_range: bool) -> tuple[Tensor, Tensor | None]:
    """(images, labels) of a batch; labels None for an unconditional GAN, which ignores them.

    ``check_range`` checks the labels against ``num_classes`` (a device sync, so on the first
    batch only): an out-of-range label would otherwise fail deep in an embedding lookup.
    """
    real = batch[0] if isinstance(batch, (list, tuple)) else batch
    if num_classes is None:
        return real, None
    if not isinstance(batch, (list, tuple)) or len(batch) < 2:
        raise ValueError(
            f"model.num_classes is {num_classes} but the data yields no labels (batches of images only): "
            "use a datamodule that yields (image, label) batches, e.g. ShippedDigitsDataModule, or set "
            "model.num_classes: null for an unconditional GAN."
        )
    labels = batch[1]
    if check_range and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"The data has labels in {labels.min().item()}..{labels.max().item()} but model.num_classes is "
            f"{num_classes} (labels 0..{num_classes - 1}): set model.num_classes to the number of classes."
        )
    return real, labels.long()


def fixed_class_grid(
    draw_latent: Callable[[int, torch.Generator], Tensor], num_samples: int, num_classes: int | None,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor | None]:
    """Fixed noise and labels for progress grids. Unconditional: ``num_samples`` latents and no
    labels. Conditional: one row per class, each with the same ``num_samples // num_classes``
    latents (at least one), so a column shows one z in every class."""
    if num_classes is None:
        return draw_latent(num_samples, generator), None
    per_class = max(1, num_samples // num_classes)
    noise = draw_latent(per_class, generator).repeat(num_classes, 1)
    return noise, torch.arange(num_classes).repeat_interleave(per_class)


def balanced_labels(n: int, num_classes: int) -> Tensor:
    """0, 1, ..., K-1, 0, 1, ...: n labels with every class as often as possible (for metrics)."""
    return torch.arange(n) % num_classes
