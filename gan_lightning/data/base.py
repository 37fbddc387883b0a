"""A datamodule for data sets small enough to live in memory as one tensor."""

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader

from gan_lightning.data.resumable import resumable_loader


class TensorDataModule(LightningDataModule):
    """Serves ``self.data`` (built by ``make_data``) in shuffled batches, as (data, label)
    batches when ``make_data`` also gives labels (``self.labels``; conditional GANs need them).

    The loader resumes mid-epoch in the same order (``gan_lightning.data.resumable``) and
    splits the batches over the ranks under DDP; nothing is decoded per batch.

    Args:
        batch_size: samples per batch.
        num_workers: DataLoader workers (0 is fastest for in-memory tensors).
        drop_last: drop the last incomplete batch (keeps BatchNorm statistics sane).
    """

    def __init__(self, batch_size: int = 64, num_workers: int = 0, drop_last: bool = True) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.drop_last = drop_last
        self.data: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None

    def make_data(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Return the whole data set as one tensor of shape (N, *sample_shape), or that and
        its N int64 class labels."""
        raise NotImplementedError

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        if self.data is None:
            self.setup("fit")
        return tuple(self.data.shape[1:])

    def setup(self, stage: str) -> None:
        if self.data is None:
            made = self.make_data()
            self.data, self.labels = made if isinstance(made, tuple) else (made, None)

    def train_dataloader(self) -> StatefulDataLoader:
        dataset = TensorDataset(self.data) if self.labels is None else TensorDataset(self.data, self.labels)
        return resumable_loader(dataset, self.batch_size, self.drop_last, self.num_workers, self.trainer)
