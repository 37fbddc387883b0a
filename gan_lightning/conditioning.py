"""What the GAN module needs to be class-conditional (``model.num_classes``): checks that the
networks and the data agree with it, the labelled batch, and the fixed class grid.

Kept out of module.py so that the module gains only the few lines that pass labels along.
"""

from typing import Callable

import torch
from torch import Tensor, nn


def check_conditional_networks(netG: nn.Module, netD: nn.Module, num_classes: int | None, pack: int) -> None:
    """Raise a ValueError naming the fix unless netG and netD were built for ``num_classes``.

    The networks' own ``num_classes`` builds their class layers; under the CLI it is copied from
    ``model.num_classes``, so a config sets it once. Built in Python, it must be passed to both.
    """
    if num_classes is not None and num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 (or None for an unconditional GAN), got {num_classes}.")
    for name, net in (("netG", netG), ("netD", netD)):
        has = getattr(net, "num_classes", None)
        if has != num_classes:
            raise ValueError(
                f"The GAN has num_classes={num_classes} but {name} ({type(net).__name__}) was built with "
                f"num_classes={has}: build both networks with num_classes={num_classes} (the CLI copies "
                "model.num_classes to them; set it only there)."
            )
    if num_classes is not None and pack > 1:
        raise ValueError(
            f"A conditional GAN cannot pack samples (netD pack={pack}): a pack of samples has no one label. "
            "Set pack: 1 or num_classes: null."
        )


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
