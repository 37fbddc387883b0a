"""Mode-collapse metrics: PacGAN's (Lin et al. 2018) for 2-D mixtures, and a label-free
diversity ratio for any data (class coverage for digits is in ``metrics/classifier.py``).

PacGAN's definitions, on 2,500 generated points:

- a sample is *high quality* if it lies within 3 standard deviations of its nearest mode;
- a mode is *covered* if at least one high-quality sample has it as nearest mode;
- *reverse KL* is KL(p || uniform) between the modes' histogram p of the high-quality samples
  and the uniform distribution over the modes: 0 for even coverage, log K for a single mode.
"""

import math
from typing import NamedTuple

import torch
from torch import Tensor


class ModeStats(NamedTuple):
    modes_covered: int
    hq_fraction: float
    reverse_kl: float


def kl_to_uniform(counts: Tensor) -> float:
    """KL(p || uniform) of the histogram ``counts`` (or fractions); log K when it is empty.

    The project's one KL to uniform: PacGAN's reverse KL and ClassCoverage's class KL."""
    k = counts.numel()
    total = counts.sum()
    if total == 0:
        return math.log(k)
    p = counts.double() / total
    nonzero = p[p > 0]
    return float((nonzero * nonzero.log()).sum() + math.log(k))


def mode_stats(samples: Tensor, modes: Tensor, std: float, num_std: float = 3.0) -> ModeStats:
    """PacGAN's modes covered, high-quality fraction and reverse KL of ``samples`` (N, D).

    ``modes`` is (K, D); every mode has standard deviation ``std``.
    """
    if samples.dim() != 2 or modes.dim() != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(
            f"samples {tuple(samples.shape)} and modes {tuple(modes.shape)} must be (N, D) and (K, D) "
            "with the same D: flatten the samples and pass one row per mode centre."
        )
    distance, nearest = torch.cdist(samples.double(), modes.double()).min(dim=1)
    high_quality = distance <= num_std * std
    counts = torch.bincount(nearest[high_quality], minlength=len(modes))
    return ModeStats(
        modes_covered=int((counts > 0).sum()),
        hq_fraction=float(high_quality.double().mean()) if len(samples) else 0.0,
        reverse_kl=kl_to_uniform(counts),
    )


def mean_pairwise_distance(x: Tensor) -> Tensor:
    """Mean Euclidean distance between distinct samples (flattened)."""
    flat = x.flatten(1).double()
    n = flat.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 samples for a pairwise distance, got {n}.")
    return torch.cdist(flat, flat).sum() / (n * (n - 1))


def diversity_ratio(fake: Tensor, real: Tensor) -> float:
    """Mean pairwise distance of generated samples over that of real ones; needs no labels.

    About 1 when G is as spread out as the data, towards 0 as G collapses onto few outputs.
    """
    return float(mean_pairwise_distance(fake) / mean_pairwise_distance(real).clamp_min(1e-12))
