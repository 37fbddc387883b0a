"""Small data sets written in the exact on-disk formats torchvision reads, for tests that run the
real-data configs without downloading anything, and a callback that remembers the weights at the
start of fit (to check that a run trained, not only that it ran)."""

import pickle
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from PIL import Image


def pattern(n: int, height: int, width: int, channels: int) -> np.ndarray:
    """n uint8 images (n, H, W, C): black with a white square whose place depends on the index,
    so the images differ and black and white are both present."""
    images = np.zeros((n, height, width, channels), dtype=np.uint8)
    for i in range(n):
        top, left = (3 * i) % (height // 2), (5 * i) % (width // 2)
        images[i, top : top + height // 3, left : left + width // 3] = 255
    return images


def write_idx_mnist(raw: Path, n_train: int = 10, n_test: int | None = None) -> None:
    """MNIST / FashionMNIST in torchvision's layout: big-endian idx files in ``<root>/<Name>/raw``."""
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_train if n_test is None else n_test)):
        images = pattern(n, 28, 28, 1)[..., 0]
        header = np.array([2051, n, 28, 28], dtype=">i4").tobytes()
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        labels = np.arange(n, dtype=np.uint8) % 10
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(np.array([2049, n], dtype=">i4").tobytes() + labels.tobytes())


def write_cifar10(root: Path, per_batch: int = 4, n_test: int = 6) -> Path:
    """CIFAR-10's python version: ``root/cifar-10-batches-py/`` with five pickled training batches,
    ``test_batch`` and ``batches.meta`` (rows of 3,072 uint8: the R, G, B planes of a 32x32 image).

    torchvision also checks each file's MD5 against the real data set's; tests replace that check
    (``cifar_files_exist``), as torchvision's own tests do."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)

    def dump(name: str, n: int, offset: int) -> None:
        images = pattern(n + offset, 32, 32, 3)[offset:]
        rows = images.transpose(0, 3, 1, 2).reshape(n, 3 * 32 * 32)  # channel planes, as the real files
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": rows, "labels": [i % 10 for i in range(n)]}, f)

    for i in range(1, 6):
        dump(f"data_batch_{i}", per_batch, offset=i * per_batch)
    dump("test_batch", n_test, offset=0)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}, f)
    return folder


def cifar_files_exist(fpath: str, md5: str | None = None) -> bool:
    """Stands in for torchvision's ``check_integrity``: the files must exist, their MD5 cannot match."""
    return Path(fpath).is_file()


def write_images(folder: Path, n: int, size: tuple[int, int], suffix: str = ".png") -> None:
    """n RGB images of ``size`` (width, height) in ``folder`` (JPEG when ``suffix`` is .jpg)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, pixels in enumerate(pattern(n, size[1], size[0], 3)):
        Image.fromarray(pixels).save(folder / f"{i + 1:06d}{suffix}")


def write_celeba(root: Path, n: int = 6) -> Path:
    """CelebA's aligned faces as the DCGAN tutorial and torchvision lay them out:
    ``root/celeba/img_align_celeba/000001.jpg``, ..., 178x218 JPEGs."""
    folder = root / "celeba" / "img_align_celeba"
    write_images(folder, n, (178, 218), ".jpg")
    return folder


def parameters(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the module's parameters (what optimizers change; BatchNorm buffers move without them)."""
    return {k: v.detach().cpu().clone() for k, v in module.named_parameters()}


class WeightsAtStart(Callback):
    """Keeps a copy of G's and D's parameters when fit starts (``on_train_start``, after any restore)."""

    def __init__(self) -> None:
        self.netG: dict[str, torch.Tensor] = {}
        self.netD: dict[str, torch.Tensor] = {}

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.netG, self.netD = parameters(pl_module.netG), parameters(pl_module.netD)


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> bool:
    """Whether any parameter of ``module`` differs from ``before``."""
    after = parameters(module)
    return any(not torch.equal(v, after[k]) for k, v in before.items())
