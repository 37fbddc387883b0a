"""R2: the zero-centred gradient penalty on D at the fakes (Mescheder et al. 2018; with R1 and
the relativistic pairing loss it makes R3GAN's loss, Huang et al. 2024)."""

from torch import Tensor

from gan_lightning.terms.base import StepContext, Term
from gan_lightning.terms.r1 import zero_centred_gradient_penalty


class R2(Term):
    """0.5 E_z ||grad D(G(z))||^2 on the (detached) fakes; ``weight`` is gamma. R3GAN gives R1
    and R2 the same gamma."""

    name = "r2"
    step = "D"

    def forward(self, ctx: StepContext) -> Tensor:
        return zero_centred_gradient_penalty(ctx.critic, ctx.fake)
