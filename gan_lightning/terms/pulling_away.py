"""EBGAN's pulling-away term (Zhao et al. 2017, EBGAN-PT)."""

import torch
from torch import Tensor, nn

from gan_lightning.terms.base import StepContext, Term


def pulling_away_term(codes: Tensor) -> Tensor:
    """The mean squared cosine similarity between the codes of different samples of a batch,
    1/(N(N-1)) sum_{i != j} cos(s_i, s_j)^2 (eq. 6): small when the codes point in different
    directions, 1 when G makes one sample."""
    s = torch.nn.functional.normalize(codes.flatten(1), dim=1)
    n = s.shape[0]
    cos2 = (s @ s.T).pow(2)
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


class PullingAway(Term):
    """The term on the fakes' codes in the autoencoder D's ``encoder`` (one more encoder pass, as
    in the paper); ``weight`` 0.1 is the paper's EBGAN-PT. Needs a netD with an ``encoder``
    (gan_lightning.networks.AutoencoderEnergy)."""

    name = "pull_away"
    step = "G"

    def forward(self, ctx: StepContext) -> Tensor:
        return pulling_away_term(ctx.gan.netD.encoder(ctx.gan.augment(ctx.fake)))

    def check(self, gan) -> None:
        if not isinstance(getattr(gan.netD, "encoder", None), nn.Module):
            raise ValueError(
                f"PullingAway needs a netD with an `encoder` module (the EBGAN autoencoder, "
                f"gan_lightning.networks.AutoencoderEnergy); {type(gan.netD).__name__} has none: remove the term."
            )
