"""What discriminators share: minibatch standard deviation (ProGAN, Karras et al. 2018) and the
input-shape check of the image discriminators."""

import torch
from torch import Tensor, nn


class MinibatchStdDev(nn.Module):
    """Appends one feature: the batch's standard deviation, averaged over features.

    A collapsed generator gives batches with little spread, which D can then see and punish
    (a remedy for mode collapse). On (N, F) it returns (N, F + 1); on (N, C, H, W) it returns
    (N, C + 1, H, W). With ``group_size`` the statistic is taken per group of that many samples
    (the batch size must divide by it); by default over the whole batch.
    """

    def __init__(self, group_size: int | None = None, eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size = group_size
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        g = self.group_size or n
        if n % g:
            raise ValueError(f"MinibatchStdDev: batch size {n} is not divisible by group_size {g}.")
        grouped = x.reshape(g, n // g, *x.shape[1:])  # sample i belongs to group i % (n // g)
        std = (grouped.var(dim=0, unbiased=False) + self.eps).sqrt()  # (n // g, *features)
        stat = std.flatten(1).mean(dim=1)  # one number per group
        stat = stat.repeat(g).reshape(n, 1, *([1] * (x.dim() - 2)))
        return torch.cat([x, stat.expand(n, 1, *x.shape[2:])], dim=1)


def check_image_input(x: Tensor, in_shape: tuple[int, ...], network: str) -> None:
    """Raise a ValueError naming both shapes if ``x`` is not a batch of ``in_shape`` images
    (channels x pack, image_size, image_size), before a matrix-size error deep inside D."""
    if tuple(x.shape[1:]) != in_shape:
        raise ValueError(
            f"{network} was built for inputs of shape {in_shape} (channels x pack, "
            f"image_size, image_size) but got {tuple(x.shape[1:])}: set its channels/image_size "
            "to the datamodule's."
        )
