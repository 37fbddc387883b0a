"""Terms added to D's or G's loss, one small class each (see ``base``). Name them in YAML:
``model.d_terms: [{class_path: gan_lightning.terms.R1, init_args: {weight: 1.0}}]``."""

from gan_lightning.terms.base import StepContext, Term
from gan_lightning.terms.consistency import BalancedConsistency
from gan_lightning.terms.lecam import LeCam
from gan_lightning.terms.mode_seeking import ModeSeeking
from gan_lightning.terms.pulling_away import PullingAway
from gan_lightning.terms.r1 import R1
from gan_lightning.terms.r2 import R2
from gan_lightning.terms.wgan_gp import GradientPenalty

__all__ = ["BalancedConsistency", "GradientPenalty", "LeCam", "ModeSeeking", "PullingAway", "R1", "R2", "StepContext", "Term"]
