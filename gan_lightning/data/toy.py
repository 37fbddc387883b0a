"""Two-dimensional data: seed 003's linearly transformed Gaussian."""

import torch

from gan_lightning.data.base import TensorDataModule


class GaussianDataModule(TensorDataModule):
    """Seed 003 (d2l.ai): X ~ N(0, I) in 2-D, data = X A + b; the covariance to recover is A^T A.

    Args:
        num_samples: number of points.
        A: the 2x2 linear map.
        b: the offset, the mean to recover.
        seed: seed of the points, independent of the training seed.
        batch_size: samples per batch.
        num_workers: DataLoader workers.
        drop_last: drop the last incomplete batch.
    """

    def __init__(
        self,
        num_samples: int = 1000,
        A: list[list[float]] = [[1.0, 2.0], [-0.1, 0.5]],
        b: list[float] = [1.0, 2.0],
        seed: int = 0,
        batch_size: int = 8,
        num_workers: int = 0,
        drop_last: bool = True,
    ) -> None:
        super().__init__(batch_size, num_workers, drop_last)
        self.save_hyperparameters()
        self.A = torch.tensor(A)
        self.b = torch.tensor(b)
        self.seed = seed
        self.num_samples = num_samples

    def make_data(self) -> torch.Tensor:
        X = torch.randn(self.num_samples, 2, generator=torch.Generator().manual_seed(self.seed))
        return X @ self.A + self.b

    @property
    def true_mean(self) -> torch.Tensor:
        return self.b

    @property
    def true_covariance(self) -> torch.Tensor:
        return self.A.T @ self.A
