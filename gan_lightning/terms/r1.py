"""R1 (Mescheder et al. 2018): a zero-centred gradient penalty on D at the real data."""

from typing import Callable

from torch import Tensor, autograd

from gan_lightning.terms.base import StepContext, Term


def zero_centred_gradient_penalty(critic: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """0.5 E ||grad_x D(x)||^2 at ``x`` (detached here); ``create_graph`` so D trains through it."""
    x = x.detach().requires_grad_(True)
    (grad,) = autograd.grad(critic(x).sum(), x, create_graph=True)
    return 0.5 * grad.flatten(1).pow(2).sum(1).mean()


class R1(Term):
    """0.5 E_x ||grad D(x)||^2 on real samples; ``weight`` is the paper's gamma. It keeps D flat
    on the data, so G is not pushed off it once it gets there (the default experiment: gamma 1)."""

    name = "r1"
    step = "D"

    def forward(self, ctx: StepContext) -> Tensor:
        return zero_centred_gradient_penalty(ctx.critic, ctx.real)
