"""Differentiable Augmentation (DiffAugment; Zhao et al. 2020, arXiv:2006.10738).

With little data D memorises the real images and training collapses. DiffAugment augments
every image D sees, real and generated, in the D step and in the G step alike, with transforms
that are differentiable in the image, so G's gradient flows back through them. Augmenting
only the real images would instead teach G to make augmented images.

The transforms follow the official DiffAugment_pytorch.py (mit-han-lab/data-efficient-gans),
each drawn independently per sample from torch's global random stream:

* ``color``: brightness + U(-0.5, 0.5), saturation x U(0, 2) around the per-pixel channel mean
  (no effect on 1-channel images), contrast x U(0.5, 1.5) around the image mean.
* ``translation``: an integer shift of up to 1/8 of the side in each direction, filled with 0.
* ``cutout``: a square of half the side set to 0, centred anywhere in the image (so clipped at
  the border: on average 18.6% of a 32 px image is cut, at most 25%).

The paper's recommendation is "color,translation,cutout" (100% and 10% data) or
"translation,cutout" when color hurts.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def rand_per_sample(x: Tensor) -> Tensor:
    """U(0, 1) of shape (N, 1, 1, 1), one draw per sample."""
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def color(x: Tensor) -> Tensor:
    """Random brightness, saturation and contrast, in that order."""
    x = x + (rand_per_sample(x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (rand_per_sample(x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (rand_per_sample(x) + 0.5) + mean


def translate(x: Tensor, shift_rows: Tensor, shift_cols: Tensor) -> Tensor:
    """Pixel (i, j) of sample n becomes x[n, :, i + shift_rows[n], j + shift_cols[n]], 0 where
    that is outside the image (so content moves by minus the shift)."""
    n, _, h, w = x.shape
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + shift_rows.view(n, 1, 1) + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + shift_cols.view(n, 1, 1) + 1).clamp(0, w + 1)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    padded = F.pad(x, [1, 1, 1, 1])  # every index past the border lands on this zero frame
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # indexing puts channels last


def rand_translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each sample by integers in [-ratio * side, ratio * side] along rows and columns."""
    n, _, h, w = x.shape
    max_rows, max_cols = int(h * ratio), int(w * ratio)
    shift_rows = torch.randint(-max_rows, max_rows + 1, (n,), device=x.device)
    shift_cols = torch.randint(-max_cols, max_cols + 1, (n,), device=x.device)
    return translate(x, shift_rows, shift_cols)


def cutout_mask(size: tuple[int, int], centre_rows: Tensor, centre_cols: Tensor, cut: tuple[int, int]) -> Tensor:
    """(N, 1, H, W) mask, 0 on each sample's cut x cut rectangle starting half a cut before its
    centre (clipped at the border), 1 elsewhere."""
    h, w = size
    start_rows = (centre_rows - cut[0] // 2).view(-1, 1)
    start_cols = (centre_cols - cut[1] // 2).view(-1, 1)
    r = torch.arange(h, device=centre_rows.device).view(1, h)
    c = torch.arange(w, device=centre_cols.device).view(1, w)
    in_rows = (r >= start_rows) & (r < start_rows + cut[0])  # (N, H)
    in_cols = (c >= start_cols) & (c < start_cols + cut[1])  # (N, W)
    return ~(in_rows[:, :, None] & in_cols[:, None, :]).unsqueeze(1)


def rand_cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero a (ratio * side)-square per sample, centred uniformly over the image as in the
    official code (centres 0..side, the side itself included when the cut is even)."""
    n, _, h, w = x.shape
    cut = (int(h * ratio), int(w * ratio))
    centre_rows = torch.randint(0, h + (1 - cut[0] % 2), (n,), device=x.device)
    centre_cols = torch.randint(0, w + (1 - cut[1] % 2), (n,), device=x.device)
    return x * cutout_mask((h, w), centre_rows, centre_cols, cut).to(x.dtype)


AUGMENTATIONS = {"color": color, "translation": rand_translation, "cutout": rand_cutout}


class DiffAugment(nn.Module):
    """Apply the policy's transforms, in its order, to a batch (N, C, H, W).

    Call the same instance on every batch D sees: real and fake in the D step, fake in the G
    step. It has no parameters and acts alike in train and eval mode.

    Args:
        policy: comma-separated names from ``AUGMENTATIONS`` ("color", "translation",
            "cutout"), e.g. "translation,cutout"; "" is the identity.
    """

    def __init__(self, policy: str = "color,translation,cutout") -> None:
        super().__init__()
        names = [name.strip() for name in policy.split(",") if name.strip()]
        unknown = [name for name in names if name not in AUGMENTATIONS]
        if unknown:
            raise ValueError(
                f"Unknown DiffAugment transform(s) {unknown} in policy {policy!r}. Valid names: "
                f"{', '.join(AUGMENTATIONS)}, comma-separated (e.g. 'color,translation,cutout'), or '' for none."
            )
        self.policy = names

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 and self.policy:
            raise ValueError(f"DiffAugment takes image batches (N, C, H, W), got shape {tuple(x.shape)}.")
        for name in self.policy:
            x = AUGMENTATIONS[name](x)
        return x

    def extra_repr(self) -> str:
        return f"policy={','.join(self.policy)!r}"
