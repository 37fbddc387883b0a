"""The GAN LightningModule: netG and netD, alternating updates with manual optimization.

One training step follows the seed loop (pytorch/examples dcgan/main.py): (1) D step: D sees the
real batch and the *detached* fakes; one zero_grad, one optimizer step. (2) G step (every
``n_critic`` batches): D sees the *same* fakes, not detached, and only G's optimizer steps.
``toggled_optimizer`` switches off ``requires_grad`` on the other network's parameters, so neither
step leaves gradients on, or changes the parameters of, the network it does not train.

Each loss is the objective (gan_lightning.losses) plus the configured terms (gan_lightning.terms),
every one logged under its own name. ``trainer.global_step`` counts batches (batch_count.py).
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR

from gan_lightning.augment import DiffAugment
from gan_lightning.batch_count import uncounted
from gan_lightning.conditioning import split_batch
from gan_lightning.finite import FiniteGuard
from gan_lightning.latent import Latent
from gan_lightning.losses import LossName, Objective, check_keyword_interface, get_objective
from gan_lightning.lr_schedule import linear_decay, training_progress
from gan_lightning.networks.contract import check_network_contract
from gan_lightning.networks.init import NetworkSetup, compile_networks, prepare_networks
from gan_lightning.rank_state import keep_for_resume, resume_rank_states, save_rank_states
from gan_lightning.sampling import GeneratorSampling
from gan_lightning.shape_check import check_networks_fit
from gan_lightning.step_logging import EpochMeans, logs_this_batch
from gan_lightning.strategies import ddp_forward
from gan_lightning.terms import StepContext, Term

# Arguments that are objects when the GAN is built in Python (a checkpoint loaded with
# weights_only=True cannot hold them); under the LightningCLI the hparams are the config instead.
OBJECT_ARGUMENTS = ["netG", "netD", "optimizer_G", "optimizer_D", "loss", "d_terms", "g_terms", "latent", "network_setup"]


class GAN(GeneratorSampling, LightningModule):
    """A generator and a discriminator trained against each other.

    Args:
        netG: the generator; the network contract (gan_lightning.networks.contract) says what
            the GAN reads from it and from netD.
        netD: the discriminator (critic, cost network): (N, *shape) to N raw outputs (logits,
            scores or energies); its ``pack`` attribute, if any, sets PacGAN packing.
        optimizer_G: optimizer for netG's parameters, e.g. Adam(lr=2e-4, betas=(0.5, 0.999)).
        optimizer_D: optimizer for netD's parameters.
        loss: adversarial objective: a name in gan_lightning.losses.LOSSES, or an ``Objective``
            (in YAML a class_path with init_args, e.g. EnergyLoss with its margin).
        d_terms: terms added to D's loss (gan_lightning.terms: R1, R2, GradientPenalty, LeCam,
            BalancedConsistency, or a fork's own ``Term``), each weighted and logged.
        g_terms: terms added to G's loss (ModeSeeking, PullingAway, or a fork's own).
        n_critic: D steps per G step; each D step takes a new real batch.
        latent: the prior p(z) and the fixed grid latents (gan_lightning.latent.Latent).
        ema_decay: if set, sample from an exponential moving average of netG's weights, with a
            warm-up and its BatchNorm statistics recomputed for the averaged weights (ema.py).
        lr_decay_start: fraction of training after which both learning rates decay linearly
            to zero at the end (0.5: constant for the first half); 1.0 keeps them constant.
        diffaugment: DiffAugment policy applied to every image D sees, real and fake, in both
            steps (e.g. "translation,cutout"; gan_lightning.augment); "" for none.
        num_classes: class-conditional G(z, y) and D(x, y) on the data's (image, label) batches;
            the CLI copies it to netG and netD. None: unconditional.
        network_setup: weight init, spectral norm on D, memory format, compile (networks.init).
    """

    def __init__(
        self,
        netG: nn.Module,
        netD: nn.Module,
        optimizer_G: OptimizerCallable = torch.optim.Adam,
        optimizer_D: OptimizerCallable = torch.optim.Adam,
        loss: LossName | Objective = "non_saturating",
        d_terms: Sequence[Term] = (),
        g_terms: Sequence[Term] = (),
        n_critic: int = 1,
        latent: Latent = Latent(),
        ema_decay: float | None = None,
        lr_decay_start: float = 1.0,
        diffaugment: str = "",
        num_classes: int | None = None,
        network_setup: NetworkSetup = NetworkSetup(),
    ) -> None:
        super().__init__()
        self.pack: int = check_network_contract(netG, netD, num_classes)  # PacGAN: D judges `pack` samples at once
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}.")
        if not 0.0 <= lr_decay_start <= 1.0:
            raise ValueError(f"lr_decay_start is a fraction of training in [0, 1], got {lr_decay_start}.")
        built_by_cli = _given_hyperparameters.get() is not None
        self.save_hyperparameters(ignore=None if built_by_cli else OBJECT_ARGUMENTS)
        self.automatic_optimization = False
        self.netG, self.netD = netG, netD
        prepare_networks(netG, netD, network_setup)  # init, spectral norm, memory format
        self.optimizer_G, self.optimizer_D = optimizer_G, optimizer_D
        self.objective = check_keyword_interface(get_objective(loss))
        self.d_terms, self.g_terms = check_terms(d_terms, "D", self), check_terms(g_terms, "G", self)
        self.augment = DiffAugment(diffaugment)  # no parameters: checkpoints and optimizers unchanged
        self.n_critic, self.lr_decay_start = n_critic, lr_decay_start
        self.channels_last = network_setup.channels_last
        self.init_sampling(netG, latent, ema_decay, num_classes)  # EMA G, fixed grid latents, data transform
        # Names of the seed loop's statistics: probabilities for logit losses, raw values otherwise.
        suffix = "" if self.objective.output_is_logit else "_raw"
        self.stat_names = {k: f"{k}{suffix}" for k in ("D_x", "D_G_z1", "D_G_z2")}
        self.epoch_means = EpochMeans(("loss_D", "loss_G"))
        self.finite_guard = FiniteGuard()  # NaN/inf losses: checked on device, raised at sync points
        compile_networks(netG, netD, network_setup.compile)  # after the EMA copy, which must stay eager

    def setup(self, stage: str) -> None:
        """Check that netG makes, and netD takes, the datamodule's sample shape before training."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        shape = getattr(datamodule, "sample_shape", None)  # sets the datamodule up: data_transform is known
        if shape is not None:
            check_networks_fit(self, tuple(shape))
        if hasattr(datamodule, "data_transform"):
            self.set_data_transform(datamodule.data_transform)

    def discriminate(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """netD's raw outputs, one per sample (or one per pack of ``pack`` samples), each sample
        augmented on its own first (DiffAugment; the identity without a policy); D(x, labels)
        when conditional."""
        x = self.augment(x)
        if self.pack > 1:
            x = x.reshape(x.shape[0] // self.pack, self.pack * x.shape[1], *x.shape[2:])
        net = ddp_forward(self, "netD")  # netD, or its DDP wrapper when training it
        return (net(x) if labels is None else net(x, labels)).reshape(-1)

    def critic(self, labels: Tensor | None) -> Callable[[Tensor], Tensor]:
        """``discriminate`` at the batch's labels (the fakes share them, so an interpolate's label
        is both ends'): what the D and G steps and every term call D through."""
        return self.discriminate if labels is None else functools.partial(self.discriminate, labels=labels)

    # --- training --------------------------------------------------------------------------
    def configure_optimizers(self) -> tuple[list[torch.optim.Optimizer], list[LambdaLR]]:
        optimizers = [self.optimizer_G(self.netG.parameters()), self.optimizer_D(self.netD.parameters())]
        if self.lr_decay_start >= 1.0:  # constant rates: no scheduler to step every batch
            return optimizers, []
        return optimizers, [LambdaLR(opt, lambda _: self.lr_factor()) for opt in optimizers]

    def lr_factor(self) -> float:
        """The learning-rate multiplier now (``gan_lightning.lr_schedule``)."""
        if self.lr_decay_start >= 1.0 or self._trainer is None:
            return 1.0
        return linear_decay(training_progress(self.trainer), self.lr_decay_start)

    def d_loss(self, ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        """The objective's D loss plus each D term's weighted value; and the terms' values, by
        name, to log. A fork's subclass may override it (and ``g_loss``) to change the loss."""
        loss = self.objective.d_loss(d_real=ctx.d_real, d_fake=ctx.d_fake)
        return add_terms(loss, self.d_terms, ctx, "loss_D")

    def g_loss(self, ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        """The objective's G loss plus each G term's weighted value; the values, by name, to log."""
        loss = self.objective.g_loss(d_fake=ctx.d_fake, d_real=ctx.d_real)
        return add_terms(loss, self.g_terms, ctx, "loss_G")

    def _stat(self, raw: Tensor) -> Tensor:
        """The seed loop's D(x) / D(G(z)): a mean probability for logit losses, else the raw mean."""
        return (torch.sigmoid(raw.detach()) if self.objective.output_is_logit else raw.detach()).mean()

    def training_step(self, batch: Tensor | list[Tensor], batch_idx: int) -> dict[str, Tensor]:
        """One D step and (every ``n_critic`` batches) one G step; returns the batch's statistics,
        which callbacks get as ``outputs`` every batch and the loggers on their batches only."""
        # Conditional: the fakes get the real batch's labels, so D sees the same classes on both sides.
        real, labels = split_batch(batch, self.num_classes, check_range=self.global_step == 0)
        opt_G, opt_D = self.optimizers()
        real = real[: real.shape[0] - real.shape[0] % self.pack]
        if self.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        z = self.draw_latent(real.shape[0])
        netG = ddp_forward(self, "netG")  # netG, or its own DDP wrapper (SeparateDDPStrategy)
        fake = netG(z) if labels is None else netG(z, labels)
        critic = self.critic(labels)

        # (1) D step: maximise log D(x) + log(1 - D(G(z))) on real and detached fakes.
        with self.toggled_optimizer(opt_D):
            d_real, d_fake = critic(real), critic(fake.detach())
            ctx = StepContext(real=real, fake=fake.detach(), z=z, labels=labels, d_real=d_real, d_fake=d_fake,
                              critic=critic, gan=self, batch=self.global_step)  # fmt: skip
            loss_D, d_values = self.d_loss(ctx)
            opt_D.zero_grad(set_to_none=True)
            self.manual_backward(loss_D)
            # opt_D.step(), made harmless on the device after a NaN/inf loss on any rank (no host sync)
            self.finite_guard.step(opt_D, "loss_D", loss_D, self.global_step, self.current_epoch)
        stats = {"loss_D": loss_D.detach(), **d_values, self.stat_names["D_x"]: self._stat(d_real),
                 self.stat_names["D_G_z1"]: self._stat(d_fake)}

        # (2) G step, every n_critic batches: the same fakes, not detached, labelled real.
        if (batch_idx + 1) % self.n_critic == 0:
            with self.toggled_optimizer(opt_G):
                d_fake_after = critic(fake)
                loss_G, g_values = self.g_loss(replace(ctx, fake=fake, d_real=d_real.detach(), d_fake=d_fake_after))
                opt_G.zero_grad(set_to_none=True)
                self.manual_backward(loss_G)
                with uncounted(opt_G):  # global_step counts batches (one D step each)
                    self.finite_guard.step(opt_G, "loss_G", loss_G, self.global_step, self.current_epoch)
            self.update_ema()
            stats |= {"loss_G": loss_G.detach(), **g_values, self.stat_names["D_G_z2"]: self._stat(d_fake_after)}
        for scheduler in self.lr_schedulers() or []:  # none when the rates are constant
            scheduler.step()
        if logs_this_batch(self.trainer):
            self.finite_guard.check()  # the loggers sync here anyway: raise on a NaN/inf seen since
            self.log_dict(stats, prog_bar=True)
        self.epoch_means.add(stats)  # logged once per epoch: see on_train_epoch_end
        return stats

    def on_train_epoch_end(self) -> None:
        """Epoch means of the losses over all ranks (step values are rank 0's: no all-reduce per step)."""
        self.finite_guard.check()
        self.log_dict(self.epoch_means.pop(), sync_dist=True)

    def on_train_start(self) -> None:
        self.finite_guard.reset()
        # ranks draw different z; a resumed run continues each rank's saved stream and epoch sums
        resume_rank_states(self, self.global_rank, self.trainer.world_size, self.epoch_means)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        self.finite_guard.check()  # never write a checkpoint after a NaN/inf loss
        save_rank_states(checkpoint, self.trainer.world_size, self.epoch_means)  # every rank's random states and epoch sums
        if self.data_mean is not None:  # `sample` / `evaluate` from the checkpoint map back too
            checkpoint["data_transform"] = (self.data_mean.cpu(), self.data_std.cpu())

    def on_train_end(self) -> None:
        self.finite_guard.check()  # a NaN/inf after the last logged batch still fails the fit

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Restore the data transform, and keep every rank's random states and epoch sums for
        ``on_train_start`` when the Trainer resumes (not when loading for sampling)."""
        self.set_data_transform(checkpoint.get("data_transform"))
        self._ema_stats_at = None  # new EMA weights: recompute its BatchNorm statistics
        if self._trainer is not None:
            keep_for_resume(self, checkpoint)  # restored at on_train_start, after the data loader is set up


def add_terms(loss: Tensor, terms: nn.ModuleList, ctx: StepContext, prefix: str) -> tuple[Tensor, dict[str, Tensor]]:
    """``loss + sum(term.every * term.weight * term(ctx))`` over the terms due at ``ctx.batch`` (a
    lazy term, ``every > 1``, skips the other batches), and each computed term's unweighted value
    under "prefix/name" for the loggers (detached: nothing waits on the host)."""
    values = {}
    for term in terms:
        if ctx.batch % term.every:
            continue
        value = term(ctx)
        loss = loss + term.every * term.weight * value
        values[f"{prefix}/{term.name}"] = value.detach()
    return loss, values


def check_terms(terms: Sequence[Term], step: str, gan: GAN) -> nn.ModuleList:
    """The terms as a ModuleList (their buffers go into checkpoints), after refusing a term in the
    wrong step's list, two terms with one log name, or a term that cannot work with this GAN."""
    names = [term.name for term in terms]
    for term in terms:
        if not isinstance(term, Term):
            raise ValueError(f"{step.lower()}_terms holds {term!r}, which is not a gan_lightning.terms.Term.")
        if term.step != step:
            raise ValueError(
                f"{type(term).__name__} is a term of {term.step}'s loss but was given in {step.lower()}_terms: "
                f"move it to {term.step.lower()}_terms."
            )
        if not term.name or names.count(term.name) > 1:
            raise ValueError(f"Each {step.lower()}_terms entry needs its own `name` (for its log key), got {names}.")
        term.check(gan)
    return nn.ModuleList(terms)
