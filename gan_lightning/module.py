"""The GAN LightningModule: netG and netD, alternating updates with manual optimization.

One training step follows the seed loop (pytorch/examples dcgan/main.py): (1) D step: D sees the
real batch and the *detached* fakes; one zero_grad, one optimizer step. (2) G step (every
``n_critic`` batches): D sees the *same* fakes, not detached, and only G's optimizer steps.
``toggle_optimizer`` switches off ``requires_grad`` on the other network's parameters, so neither
step leaves gradients on, or changes the parameters of, the network it does not train.
"""

import functools
from typing import Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR
from torch.optim.swa_utils import AveragedModel

from gan_lightning.augment import DiffAugment
from gan_lightning.conditioning import check_conditional_networks, fixed_class_grid, split_batch
from gan_lightning.ema import ema_update, make_ema, recompute_batchnorm_stats
from gan_lightning.finite import FiniteGuard
from gan_lightning.losses import LossName, Objective, get_objective
from gan_lightning.lr_schedule import linear_decay, training_progress
from gan_lightning.networks.init import compile_networks, prepare_networks
from gan_lightning.regularizers import gradient_penalty, mode_seeking_penalty, pulling_away_term, r1_penalty
from gan_lightning.rank_state import keep_for_resume, resume_rank_states, save_rank_states
from gan_lightning.shape_check import check_networks_fit
from gan_lightning.step_logging import EpochMeans, logs_this_batch
from gan_lightning.strategies import ddp_forward


class GAN(LightningModule):
    """A generator and a discriminator trained against each other.

    Args:
        netG: the generator; has an int ``latent_dim`` and maps (N, latent_dim) to (N, *shape).
        netD: the discriminator (critic, cost network): (N, *shape) to N raw outputs (logits,
            scores or energies); its ``pack`` attribute, if any, sets PacGAN packing.
        optimizer_G: optimizer for netG's parameters, e.g. Adam(lr=2e-4, betas=(0.5, 0.999)).
        optimizer_D: optimizer for netD's parameters.
        loss: adversarial objective: a name in gan_lightning.losses.LOSSES, or an ``Objective``
            (in YAML a class_path with init_args, e.g. EnergyLoss with its margin).
        n_critic: D steps per G step; each D step takes a new real batch.
        latent_distribution: "normal" draws z ~ N(0, latent_std^2), "uniform" z ~ U(-1, 1).
        latent_std: standard deviation of a normal latent (seed 002 uses 0.1).
        weight_init: "dcgan": N(0, 0.02) weights, N(1, 0.02) BatchNorm scales; "default": PyTorch's.
        gp_weight: weight of the WGAN-GP gradient penalty on D (0 turns it off).
        r1_weight: weight of the R1 penalty on D's gradient at real data (0 turns it off).
        mode_seeking_weight: weight of the mode-seeking penalty on G (same output for different z).
        pull_away_weight: weight of EBGAN's pulling-away term on G (its samples' codes in netD's
            ``encoder`` pointing the same way); the paper's EBGAN-PT uses 0.1. Needs an
            autoencoder netD (AutoencoderEnergy).
        ema_decay: if set, sample from an exponential moving average of netG's weights (its
            BatchNorm statistics recomputed for the averaged weights: ``refresh_ema_batchnorm``).
        spectral_norm: constrain every Linear/Conv layer of netD to spectral norm 1.
        diffaugment: DiffAugment policy applied to every image D sees, real and fake, in both
            steps (e.g. "translation,cutout"; gan_lightning.augment); "" for none.
        lr_decay_start: fraction of training after which both learning rates decay linearly
            to zero at the end (0.5: constant for the first half); 1.0 keeps them constant.
        num_fixed_samples: size of the fixed noise batch used for progress grids.
        fixed_noise_seed: seed of the fixed noise, the same on every rank and after a resume.
        channels_last: both networks and the real batches in channels-last memory format.
        compile: ``torch.compile`` netG and netD in place (checkpoint keys unchanged); True uses
            inductor, a string names another backend, e.g. "aot_eager".
        num_classes: class-conditional G(z, y) and D(x, y) on the data's (image, label) batches;
            the CLI copies it to netG and netD. None: unconditional.
    """

    def __init__(
        self,
        netG: nn.Module,
        netD: nn.Module,
        optimizer_G: OptimizerCallable = torch.optim.Adam,
        optimizer_D: OptimizerCallable = torch.optim.Adam,
        loss: LossName | Objective = "non_saturating",
        n_critic: int = 1,
        latent_distribution: Literal["normal", "uniform"] = "normal",
        latent_std: float = 1.0,
        weight_init: Literal["default", "dcgan"] = "default",
        gp_weight: float = 0.0,
        r1_weight: float = 0.0,
        mode_seeking_weight: float = 0.0,
        pull_away_weight: float = 0.0,
        ema_decay: float | None = None,
        spectral_norm: bool = False,
        diffaugment: str = "",
        lr_decay_start: float = 1.0,
        num_fixed_samples: int = 64,
        fixed_noise_seed: int = 1234,
        channels_last: bool = False,
        compile: bool | str = False,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(getattr(netG, "latent_dim", None), int):
            raise ValueError(f"netG ({type(netG).__name__}) needs an int attribute `latent_dim`, the size of z.")
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}.")
        # Under LightningCLI the hparams are the config, which load_from_checkpoint rebuilds the model
        # from; built in Python, the networks are objects a weights_only checkpoint cannot hold.
        built_by_cli = _given_hyperparameters.get() is not None
        self.save_hyperparameters(ignore=None if built_by_cli else ["netG", "netD", "optimizer_G", "optimizer_D", "loss"])
        self.automatic_optimization = False
        self.netG, self.netD = netG, netD
        prepare_networks(netG, netD, weight_init, spectral_norm, channels_last)  # init, spectral norm, memory format
        self.augment = DiffAugment(diffaugment)  # no parameters: checkpoints and optimizers unchanged
        self.optimizer_G, self.optimizer_D = optimizer_G, optimizer_D
        self.objective = get_objective(loss)
        self.n_critic = n_critic
        self.latent_dim: int = netG.latent_dim
        self.latent_distribution = latent_distribution
        self.latent_std = latent_std
        self.gp_weight, self.r1_weight = gp_weight, r1_weight
        self.mode_seeking_weight = mode_seeking_weight
        if pull_away_weight > 0 and not isinstance(getattr(netD, "encoder", None), nn.Module):
            raise ValueError(
                f"pull_away_weight needs a netD with an `encoder` module (the EBGAN autoencoder, "
                f"gan_lightning.networks.AutoencoderEnergy); {type(netD).__name__} has none: set pull_away_weight to 0."
            )
        self.pull_away_weight = pull_away_weight
        self.pack: int = getattr(netD, "pack", 1)  # PacGAN: D judges `pack` samples at once; set on netD
        check_conditional_networks(netG, netD, num_classes, self.pack)
        self.num_classes = num_classes
        self.ema_decay = ema_decay
        if not 0.0 <= lr_decay_start <= 1.0:
            raise ValueError(f"lr_decay_start is a fraction of training in [0, 1], got {lr_decay_start}.")
        self.lr_decay_start = lr_decay_start
        self.netG_ema: AveragedModel | None = make_ema(netG, ema_decay)
        self._ema_stats_at: int | None = None  # the EMA update its BatchNorm statistics were recomputed at
        generator = torch.Generator().manual_seed(fixed_noise_seed)
        noise, labels = fixed_class_grid(self.draw_latent, num_fixed_samples, num_classes, generator)  # one row per class
        self.register_buffer("fixed_noise", noise)  # saved in checkpoints: the same grids after a resume
        self.register_buffer("fixed_labels", labels)  # None (and not saved) when unconditional
        # Data served standardised (e.g. MixtureDataModule(standardize=True)): samples leave the
        # module as x * data_std + data_mean. Set at setup from the datamodule, kept in checkpoints
        # under "data_transform" (not the state dict, so checkpoints without it still load).
        self.register_buffer("data_mean", None, persistent=False)
        self.register_buffer("data_std", None, persistent=False)
        # Names of the seed loop's statistics: probabilities for logit losses, raw values otherwise.
        suffix = "" if self.objective.output_is_logit else "_raw"
        self.stat_names = {k: f"{k}{suffix}" for k in ("D_x", "D_G_z1", "D_G_z2")}
        self.epoch_means = EpochMeans(("loss_D", "loss_G"))
        self.finite_guard = FiniteGuard()  # NaN/inf losses: checked on device, raised at sync points
        self.channels_last = channels_last
        compile_networks(netG, netD, compile)  # after the EMA copy, which must stay an eager module

    # --- sampling --------------------------------------------------------------------------
    def draw_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latent vectors from the configured distribution, on the generator's device when one
        is given (so a seeded CPU generator draws the same z on any machine), else the module's."""
        device = generator.device if generator is not None else self.device
        if self.latent_distribution == "uniform":
            return torch.rand(n, self.latent_dim, generator=generator, device=device) * 2 - 1
        return torch.randn(n, self.latent_dim, generator=generator, device=device) * self.latent_std

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator to sample from: the EMA copy when there is one, its BatchNorm statistics
        first brought up to date with its weights (``refresh_ema_batchnorm``: G forwards once per
        EMA update, a cached no-op after), so that no caller can sample with stale statistics."""
        if self.netG_ema is None:
            return self.netG
        self.refresh_ema_batchnorm()
        return self.netG_ema.module

    @torch.no_grad()
    def generate(self, z: Tensor, batch_size: int = 1024, labels: Tensor | None = None) -> Tensor:
        """G(z) (G(z, labels) when conditional) in data space, the one way samples leave the module
        (grids, metrics, ``sample``): the EMA G when kept, in eval mode (BatchNorm running
        statistics), without gradients, in batches, with the generator's train/eval mode restored after."""
        net = self.sampling_generator
        was_training = net.training
        net.eval()
        try:
            zs = z.to(self.device).split(batch_size)
            if labels is None:
                return self.to_data_space(torch.cat([net(c) for c in zs]))
            ys = labels.to(self.device).split(batch_size)
            return self.to_data_space(torch.cat([net(c, y) for c, y in zip(zs, ys)]))
        finally:
            net.train(was_training)

    @torch.no_grad()
    def refresh_ema_batchnorm(self, batches: int = 100, batch_size: int = 64) -> None:
        """Recomputes the EMA G's BatchNorm running statistics from its own outputs on fixed latents
        (BigGAN's "standing statistics", SWA's ``update_bn``), once per EMA update. The EMA of the
        raw G's running statistics does not fit the averaged weights: on the default experiment
        it made the EMA G worse than the raw G (held-out FID 3.5 vs 2.5 over 3 seeds); recomputed,
        better (1.9). A no-op for generators without BatchNorm."""
        assert self.netG_ema is not None
        updates = int(self.netG_ema.n_averaged)
        if updates == self._ema_stats_at:
            return
        generator = torch.Generator().manual_seed(0)  # the same latents every time, on every rank
        inputs = []
        for _ in range(batches):
            z = self.draw_latent(batch_size, generator).to(self.device)
            if self.num_classes is None:
                inputs.append((z,))
            else:
                inputs.append((z, torch.randint(self.num_classes, (batch_size,), generator=generator).to(self.device)))
        recompute_batchnorm_stats(self.netG_ema.module, inputs)
        self._ema_stats_at = updates

    def to_data_space(self, x: Tensor) -> Tensor:
        """x, as G makes it and D sees it, in the data's own space (undoes the datamodule's
        standardisation; the identity when the data is served as it is)."""
        return x if self.data_mean is None else x * self.data_std + self.data_mean

    def set_data_transform(self, transform: tuple[Tensor, Tensor] | None) -> None:
        """Served data = (x - mean) / std: keep (mean, std) to map samples back; None: served as is."""
        mean, std = transform if transform is not None else (None, None)
        self.data_mean = None if mean is None else mean.to(self.device, torch.float32)
        self.data_std = None if std is None else std.to(self.device, torch.float32)

    def sample(
        self, n: int, generator: torch.Generator | None = None, batch_size: int = 1024, labels: Tensor | None = None
    ) -> Tensor:
        """n samples in data space from fresh latents (``draw_latent``), through ``generate``; a
        conditional GAN without ``labels`` draws them uniformly, after z, from the same generator."""
        z = self.draw_latent(n, generator)  # drawn at once: batch_size can't change them
        if self.num_classes is not None and labels is None:
            labels = torch.randint(self.num_classes, (n,), generator=generator, device=z.device)
        return self.generate(z, batch_size, labels)

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

    def d_loss(self, real: Tensor, fake: Tensor, d_real: Tensor, d_fake: Tensor, labels: Tensor | None = None) -> Tensor:
        """The objective's D loss plus the configured regularizers on D (at the batch's labels:
        the fakes have the real batch's labels, so an interpolate's label is both ends')."""
        loss = self.objective.d_loss(d_real, d_fake)
        critic = self.discriminate if labels is None else functools.partial(self.discriminate, labels=labels)
        if self.gp_weight > 0:
            loss = loss + self.gp_weight * gradient_penalty(critic, real, fake)
        if self.r1_weight > 0:
            loss = loss + self.r1_weight * r1_penalty(critic, real)
        return loss

    def g_loss(self, z: Tensor, fake: Tensor, d_fake: Tensor, d_real: Tensor) -> Tensor:
        """The objective's G loss plus the mode-seeking penalty and the pulling-away term when configured."""
        loss = self.objective.g_loss(d_fake, d_real)
        if self.mode_seeking_weight > 0:
            loss = loss + self.mode_seeking_weight * mode_seeking_penalty(z, fake)
        if self.pull_away_weight > 0:  # one more encoder pass over the fakes, as in the paper
            loss = loss + self.pull_away_weight * pulling_away_term(self.netD.encoder(self.augment(fake)))
        return loss

    def _stat(self, raw: Tensor) -> Tensor:
        """The seed loop's D(x) / D(G(z)): a mean probability for logit losses, else the raw mean."""
        return (torch.sigmoid(raw.detach()) if self.objective.output_is_logit else raw.detach()).mean()

    def training_step(self, batch: Tensor | list[Tensor], batch_idx: int) -> dict[str, Tensor]:
        """One D step and (every ``n_critic`` batches) one G step; returns the batch's statistics,
        which callbacks get as ``outputs`` every batch and the loggers on their batches only."""
        # Conditional: the fakes get the real batch's labels (not uniform draws), so D sees the
        # same classes on both sides and the penalties' real/fake pairs share a label.
        real, labels = split_batch(batch, self.num_classes, check_range=self.global_step == 0)
        opt_G, opt_D = self.optimizers()
        n = real.shape[0] - real.shape[0] % self.pack
        real = real[:n]
        if self.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        z = self.draw_latent(n)
        netG = ddp_forward(self, "netG")  # netG, or its own DDP wrapper (SeparateDDPStrategy)
        fake = netG(z) if labels is None else netG(z, labels)

        # (1) D step: maximise log D(x) + log(1 - D(G(z))) on real and detached fakes.
        with self.toggled_optimizer(opt_D):
            d_real = self.discriminate(real, labels)
            d_fake = self.discriminate(fake.detach(), labels)
            label_arg = {} if labels is None else {"labels": labels}  # forks' d_loss(real, fake, d_real, d_fake) still work
            loss_D = self.d_loss(real, fake.detach(), d_real, d_fake, **label_arg)
            opt_D.zero_grad(set_to_none=True)
            self.manual_backward(loss_D)
            # opt_D.step(), made harmless on the device after a NaN/inf loss on any rank (no host sync)
            self.finite_guard.step(opt_D, "loss_D", loss_D, self.global_step, self.current_epoch)
        stats = {
            "loss_D": loss_D.detach(),
            self.stat_names["D_x"]: self._stat(d_real),
            self.stat_names["D_G_z1"]: self._stat(d_fake),
        }

        # (2) G step, every n_critic batches: the same fakes, not detached, labelled real.
        if (batch_idx + 1) % self.n_critic == 0:
            with self.toggled_optimizer(opt_G):
                d_fake_after = self.discriminate(fake, labels)
                loss_G = self.g_loss(z, fake, d_fake_after, d_real.detach())
                opt_G.zero_grad(set_to_none=True)
                self.manual_backward(loss_G)
                self.finite_guard.step(opt_G, "loss_G", loss_G, self.global_step, self.current_epoch)
            if self.netG_ema is not None:
                ema_update(self.netG_ema, self.netG, self.ema_decay)  # update_parameters without its 2 host syncs
            stats["loss_G"] = loss_G.detach()
            stats[self.stat_names["D_G_z2"]] = self._stat(d_fake_after)
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

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """G(z) (G(z, labels)) from the sampling generator, in data space, with gradients."""
        net = self.sampling_generator
        x = net(z) if labels is None else net(z, labels)
        return self.to_data_space(x)
