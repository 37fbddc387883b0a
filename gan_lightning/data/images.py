"""Image datamodules on torchvision's data sets: MNIST, FashionMNIST, CIFAR-10, CelebA, a folder.

All serve (image, label) batches with images in [-1, 1] (the seeds' Resize, CenterCrop, ToTensor,
Normalize(0.5, 0.5)). MNIST, FashionMNIST and CIFAR-10 are small enough to be resized once and
held in memory as uint8 tensors, so a CPU run is not held up by decoding; CelebA and folders are
decoded per batch by DataLoader workers. ``sample_shape`` comes from the arguments, so the GAN can
check its networks without reading any data.

Nothing is downloaded unless ``download: true``. When the data is not on disk, ``setup`` (which
runs before the first training step) raises a FileNotFoundError that says where it looked and how
to get the data. The shipped digits (gan_lightning.data.ShippedDigitsDataModule) need no files.
"""

from pathlib import Path

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader
from torchvision import datasets, transforms
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms import v2

from gan_lightning.data.resumable import resumable_loader

NO_DOWNLOAD_HINT = "The default experiment needs no download: gan-lightning fit --config configs/digits_dcgan.yaml"


class UInt8Images(Dataset):
    """uint8 images (N, C, H, W) and labels, served one at a time as float32 in [-1, 1]."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index].float() / 127.5 - 1, self.labels[index]


class ImageDataModule(LightningDataModule):
    """Shared arguments and the DataLoader, resumable mid-epoch in the same order and split over
    the ranks under DDP (``gan_lightning.data.resumable``).

    Args:
        root: folder holding the data set.
        image_size: side of the square images after Resize + CenterCrop.
        batch_size: samples per batch.
        num_workers: DataLoader workers.
        drop_last: drop the last incomplete batch (keeps BatchNorm statistics sane).
    """

    channels = 3

    def __init__(self, root: str, image_size: int, batch_size: int, num_workers: int, drop_last: bool) -> None:
        super().__init__()
        self.root = Path(root).expanduser()
        self.image_size = image_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.drop_last = drop_last
        self.dataset: Dataset | None = None

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """(channels, image_size, image_size), known before any data is read."""
        return (self.channels, self.image_size, self.image_size)

    def train_dataloader(self) -> StatefulDataLoader:
        return resumable_loader(self.dataset, self.batch_size, self.drop_last, self.num_workers, self.trainer)


class TorchvisionInMemoryDataModule(ImageDataModule):
    """A torchvision data set with a ``.data`` array, resized once and kept as uint8 in memory.

    Args:
        root: folder that holds (or will hold, with ``download``) torchvision's files.
        image_size: side of the square images.
        train: the training split (False: the test split).
        download: let torchvision download the data set into ``root`` (needs internet).
        batch_size: samples per batch.
        num_workers: DataLoader workers (0 is fastest for in-memory tensors).
        drop_last: drop the last incomplete batch.
    """

    dataset_class: type
    folder: str  # where torchvision keeps the files, under root

    def __init__(
        self,
        root: str = "data",
        image_size: int = 32,
        train: bool = True,
        download: bool = False,
        batch_size: int = 64,
        num_workers: int = 0,
        drop_last: bool = True,
    ) -> None:
        super().__init__(root, image_size, batch_size, num_workers, drop_last)
        self.save_hyperparameters()
        self.train = train
        self.download = download

    @property
    def split(self) -> str:
        """The split G trains on: "train", or "test" with ``train: false``."""
        return "train" if self.train else "test"

    def reference_split(self) -> str:
        """The split metrics compare with: the other one."""
        return "test" if self.train else "train"

    def open(self, download: bool, train: bool | None = None) -> datasets.VisionDataset:
        """torchvision's data set (``train`` defaults to the datamodule's), or a FileNotFoundError
        saying where it looked and what to do."""
        name = self.dataset_class.__name__
        try:
            return self.dataset_class(str(self.root), train=self.train if train is None else train, download=download)
        except RuntimeError:
            raise FileNotFoundError(
                f"{name} not found (or incomplete) in {self.root / self.folder}. Set "
                f"data.init_args.download: true to let torchvision download it (needs internet), or "
                f"data.init_args.root to the folder that contains {self.folder}/. "
                f"{NO_DOWNLOAD_HINT}"
            ) from None

    def prepare_data(self) -> None:
        """Download once per node, before ``setup`` runs on every rank (both splits: metrics use the other)."""
        if self.download:
            self.open(download=True)
            self.open(download=True, train=not self.train)

    def load(self, train: bool) -> UInt8Images:
        """One split, resized once and held in memory."""
        raw = self.open(download=False, train=train)
        images = torch.as_tensor(raw.data)
        images = images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2)  # -> N, C, H, W
        resize = v2.Compose([v2.Resize(self.image_size, antialias=True), v2.CenterCrop(self.image_size)])
        return UInt8Images(resize(images.contiguous()), torch.as_tensor(raw.targets))

    def setup(self, stage: str) -> None:
        if self.dataset is None:
            self.dataset = self.load(self.train)

    def reference_dataset(self) -> Dataset:
        """The ``reference_split`` (MNIST: the 10,000 test digits), for FID and the other metrics."""
        return self.load(not self.train)


class MNISTDataModule(TorchvisionInMemoryDataModule):
    """torchvision MNIST (60,000 training digits), 1 channel, in memory."""

    channels = 1
    dataset_class = datasets.MNIST
    folder = "MNIST/raw"


class FashionMNISTDataModule(TorchvisionInMemoryDataModule):
    """torchvision FashionMNIST (60,000 training images of clothes), 1 channel, in memory."""

    channels = 1
    dataset_class = datasets.FashionMNIST
    folder = "FashionMNIST/raw"
    eval_extractor = "inception"  # the shipped digit classifier never saw clothes


class CIFAR10DataModule(TorchvisionInMemoryDataModule):
    """torchvision CIFAR-10 (50,000 training images), 3 channels, in memory."""

    channels = 3
    dataset_class = datasets.CIFAR10
    folder = "cifar-10-batches-py"


def seed_transform(image_size: int, channels: int) -> transforms.Compose:
    """The DCGAN tutorial's transform: Resize, CenterCrop, ToTensor, Normalize to [-1, 1]."""
    steps: list = [transforms.Resize(image_size), transforms.CenterCrop(image_size)]
    if channels == 1:
        steps.append(transforms.Grayscale(1))
    steps += [transforms.ToTensor(), transforms.Normalize((0.5,) * channels, (0.5,) * channels)]
    return transforms.Compose(steps)


class ImageFolderDataModule(ImageDataModule):
    """Any folder of images laid out as ``root/<class>/<image>`` (torchvision ImageFolder,
    pytorch/examples' ``--dataset folder``), decoded per batch.

    Args:
        root: the folder; images must sit in at least one sub-folder (any name).
        image_size: side of the square images after Resize + CenterCrop.
        channels: 3 (RGB) or 1 (converted to grayscale).
        batch_size: samples per batch.
        num_workers: DataLoader workers that decode the images.
        drop_last: drop the last incomplete batch.
    """

    def __init__(
        self,
        root: str = "data/images",
        image_size: int = 64,
        channels: int = 3,
        batch_size: int = 128,
        num_workers: int = 2,
        drop_last: bool = True,
    ) -> None:
        if channels not in (1, 3):
            raise ValueError(f"ImageFolderDataModule reads RGB or grayscale images: channels must be 1 or 3, got {channels}.")
        super().__init__(root, image_size, batch_size, num_workers, drop_last)
        self.save_hyperparameters()
        self.channels = channels

    def how_to_get(self) -> str:
        return f"Point data.init_args.root at a folder of images laid out as root/<class>/<image>. {NO_DOWNLOAD_HINT}"

    def setup(self, stage: str) -> None:
        if self.dataset is not None:
            return
        if not self.root.is_dir():
            raise FileNotFoundError(f"No image folder at {self.root.resolve()}. {self.how_to_get()}")
        try:
            self.dataset = datasets.ImageFolder(str(self.root), transform=seed_transform(self.image_size, self.channels))
        except FileNotFoundError:
            loose = [p.name for p in self.root.iterdir() if p.suffix.lower() in IMG_EXTENSIONS]
            hint = (
                f" It holds {len(loose)} images directly: move them into a sub-folder such as {self.root}/all/."
                if loose
                else ""
            )
            raise FileNotFoundError(
                f"No images ({', '.join(IMG_EXTENSIONS)}) in the sub-folders of {self.root.resolve()}.{hint} "
                f"{self.how_to_get()}"
            ) from None


class CelebADataModule(ImageFolderDataModule):
    """CelebA aligned faces as in the DCGAN tutorial: ``root/celeba/img_align_celeba/*.jpg``,
    64 px, batch 128, decoded per batch.

    Args:
        root: the folder that holds ``celeba/`` (torchvision's layout, also the tutorial's).
        image_size: side of the square images (the tutorial: 64).
        download: let torchvision download CelebA from Google Drive (needs internet; Drive often
            refuses with a quota error, then download img_align_celeba.zip by hand).
        batch_size: samples per batch.
        num_workers: DataLoader workers that decode the images.
        drop_last: drop the last incomplete batch.
    """

    def __init__(
        self,
        root: str = "data",
        image_size: int = 64,
        download: bool = False,
        batch_size: int = 128,
        num_workers: int = 2,
        drop_last: bool = True,
    ) -> None:
        super().__init__(str(Path(root) / "celeba"), image_size, 3, batch_size, num_workers, drop_last)
        self.download = download
        self.download_root = root

    def how_to_get(self) -> str:
        return (
            "Download img_align_celeba.zip (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) and unzip "
            f"it into {self.root}/ so that the images are in {self.root}/img_align_celeba/, or set "
            f"data.init_args.download: true (torchvision, needs internet). {NO_DOWNLOAD_HINT}"
        )

    def prepare_data(self) -> None:
        if self.download:
            datasets.CelebA(self.download_root, split="all", target_type=[], download=True)
