"""Stacked MNIST (Metz et al. 2017; PacGAN, Lin et al. 2018) from the shipped digits: three
independent uniform draws of a split's digits stacked as the R, G and B channels of one image,
so the data has 10 x 10 x 10 = 1,000 modes (digit triplets), all equally likely.

Images are made on the fly: the item at index i is a pure function of (seed, i), computed by a
counter-based hash (splitmix64), so nothing is stored, any item can be made again, and a resumed
run serves the same images. With ``redraw`` (the default; PacGAN's Table 3 makes every batch
anew) the index also carries the epoch, so each epoch draws ``epoch_length`` new images; without
it every epoch serves the same ``epoch_length`` images in a new order (Table 2's fixed set of
128,000). The train split's 3,500 digits give 3,500^3 (4.3e10) possible images.
"""

from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader

from gan_lightning.data.digits import SPLITS, Split, load_digits_split
from gan_lightning.data.resumable import EpochSampler, resumable_loader

NUM_DIGITS = 3  # R, G, B
NUM_TRIPLETS = 10**NUM_DIGITS
REFERENCE_SEED = 1  # the seed of the reference images, apart from any training data seed
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's output function on uint64 counters: well-mixed 64-bit values, vectorised."""
    with np.errstate(over="ignore"):
        z = x + _MIX[0]
        z = (z ^ (z >> np.uint64(30))) * _MIX[1]
        z = (z ^ (z >> np.uint64(27))) * _MIX[2]
        return z ^ (z >> np.uint64(31))


def draw_indices(index: Sequence[int] | Tensor, num_digits: int, seed: int) -> Tensor:
    """(len(index), 3) int64 positions in [0, num_digits): the digits of items ``index``, each
    channel an independent uniform draw (modulo bias below 1e-15), a pure function of (seed, index)."""
    index = np.asarray(index, dtype=np.uint64).reshape(-1, 1)
    counters = (np.uint64(seed) << np.uint64(40)) + index * np.uint64(NUM_DIGITS) + np.arange(NUM_DIGITS, dtype=np.uint64)
    return torch.from_numpy((splitmix64(counters) % np.uint64(num_digits)).astype(np.int64))


def triplet_label(digit_labels: Tensor) -> Tensor:
    """(N, 3) digit labels (R, G, B) -> the triplet class 100 R + 10 G + B, in 0..999."""
    return digit_labels[:, 0] * 100 + digit_labels[:, 1] * 10 + digit_labels[:, 2]


class StackedDigits(Dataset):
    """``length`` stacked images of ``digits`` (N, 1, S, S) with their triplet labels.

    Items are (image (3, S, S), triplet class); any int index >= 0 is an item (the loader's
    sampler passes epoch * length + i to draw new images each epoch). ``__getitems__`` makes a
    whole batch in one vectorised call.
    """

    def __init__(self, digits: Tensor, labels: Tensor, length: int, seed: int) -> None:
        if length < 1:
            raise ValueError(f"length (images per epoch) must be >= 1, got {length}.")
        self.digits, self.labels, self.length, self.seed = digits, labels, length, seed

    def __len__(self) -> int:
        return self.length

    def draw(self, index: Sequence[int] | Tensor) -> tuple[Tensor, Tensor]:
        """Images (B, 3, S, S) and triplet labels (B,) of items ``index``."""
        positions = draw_indices(index, len(self.digits), self.seed)
        images = self.digits[positions.view(-1)].view(len(positions), NUM_DIGITS, *self.digits.shape[2:])
        return images, triplet_label(self.labels[positions])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        images, labels = self.draw([index])
        return images[0], labels[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[Tensor, Tensor]]:
        images, labels = self.draw(indices)
        return list(zip(images.unbind(0), labels.unbind(0)))

    def all(self) -> tuple[Tensor, Tensor]:
        """Items 0..length-1 at once (the metrics' real reference)."""
        return self.draw(range(self.length))


class RedrawSampler(EpochSampler):
    """The resumable shuffled sampler with each index offset by epoch * length: every epoch
    draws new images, and a resumed epoch the same ones (its state is still the served count)."""

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        for i in super().__iter__():  # sets self.epoch before its first index
            yield self.epoch * n + i


class StackedDigitsDataModule(LightningDataModule):
    """Stacked MNIST from one split of the shipped digits, as (image, triplet class) batches.

    Args:
        split: the digits the three channels are drawn from: "train" (3,500, the default).
        reference: the split of the metrics' real stacked images for a ``train`` run: "val"
            (while training and for choosing settings) or "test" (the reported numbers).
        epoch_length: images per epoch (e.g. batch_size * max_steps: one epoch, all new images).
        redraw: new images every epoch (PacGAN's Table 3, data made on the fly); False serves
            the same ``epoch_length`` images every epoch (Table 2's fixed 128,000).
        seed: seed of the draws (fixed across training seeds unless set).
        num_reference: real stacked images of ``reference_dataset`` (PacGAN scores 25,600 samples).
        image_size: side of the images (28 as stored; the digits are resized for other sizes).
        batch_size: images per batch.
        num_workers: DataLoader workers (0: a batch is one vectorised gather, nothing to overlap).
        drop_last: drop the last incomplete batch.
    """

    def __init__(
        self, split: Split = "train", reference: Literal["val", "test"] = "val", epoch_length: int = 128_000,
        redraw: bool = True, seed: int = 0, num_reference: int = 25_600, image_size: int = 28, batch_size: int = 128,
        num_workers: int = 0, drop_last: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}.")
        if reference not in ("val", "test"):
            raise ValueError(f"reference must be 'val' (choosing settings) or 'test' (reporting), got {reference!r}.")
        if epoch_length < batch_size:
            raise ValueError(f"epoch_length ({epoch_length}) must hold at least one batch ({batch_size}).")
        self.save_hyperparameters()
        self.split, self.reference, self.epoch_length, self.redraw = split, reference, epoch_length, redraw
        self.seed, self.num_reference, self.image_size = seed, num_reference, image_size
        self.batch_size, self.num_workers, self.drop_last = batch_size, num_workers, drop_last
        self.dataset: StackedDigits | None = None
        self.num_triplets = NUM_TRIPLETS  # read by the StackedMNIST metric and callback

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(3, image_size, image_size), known without loading the digits."""
        return (NUM_DIGITS, self.image_size, self.image_size)

    def setup(self, stage: str) -> None:
        if self.dataset is None:
            digits, labels = load_digits_split(self.split, self.image_size)
            self.dataset = StackedDigits(digits, labels, self.epoch_length, self.seed)

    def train_dataloader(self) -> StatefulDataLoader:
        sampler = RedrawSampler if self.redraw else EpochSampler
        return resumable_loader(self.dataset, self.batch_size, self.drop_last, self.num_workers, self.trainer, sampler)

    def reference_split(self) -> str:
        """The split of the real stacked images the metrics compare with (as ShippedDigitsDataModule)."""
        return {"train": self.reference, "val": "test", "test": "val", "all": "all"}[self.split]

    def reference_dataset(self) -> StackedDigits:
        """``num_reference`` stacked images of the ``reference_split`` digits (fixed: seed ``REFERENCE_SEED``)."""
        digits, labels = load_digits_split(self.reference_split(), self.image_size)
        return StackedDigits(digits, labels, self.num_reference, REFERENCE_SEED)
