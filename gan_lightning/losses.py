"""Adversarial objectives, each a (D loss, G loss) pair on raw discriminator outputs.

Every function takes the discriminator's raw output (a logit, a critic score or an energy),
never a probability: ``softplus`` gives the numerically stable form of
``BCELoss(Sigmoid(x))``, so no Sigmoid + BCELoss appears anywhere.

To add an objective, write its two functions and add one line to ``OBJECTIVES``.
"""

from dataclasses import dataclass
from typing import Callable, Literal, get_args

import torch.nn.functional as F
from torch import Tensor

LossName = Literal["minimax", "non_saturating", "lsgan", "hinge", "wasserstein", "energy"]


# --- binary cross-entropy (the seeds' game) -------------------------------------------------
def bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """-log D(x) - log(1 - D(G(z))): real labelled 1, fake labelled 0, as in the seed loop."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g_loss(fake: Tensor) -> Tensor:
    """log(1 - D(G(z))), the saturating loss of the original game.

    Its gradient vanishes once D confidently rejects the fakes; kept to show that pitfall.
    """
    return -F.softplus(fake).mean()


def non_saturating_g_loss(fake: Tensor) -> Tensor:
    """-log D(G(z)): the fakes labelled real, the seed loop's G loss."""
    return F.softplus(-fake).mean()


# --- least squares (LSGAN, seed 002's "L2 loss") ---------------------------------------------
def lsgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2 (Mao et al., targets a=0, b=1)."""
    return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()


def lsgan_g_loss(fake: Tensor) -> Tensor:
    """0.5 (D(G(z)) - 1)^2 (target c=1)."""
    return 0.5 * (fake - 1).pow(2).mean()


# --- hinge (SNGAN, BigGAN) -------------------------------------------------------------------
def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """[1 - D(x)]^+ + [1 + D(G(z))]^+."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def critic_g_loss(fake: Tensor) -> Tensor:
    """-D(G(z)): G raises the critic's score of its samples (hinge and Wasserstein)."""
    return -fake.mean()


# --- Wasserstein (WGAN; add a gradient penalty from regularizers.py) --------------------------
def wasserstein_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """D(G(z)) - D(x): the negated Kantorovich-Rubinstein estimate."""
    return fake.mean() - real.mean()


# --- energy-based margin loss (EBGAN, seeds 000 and 004) -------------------------------------
def energy_d_loss(real: Tensor, fake: Tensor, margin: float) -> Tensor:
    """C(x) + [m - C(G(z))]^+: low energy on real data, at least m on fakes."""
    return real.mean() + F.relu(margin - fake).mean()


def energy_g_loss(fake: Tensor) -> Tensor:
    """C(G(z)): G lowers the energy of its samples."""
    return fake.mean()


@dataclass(frozen=True)
class Objective:
    """A D loss, a G loss, and whether D's output is a logit (so sigmoid gives D(x))."""

    d_loss: Callable[..., Tensor]
    g_loss: Callable[[Tensor], Tensor]
    output_is_logit: bool


OBJECTIVES: dict[str, Objective] = {
    "minimax": Objective(bce_d_loss, minimax_g_loss, output_is_logit=True),
    "non_saturating": Objective(bce_d_loss, non_saturating_g_loss, output_is_logit=True),
    "lsgan": Objective(lsgan_d_loss, lsgan_g_loss, output_is_logit=False),
    "hinge": Objective(hinge_d_loss, critic_g_loss, output_is_logit=False),
    "wasserstein": Objective(wasserstein_d_loss, critic_g_loss, output_is_logit=False),
    "energy": Objective(energy_d_loss, energy_g_loss, output_is_logit=False),
}
assert set(OBJECTIVES) == set(get_args(LossName)), "LossName and OBJECTIVES must list the same names"


def get_objective(name: str) -> Objective:
    """Look an objective up by name, with an error that lists the valid names."""
    if name not in OBJECTIVES:
        raise ValueError(f"Unknown loss {name!r}. Valid names: {', '.join(OBJECTIVES)}.")
    return OBJECTIVES[name]

