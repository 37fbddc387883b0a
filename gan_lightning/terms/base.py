"""What a training term sees (``StepContext``) and what it is (``Term``).

The D loss and the G loss are each the objective (gan_lightning.losses) plus a list of terms,
chosen in YAML like the loss::

    model:
      d_terms: [{class_path: gan_lightning.terms.R1, init_args: {weight: 1.0}}]
      g_terms: [{class_path: my_project.terms.MyTerm, init_args: {weight: 0.1}}]

A term is a small ``nn.Module``: its hyperparameters in ``__init__``, any state it keeps in
buffers (saved in checkpoints), and ``forward(ctx)`` returning its unweighted scalar value. The
module adds ``weight * value`` to the loss and logs the value as ``loss_D/<name>`` or
``loss_G/<name>`` on the batches the loggers write; with ``every: k`` (lazy regularization)
only on every k-th batch, as ``k * weight * value``.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar, Literal

from torch import Tensor, nn

if TYPE_CHECKING:
    from gan_lightning.module import GAN


@dataclass(frozen=True)
class StepContext:
    """One batch's step, built once per batch and read by the terms by name.

    In the D step ``fake`` is detached and ``d_real``/``d_fake`` are D's outputs before its
    update; in the G step ``fake`` carries G's graph, ``d_fake`` is the updated D's output on it
    and ``d_real`` the D step's (detached).

    Attributes:
        real: the real batch (trimmed to a multiple of the packing).
        fake: G's samples for this batch.
        z: the latents G was given (fake = G(z), or G(z, labels)).
        labels: the batch's class labels (the fakes share them), None when unconditional.
        d_real: D's raw outputs on ``real``.
        d_fake: D's raw outputs on ``fake``.
        critic: D as the step sees it: augmentation, packing and the batch's labels applied;
            ``critic(x)`` gives one raw output per sample (per pack).
        gan: the module, for what else a term reads (its ``netD``, its ``augment``).
        batch: the batch's index in the run (``trainer.global_step`` at its D step), by which
            a lazy term (``every > 1``) is due or not, in the D step and the G step alike.
    """

    real: Tensor
    fake: Tensor
    z: Tensor
    labels: Tensor | None
    d_real: Tensor
    d_fake: Tensor
    critic: Callable[[Tensor], Tensor]
    gan: "GAN"
    batch: int = 0


class Term(nn.Module):
    """A term of D's loss (``step = "D"``) or G's (``step = "G"``), weighted by ``weight``.

    Subclasses set ``name`` (the log key) and ``step``, take their hyperparameters in
    ``__init__`` (passing ``weight`` and ``every`` on to this one) and compute their unweighted
    value from the context in ``forward``. ``check`` refuses, when the GAN is built, a GAN the
    term cannot work with.

    ``every = k`` is StyleGAN2's lazy regularization (Karras et al. 2020, section 3.1): the term is
    computed on every k-th batch only, weighted ``k * weight`` there, so a costly penalty such as
    R1's second gradient costs 1/k as much for about the same average pull.
    """

    name: ClassVar[str] = ""
    step: ClassVar[Literal["D", "G"]] = "D"

    def __init__(self, weight: float = 1.0, every: int = 1) -> None:
        super().__init__()
        if every < 1:
            raise ValueError(f"{type(self).__name__}'s `every` counts batches and must be at least 1, got {every}.")
        self.weight, self.every = weight, every

    def forward(self, ctx: StepContext) -> Tensor:
        raise NotImplementedError

    def check(self, gan: "GAN") -> None:
        """Raise a ValueError that names the fix if this term cannot work with ``gan``."""

    def extra_repr(self) -> str:
        return f"weight={self.weight}" + (f", every={self.every}" if self.every > 1 else "")
