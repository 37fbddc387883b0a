"""The latent prior p(z) (``Latent``) and functions on latent vectors: interpolation paths and
the truncation trick.

A normal z of dimension d concentrates on a shell of radius ~std * sqrt(d); a straight line
between two such points cuts through the inside (its midpoint has norm ~sqrt(1/2) of theirs),
where G has seen no latents. Spherical interpolation (slerp; White 2016, "Sampling Generative
Networks") walks along the shell instead. A uniform z fills its cube, so a straight line stays
in the region G was trained on.
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor


@dataclass(frozen=True)
class Latent:
    """The prior p(z) that G is trained and sampled with, and the fixed latents of its grids.

    Args:
        distribution: "normal" draws z ~ N(0, std^2 I), "uniform" z ~ U(-1, 1).
        std: standard deviation of a normal latent (seed 002's MLP GAN uses 0.1).
        num_fixed: how many fixed latents the progress grids show (the module's ``fixed_noise``).
        fixed_seed: their seed: the same grids on every rank, run and resume.
    """

    distribution: Literal["normal", "uniform"] = "normal"
    std: float = 1.0
    num_fixed: int = 64
    fixed_seed: int = 1234

    def draw(self, n: int, dim: int, generator: torch.Generator | None = None, device: torch.device | None = None) -> Tensor:
        """n latents of ``dim`` entries, on the generator's device when one is given (so a
        seeded CPU generator draws the same z on any machine), else on ``device``."""
        device = generator.device if generator is not None else device
        if self.distribution == "uniform":
            return torch.rand(n, dim, generator=generator, device=device) * 2 - 1
        return torch.randn(n, dim, generator=generator, device=device) * self.std


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Points (1 - t) a + t b: a, b (N, D), t (T,) -> (N, T, D)."""
    t = t.view(1, -1, 1).to(a.dtype)
    return a.unsqueeze(1) * (1 - t) + b.unsqueeze(1) * t


def slerp(a: Tensor, b: Tensor, t: Tensor, eps: float = 1e-6) -> Tensor:
    """Spherical interpolation: a, b (N, D), t (T,) -> (N, T, D).

    sin((1 - t) w) / sin(w) a + sin(t w) / sin(w) b, w the angle between a and b; it equals a
    at t = 0 and b at t = 1, and where a and b are (anti)parallel (sin w < eps) the straight line.
    """
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1).clamp(-1, 1)
    omega = torch.acos(cos).view(-1, 1, 1)  # (N, 1, 1)
    sin = torch.sin(omega)
    t = t.view(1, -1, 1).to(a.dtype)
    parallel = sin.abs() < eps
    safe = torch.where(parallel, torch.ones_like(sin), sin)
    wa = torch.where(parallel, 1 - t, torch.sin((1 - t) * omega) / safe)
    wb = torch.where(parallel, t.expand_as(wa), torch.sin(t * omega) / safe)
    return wa * a.unsqueeze(1) + wb * b.unsqueeze(1)


def interpolate(a: Tensor, b: Tensor, steps: int, spherical: bool) -> Tensor:
    """``steps`` evenly spaced points from a to b (both included): (N, D) pairs -> (N, steps, D)."""
    if steps < 2:
        raise ValueError(f"An interpolation needs at least 2 steps (its two ends), got {steps}.")
    t = torch.linspace(0, 1, steps, device=a.device)
    return slerp(a, b, t) if spherical else lerp(a, b, t)


def truncated_normal(
    n: int, dim: int, psi: float, std: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """(n, dim) draws of N(0, std^2) conditioned on |z| <= psi * std (BigGAN's truncation trick).

    Equivalent to redrawing every entry outside the bound until it falls inside, but exact in
    one pass: the inverse normal CDF of a uniform draw between Phi(-psi) and Phi(psi). Smaller
    psi trades variety for samples nearer the mode (typical quality).
    """
    if psi <= 0:
        raise ValueError(f"The truncation psi must be > 0 (entries are kept within psi * std), got {psi}.")
    device = generator.device if generator is not None else None
    u = torch.rand(n, dim, generator=generator, device=device, dtype=torch.float64)
    lo = 0.5 * math.erfc(psi / math.sqrt(2))  # Phi(-psi)
    z = torch.special.ndtri(lo + u * (1 - 2 * lo))
    return (z.clamp(-psi, psi) * std).float()  # the clamp only absorbs rounding at the ends
