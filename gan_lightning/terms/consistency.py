"""Balanced consistency regularisation (bCR, Zhao et al. 2020, "Improved Consistency
Regularization for GANs"): D should judge an image and its augmented copy alike, on real and
on fake images."""

from torch import Tensor

from gan_lightning.augment import DiffAugment
from gan_lightning.terms.base import StepContext, Term


class BalancedConsistency(Term):
    """E (D(T(x)) - D(x))^2 + E (D(T(G(z))) - D(G(z)))^2; ``weight`` is the paper's lambda_real
    = lambda_fake = 10. ``policy`` is the augmentation T, any DiffAugment policy (the paper:
    translation and flips on CIFAR-10; a flip changes a digit, so translation by default).
    D(x) and D(G(z)) are the step's own outputs; T is drawn anew for each sample."""

    name = "bcr"
    step = "D"

    def __init__(self, weight: float = 10.0, policy: str = "translation", every: int = 1) -> None:
        super().__init__(weight, every)
        self.transform = DiffAugment(policy)
        if not self.transform.policy:
            raise ValueError("BalancedConsistency needs an augmentation policy, e.g. policy: translation.")

    def forward(self, ctx: StepContext) -> Tensor:
        real_term = (ctx.critic(self.transform(ctx.real)) - ctx.d_real).pow(2).mean()
        fake_term = (ctx.critic(self.transform(ctx.fake)) - ctx.d_fake).pow(2).mean()
        return real_term + fake_term

    def extra_repr(self) -> str:
        return f"weight={self.weight}, policy={','.join(self.transform.policy)!r}"
