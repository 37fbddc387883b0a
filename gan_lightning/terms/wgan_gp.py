"""WGAN-GP's gradient penalty (Gulrajani et al. 2017)."""

import torch
from torch import Tensor, autograd

from gan_lightning.terms.base import StepContext, Term


class GradientPenalty(Term):
    """E (||grad D(x_hat)||_2 - 1)^2 at random interpolates x_hat of real and fake samples (one
    uniform weight per pair, from the global random stream); ``weight`` is the paper's lambda
    (10 for images, 0.1 in its toy script). Pair it with ``loss: wasserstein``."""

    name = "gp"
    step = "D"

    def forward(self, ctx: StepContext) -> Tensor:
        real = ctx.real.detach()
        alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        x_hat = (alpha * real + (1 - alpha) * ctx.fake.detach()).requires_grad_(True)
        (grad,) = autograd.grad(ctx.critic(x_hat).sum(), x_hat, create_graph=True)
        return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()
