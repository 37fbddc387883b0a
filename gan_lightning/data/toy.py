"""Two-dimensional data: seed 003's linearly transformed Gaussian; PacGAN's ring and grid mixtures."""

import math

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


class MixtureDataModule(TensorDataModule):
    """Equal-weight isotropic Gaussians at ``modes`` (PacGAN's 2-D benchmarks).

    PacGAN draws fresh points every batch; a large fixed sample (100k points by default,
    redrawn for each ``seed``) is indistinguishable from that for a GAN and is served like
    every other in-memory data set.

    With ``standardize`` the points are served with zero mean and unit standard deviation per
    coordinate, so a mixture of any size suits networks whose first outputs are a few
    hundredths wide; ``modes`` and ``std`` stay in data space, and the GAN maps its samples
    back through ``data_transform`` (the mean and standard deviation), which it keeps in its
    checkpoints.

    ``divide_by`` is another data set, not a way of serving one: modes, std and points are all
    divided by it (WGAN-GP's toy script divides its 8 Gaussians by 1.414 and its 25 by 2.828), so
    the mode metrics, at ``std``, are taken on the divided data.

    Args:
        modes: (K, 2) mode centres (before ``divide_by``).
        std: standard deviation of every mode (before ``divide_by``; also the scale of the mode metrics).
        num_samples: number of points.
        seed: seed of the points, independent of the training seed.
        batch_size, num_workers, drop_last: as in ``TensorDataModule``.
        standardize: serve (x - mean) / std per coordinate instead of x.
        divide_by: divide the mixture (modes, std, points) by this number.
    """

    def __init__(
        self,
        modes: torch.Tensor,
        std: float,
        num_samples: int = 100_000,
        seed: int = 0,
        batch_size: int = 100,
        num_workers: int = 0,
        drop_last: bool = True,
        standardize: bool = False,
        divide_by: float = 1.0,
    ) -> None:
        super().__init__(batch_size, num_workers, drop_last)
        if std <= 0 or num_samples < 1 or divide_by <= 0:
            raise ValueError(
                f"std and divide_by must be > 0 and num_samples >= 1, got std={std}, divide_by={divide_by}, "
                f"num_samples={num_samples}."
            )
        self.modes = modes.float() if divide_by == 1 else modes.float() / divide_by  # unchanged bits at 1
        self.std = std / divide_by
        self.num_samples = num_samples
        self.seed = seed
        self.standardize = standardize
        self.data_transform: tuple[torch.Tensor, torch.Tensor] | None = None  # (mean, std), set by make_data

    def make_data(self) -> torch.Tensor:
        """The points in data space, or standardised (setting ``data_transform``) with ``standardize``."""
        generator = torch.Generator().manual_seed(self.seed)
        which = torch.randint(len(self.modes), (self.num_samples,), generator=generator)
        points = self.modes[which] + self.std * torch.randn(self.num_samples, 2, generator=generator)
        if not self.standardize:
            return points
        self.data_transform = (points.mean(dim=0), points.std(dim=0))
        return (points - self.data_transform[0]) / self.data_transform[1]


class RingDataModule(MixtureDataModule):
    """PacGAN's ring: ``num_modes`` Gaussians evenly spaced on a circle (8 at radius 1, std 0.01).

    WGAN-GP's 8 Gaussians (gan_toy.py) are radius 2, std 0.02, ``divide_by`` 1.414: the same ring
    1.414 times larger."""

    def __init__(
        self,
        num_modes: int = 8,
        radius: float = 1.0,
        std: float = 0.01,
        num_samples: int = 100_000,
        seed: int = 0,
        batch_size: int = 100,
        num_workers: int = 0,
        drop_last: bool = True,
        standardize: bool = False,
        divide_by: float = 1.0,
    ) -> None:
        angles = 2 * math.pi * torch.arange(num_modes) / num_modes
        modes = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
        super().__init__(modes, std, num_samples, seed, batch_size, num_workers, drop_last, standardize, divide_by)
        self.save_hyperparameters()


class GridDataModule(MixtureDataModule):
    """PacGAN's grid: Gaussians at every point of ``coords`` x ``coords`` (25 at {-4..4}^2, std 0.05).

    WGAN-GP's 25 Gaussians (gan_toy.py) are this grid with ``divide_by`` 2.828."""

    def __init__(
        self,
        coords: list[float] = [-4.0, -2.0, 0.0, 2.0, 4.0],
        std: float = 0.05,
        num_samples: int = 100_000,
        seed: int = 0,
        batch_size: int = 100,
        num_workers: int = 0,
        drop_last: bool = True,
        standardize: bool = False,
        divide_by: float = 1.0,
    ) -> None:
        axis = torch.tensor(coords, dtype=torch.float32)
        modes = torch.cartesian_prod(axis, axis)
        super().__init__(modes, std, num_samples, seed, batch_size, num_workers, drop_last, standardize, divide_by)
        self.save_hyperparameters()
