"""Adversarial objectives: each a D loss and a G loss on raw discriminator outputs.

Every loss takes the discriminator's raw outputs (logits, critic scores or energies), never
probabilities: ``softplus`` gives the numerically stable form of ``BCELoss(Sigmoid(x))``.
Both losses receive D's outputs on the real batch and on the fakes, by keyword (``d_real=``,
``d_fake=``: an objective cannot get them swapped), so that losses which compare the two
(RaGAN, RpGAN) need nothing from the module. In the G step, ``d_real`` is the value the D step
computed on this batch (detached: G's gradient never flows through D(x)). Penalties and other
additions to a loss are terms (gan_lightning.terms), not objectives.

An objective is chosen in YAML by name (``model.loss: hinge``) or by class, which is how a
loss brings its own hyperparameters and how a fork adds one without editing this package::

    model:
      loss:
        class_path: gan_lightning.losses.EnergyLoss   # or my_project.losses.MyLoss
        init_args: {margin: 10.0}

To add an objective: subclass ``Objective`` and, to give it a short name, add it to ``LOSSES``.
"""

import inspect
from typing import Literal

import torch.nn.functional as F
from torch import Tensor


class Objective:
    """A D loss and a G loss. ``output_is_logit``: sigmoid(D output) is D's probability "real"."""

    output_is_logit: bool = False

    def d_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, d_fake: Tensor, d_real: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def bce_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """-log D(x) - log(1 - D(G(z))): real labelled 1, fake labelled 0, as in the seed loop."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


class MinimaxLoss(Objective):
    """The original game: G minimises log(1 - D(G(z))).

    Its gradient vanishes once D confidently rejects the fakes; kept to show that pitfall.
    """

    output_is_logit = True

    def d_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        return bce_d_loss(d_real, d_fake)

    def g_loss(self, d_fake: Tensor, d_real: Tensor) -> Tensor:
        return -F.softplus(d_fake).mean()


class NonSaturatingLoss(MinimaxLoss):
    """The seed loop's G loss, -log D(G(z)): the fakes labelled real."""

    def g_loss(self, d_fake: Tensor, d_real: Tensor) -> Tensor:
        return F.softplus(-d_fake).mean()


class LSGANLoss(Objective):
    """Least squares (Mao et al.; seed 002's "L2 loss"), targets a=0, b=1, c=1:
    D: 0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2; G: 0.5 (D(G(z)) - 1)^2."""

    def d_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        return 0.5 * (d_real - 1).pow(2).mean() + 0.5 * d_fake.pow(2).mean()

    def g_loss(self, d_fake: Tensor, d_real: Tensor) -> Tensor:
        return 0.5 * (d_fake - 1).pow(2).mean()


class HingeLoss(Objective):
    """Hinge (SNGAN, BigGAN): D: [1 - D(x)]^+ + [1 + D(G(z))]^+; G: -D(G(z))."""

    def d_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()

    def g_loss(self, d_fake: Tensor, d_real: Tensor) -> Tensor:
        return -d_fake.mean()


class WassersteinLoss(HingeLoss):
    """WGAN: D minimises D(G(z)) - D(x), the negated Kantorovich-Rubinstein estimate; G: -D(G(z)).
    Needs a Lipschitz critic: the GradientPenalty term (WGAN-GP) or spectral norm."""

    def d_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        return d_fake.mean() - d_real.mean()


class EnergyLoss(Objective):
    """EBGAN's margin loss (seeds 000 and 004) on a non-negative cost C:
    D: C(x) + [m - C(G(z))]^+ (low energy on data, at least ``margin`` on fakes); G: C(G(z))."""

    def __init__(self, margin: float = 1.0) -> None:
        if margin <= 0:
            raise ValueError(f"EnergyLoss margin must be > 0, got {margin}.")
        self.margin = margin

    def d_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        return d_real.mean() + F.relu(self.margin - d_fake).mean()

    def g_loss(self, d_fake: Tensor, d_real: Tensor) -> Tensor:
        return d_fake.mean()


class RelativisticAverageLoss(Objective):
    """RaGAN (Jolicoeur-Martineau 2018), BCE form: D judges whether a real sample looks more real
    than the average fake, and G gets gradients from both sides of that comparison:
    D: -log σ(D(x) - E D(G(z))) - log(1 - σ(D(G(z)) - E D(x)));
    G: -log σ(D(G(z)) - E D(x)) - log(1 - σ(D(x) - E D(G(z)))).

    In the G step, D(x) is the D step's value (before D's update; the paper recomputes it with
    the updated D, which costs one more D forward per batch).
    """

    def d_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        return F.softplus(-(d_real - d_fake.mean())).mean() + F.softplus(d_fake - d_real.mean()).mean()

    def g_loss(self, d_fake: Tensor, d_real: Tensor) -> Tensor:
        return self.d_loss(d_real=d_fake, d_fake=d_real)  # the same game with the roles swapped


class RelativisticPairingLoss(Objective):
    """RpGAN (Jolicoeur-Martineau 2018; the loss of R3GAN, Huang et al. 2024): each fake is
    judged against a real sample, pair by pair: D: softplus(D(G(z_i)) - D(x_i)); G:
    softplus(D(x_i) - D(G(z_i))). R3GAN adds R1 and R2 with one gamma (``d_terms``). As for
    RaGAN, the G step reads D(x) from the D step (R3GAN recomputes it with the updated D)."""

    def d_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        return F.softplus(d_fake - d_real).mean()

    def g_loss(self, d_fake: Tensor, d_real: Tensor) -> Tensor:
        return F.softplus(d_real - d_fake).mean()


LOSSES: dict[str, type[Objective]] = {
    "minimax": MinimaxLoss,
    "non_saturating": NonSaturatingLoss,
    "lsgan": LSGANLoss,
    "hinge": HingeLoss,
    "wasserstein": WassersteinLoss,
    "energy": EnergyLoss,
    "ragan": RelativisticAverageLoss,
    "rpgan": RelativisticPairingLoss,
}

# The names again as a type, derived from LOSSES, so that the CLI refuses a misspelt name at parse time.
LossName = Literal[tuple(LOSSES)]  # type: ignore[valid-type]


def get_objective(loss: str | Objective) -> Objective:
    """An objective from its short name (default hyperparameters) or as given."""
    if isinstance(loss, Objective):
        return loss
    if loss not in LOSSES:
        raise ValueError(
            f"Unknown loss {loss!r}. Valid names: {', '.join(LOSSES)}; or give a class: "
            "loss: {class_path: my_module.MyLoss, init_args: {...}} (a gan_lightning.losses.Objective)."
        )
    return LOSSES[loss]()



def check_keyword_interface(objective: Objective) -> Objective:
    """``objective``, after checking that its losses take ``d_real`` and ``d_fake`` by keyword, as
    the module passes them; an objective written with other argument names is refused with the fix."""
    for method in ("d_loss", "g_loss"):
        params = inspect.signature(getattr(objective, method)).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        if not takes_any and not {"d_real", "d_fake"} <= set(params):
            raise ValueError(
                f"{type(objective).__name__}.{method}{inspect.signature(getattr(objective, method))} must take the "
                f"arguments d_real and d_fake (the module passes them by keyword): rename its arguments to "
                f"{method}(self, {'d_real, d_fake' if method == 'd_loss' else 'd_fake, d_real'})."
            )
    return objective
