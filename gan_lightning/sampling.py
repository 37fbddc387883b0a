"""How samples leave the GAN module: the latent prior, the EMA generator with its BatchNorm
statistics, the fixed grid latents and the data transform, in one place.

``GeneratorSampling`` is a mixin of ``GAN``: its state (``netG_ema``, ``fixed_noise``,
``fixed_labels``) lives on the module, so checkpoints keep their keys, and one public method,
``generate``, serves grids, metrics, ``gan-lightning sample`` and ``evaluate`` alike.
"""

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from gan_lightning.conditioning import fixed_class_grid
from gan_lightning.ema import ema_update, make_ema, recompute_batchnorm_stats
from gan_lightning.latent import Latent


class GeneratorSampling:
    """Sampling from a GAN: ``draw_latent``, ``generate``, ``sample``, the EMA G (``update_ema``,
    ``sampling_generator``) and the map back to data space (``to_data_space``)."""

    netG: nn.Module
    latent_dim: int
    num_classes: int | None
    device: torch.device

    def init_sampling(self, netG: nn.Module, latent: Latent, ema_decay: float | None, num_classes: int | None) -> None:
        """Called once by ``GAN.__init__``: the EMA copy (before any compile), the fixed grid
        latents (saved in checkpoints: the same grids after a resume) and an empty data transform."""
        self.latent, self.latent_dim, self.num_classes = latent, netG.latent_dim, num_classes
        self.ema_decay = ema_decay
        self.netG_ema: AveragedModel | None = make_ema(netG, ema_decay)
        self._ema_stats_at: int | None = None  # the EMA update its BatchNorm statistics were recomputed at
        generator = torch.Generator().manual_seed(latent.fixed_seed)
        noise, labels = fixed_class_grid(self.draw_latent, latent.num_fixed, num_classes, generator)  # a row per class
        self.register_buffer("fixed_noise", noise)
        self.register_buffer("fixed_labels", labels)  # None (and not saved) when unconditional
        # Data served standardised (e.g. MixtureDataModule(standardize=True)): samples leave the
        # module as x * data_std + data_mean. Set at setup from the datamodule, kept in checkpoints
        # under "data_transform" (not the state dict, so checkpoints without it still load).
        self.register_buffer("data_mean", None, persistent=False)
        self.register_buffer("data_std", None, persistent=False)

    def draw_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latents from the prior, on the generator's device when one is given, else the module's."""
        return self.latent.draw(n, self.latent_dim, generator, self.device)

    def update_ema(self) -> None:
        """One EMA step towards netG after a G step, with the warm-up of ``ema.ema_update``."""
        if self.netG_ema is not None:
            ema_update(self.netG_ema, self.netG, self.ema_decay)

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
        """G(z) (G(z, labels) when conditional) in data space: the EMA G when kept, in eval mode
        (BatchNorm running statistics), without gradients, in batches, the mode restored after."""
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

    def sample(
        self, n: int, generator: torch.Generator | None = None, batch_size: int = 1024, labels: Tensor | None = None
    ) -> Tensor:
        """n samples in data space from fresh latents, through ``generate``; a conditional GAN
        without ``labels`` draws them uniformly, after z, from the same generator."""
        z = self.draw_latent(n, generator)  # drawn at once: batch_size can't change them
        if self.num_classes is not None and labels is None:
            labels = torch.randint(self.num_classes, (n,), generator=generator, device=z.device)
        return self.generate(z, batch_size, labels)

    @torch.no_grad()
    def refresh_ema_batchnorm(self, batches: int = 100, batch_size: int = 64) -> None:
        """Recomputes the EMA G's BatchNorm running statistics from its own outputs on fixed latents
        (BigGAN's "standing statistics", SWA's ``update_bn``), once per EMA update. The EMA of the
        raw G's running statistics does not fit the averaged weights: on the default experiment
        it made the EMA G worse than the raw G (docs/results.md). A no-op without BatchNorm."""
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

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """G(z) (G(z, labels)) from the sampling generator, in data space, with gradients."""
        net = self.sampling_generator
        return self.to_data_space(net(z) if labels is None else net(z, labels))
