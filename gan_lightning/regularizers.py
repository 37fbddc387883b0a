"""Penalties added to the adversarial losses: WGAN-GP and R1 on D, mode seeking and EBGAN's
pulling-away term on G."""

from typing import Callable

import torch
from torch import Tensor


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): (||grad_x D(x_hat)||_2 - 1)^2 at random interpolates.

    ``create_graph=True`` so that the penalty itself is trained through.
    """
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): 0.5 E ||grad_x D(x)||^2 on real data."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return 0.5 * grad.flatten(1).pow(2).sum(1).mean()


def mode_seeking_penalty(z: Tensor, fake: Tensor, eps: float = 1e-5) -> Tensor:
    """Mode seeking (MSGAN, Mao et al. 2019): penalise G for the same output from different z.

    Pairs the first and second halves of the batch and returns the inverse of
    mean|G(z1) - G(z2)| / mean|z1 - z2|, which grows as G collapses different z onto one x.
    """
    half = fake.shape[0] // 2
    d_out = (fake[:half] - fake[half : 2 * half]).abs().flatten(1).mean(1)
    d_z = (z[:half] - z[half : 2 * half]).abs().flatten(1).mean(1)
    return 1.0 / ((d_out / d_z).mean() + eps)


def pulling_away_term(codes: Tensor) -> Tensor:
    """EBGAN's pulling-away term (Zhao et al. 2017, eq. 6): the mean squared cosine similarity
    between the codes of different samples of a batch, 1/(N(N-1)) sum_{i != j} cos(s_i, s_j)^2.
    Small when the batch's codes point in different directions; 1 when G makes one sample."""
    s = torch.nn.functional.normalize(codes.flatten(1), dim=1)
    n = s.shape[0]
    cos2 = (s @ s.T).pow(2)
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))
