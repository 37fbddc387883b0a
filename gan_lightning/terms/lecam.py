"""LeCam regularisation (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under
Limited Data"): keeps D's outputs on real and fake data from drifting apart, which on small
data sets is how D overfits."""

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_lightning.terms.base import StepContext, Term


class LeCam(Term):
    """E [D(x) - a_F]_+^2 + E [a_R - D(G(z))]_+^2, with a_R and a_F exponential moving averages
    (``decay``) of D's mean output on real and on fake batches, as the authors' code computes it
    (one-sided, the averages updated with this batch first). The averages are buffers: on the
    device (no host sync) and in checkpoints. The paper's weight is 0.3 (BigGAN on CIFAR-10), its
    decay 0.99."""

    name = "lecam"
    step = "D"

    def __init__(self, weight: float = 0.3, decay: float = 0.99, every: int = 1) -> None:
        super().__init__(weight, every)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"LeCam decay must be in [0, 1), got {decay}.")
        self.decay = decay
        self.register_buffer("ema_real", torch.zeros(()))
        self.register_buffer("ema_fake", torch.zeros(()))

    def forward(self, ctx: StepContext) -> Tensor:
        with torch.no_grad():
            self.ema_real.lerp_(ctx.d_real.mean().to(self.ema_real.dtype), 1 - self.decay)
            self.ema_fake.lerp_(ctx.d_fake.mean().to(self.ema_fake.dtype), 1 - self.decay)
        return F.relu(ctx.d_real - self.ema_fake).pow(2).mean() + F.relu(self.ema_real - ctx.d_fake).pow(2).mean()

    def extra_repr(self) -> str:
        return f"weight={self.weight}, decay={self.decay}"
