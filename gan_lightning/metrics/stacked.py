"""Stacked MNIST's mode metrics (Metz et al. 2017; VEEGAN; PacGAN, Lin et al. 2018): a digit
classifier reads each of the R, G, B channels of a sample, giving its triplet 0..999.

- **modes**: how many of the 1,000 triplets at least one sample is classified as (PacGAN's code,
  ``len(map.keys())``, and VEEGAN's/Unrolled GAN's "modes generated at least once"; no threshold);
- **KL**: KL(p || uniform) of the samples' triplet histogram p (PacGAN's ``KLD(p, q)`` with q
  uniform over the 1,000 triplets): 0 for even coverage, ln 1000 = 6.91 for a single triplet.

PacGAN scores 25,600 samples. Real stacked digits score about 1,000 modes and a KL near 0 there
(finite-sample KL ~ 999 / (2 * 25,600) = 0.02 plus the classifier's own confusions).
"""

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from gan_lightning.metrics.modes import kl_to_uniform

NUM_TRIPLETS = 1000
NUM_SAMPLES = 25_600  # PacGAN's scored sample count (Table 3)
SINGLE_TRIPLET_KL = math.log(NUM_TRIPLETS)


class StackedStats(NamedTuple):
    modes: int
    kl: float


@torch.no_grad()
def classify_triplets(images: Tensor, classifier: nn.Module, batch_size: int = 1000) -> Tensor:
    """(N, 3, S, S) images in [-1, 1] -> (N,) triplets 100 R + 10 G + B, each channel's digit the
    classifier's most likely class (``predict_proba`` on 1-channel images)."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"Stacked MNIST samples are (N, 3, S, S) images; got shape {tuple(images.shape)}.")
    n = images.shape[0]
    channels = images.transpose(0, 1).reshape(3 * n, 1, *images.shape[2:])  # all R, then all G, then all B
    digits = classifier.predict_proba(channels.cpu(), batch_size).argmax(dim=1).view(3, n)
    return digits[0] * 100 + digits[1] * 10 + digits[2]


def triplet_counts(triplets: Tensor) -> Tensor:
    """How many samples fall on each of the 1,000 triplets: (N,) -> (1000,) int64."""
    return torch.bincount(triplets.long().view(-1), minlength=NUM_TRIPLETS)


def stacked_stats(counts: Tensor) -> StackedStats:
    """Modes covered (triplets with at least one sample) and KL to uniform of a triplet histogram."""
    return StackedStats(modes=int((counts > 0).sum()), kl=kl_to_uniform(counts))


@torch.no_grad()
def generated_counts(gan: nn.Module, classifier: nn.Module, num_samples: int = NUM_SAMPLES, seed: int = 0,
                     batch_size: int = 2560) -> Tensor:  # fmt: skip
    """The triplet histogram of ``num_samples`` samples of ``gan`` (its sampling G: the EMA one when
    kept) from latents of a fixed seed, made and classified ``batch_size`` at a time."""
    z = gan.draw_latent(num_samples, torch.Generator().manual_seed(seed))
    counts = torch.zeros(NUM_TRIPLETS, dtype=torch.long)
    for chunk in z.split(batch_size):
        counts += triplet_counts(classify_triplets(gan.generate(chunk).cpu(), classifier))
    return counts


def histogram_image(counts: Tensor, cell: int = 6) -> np.ndarray:
    """The 1,000-bin histogram as a 10 x 100 heat map (RGB uint8): row = R digit, column =
    10 G + B; a cell's grey level is its count over the uniform share (white at 2x or more), a
    missing triplet is red. A thin line separates each G digit's block of 10 columns."""
    if counts.numel() != NUM_TRIPLETS:
        raise ValueError(f"a Stacked MNIST histogram has {NUM_TRIPLETS} bins, got {counts.numel()}.")
    share = counts.double().view(10, 100) / max(1.0, float(counts.sum()) / NUM_TRIPLETS)
    grey = (share.clamp(max=2.0) / 2.0 * 255).round().to(torch.uint8).numpy()
    rgb = np.stack([grey, grey, grey], axis=-1)
    rgb[counts.view(10, 100).numpy() == 0] = (220, 30, 30)
    big = rgb.repeat(cell, axis=0).repeat(cell, axis=1)
    for g in range(1, 10):  # dark lines between the G digits' blocks
        big[:, g * 10 * cell - 1] = (40, 40, 160)
    return big

