"""Mode seeking (MSGAN, Mao et al. 2019): G is penalised for the same output from different z."""

from torch import Tensor

from gan_lightning.terms.base import StepContext, Term


def mode_seeking_penalty(z: Tensor, fake: Tensor, eps: float = 1e-5) -> Tensor:
    """The inverse of mean|G(z1) - G(z2)| / mean|z1 - z2| over the pairs (first half of the batch,
    second half), which grows as G maps different z onto one x."""
    half = fake.shape[0] // 2
    d_out = (fake[:half] - fake[half : 2 * half]).abs().flatten(1).mean(1)
    d_z = (z[:half] - z[half : 2 * half]).abs().flatten(1).mean(1)
    return 1.0 / ((d_out / d_z).mean() + eps)


class ModeSeeking(Term):
    """``weight`` is the paper's lambda (1 in its experiments)."""

    name = "mode_seeking"
    step = "G"

    def forward(self, ctx: StepContext) -> Tensor:
        return mode_seeking_penalty(ctx.z, ctx.fake)
