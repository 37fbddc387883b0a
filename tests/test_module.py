"""The GAN module's update rule: which parameters each step may change, and how often."""

import pytest
import torch
from torch import Tensor
from lightning.pytorch import Callback, seed_everything

from gan_lightning.latent import Latent
from gan_lightning.module import GAN
from gan_lightning.networks.init import NetworkSetup
from gan_lightning.terms import R1
from tests.helpers import quiet_trainer, toy_data, toy_gan


def snapshot(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


class StepWatcher(Callback):
    """Hooks both optimizers' steps and records which network each step changed."""

    def __init__(self) -> None:
        self.d_steps = 0
        self.g_steps = 0
        self.violations: list[str] = []
        self.changed = {"D in D step": 0, "G in G step": 0}

    def on_train_start(self, trainer, gan) -> None:
        opt_G, opt_D = (o.optimizer for o in gan.optimizers())

        def before_D(*_):
            self.G_before, self.D_before = snapshot(gan.netG), snapshot(gan.netD)

        def after_D(*_):
            self.d_steps += 1
            if not same(self.G_before, snapshot(gan.netG)):
                self.violations.append(f"G changed in D step {self.d_steps}")
            self.changed["D in D step"] += not same(self.D_before, snapshot(gan.netD))
            self.D_after_D_step = snapshot(gan.netD)
            self.G_after_D_step = snapshot(gan.netG)

        def after_G(*_):
            self.g_steps += 1
            # Everything between the end of the D step and the end of the G step:
            # the G forward/backward through D and G's optimizer step.
            if not same(self.D_after_D_step, snapshot(gan.netD)):
                self.violations.append(f"D changed in G step {self.g_steps}")
            self.changed["G in G step"] += not same(self.G_after_D_step, snapshot(gan.netG))

        opt_D.register_step_pre_hook(before_D)
        opt_D.register_step_post_hook(after_D)
        opt_G.register_step_post_hook(after_G)


def test_each_step_changes_only_its_own_network():
    seed_everything(0)
    watcher = StepWatcher()
    quiet_trainer(max_steps=10, callbacks=[watcher]).fit(toy_gan(), toy_data())
    assert watcher.violations == []
    assert watcher.d_steps == watcher.g_steps == 10
    assert watcher.changed == {"D in D step": 10, "G in G step": 10}


def test_g_step_leaves_no_gradient_on_d():
    seed_everything(0)
    gan = toy_gan()
    grads_after_G: list[bool] = []

    class Check(Callback):
        def on_train_start(self, trainer, pl_module):
            opt_G, opt_D = (o.optimizer for o in pl_module.optimizers())
            opt_D.register_step_post_hook(lambda *_: [p.grad.zero_() for p in pl_module.netD.parameters()])
            opt_G.register_step_post_hook(
                lambda *_: grads_after_G.append(any(p.grad.abs().sum() > 0 for p in pl_module.netD.parameters()))
            )

    quiet_trainer(max_steps=3, callbacks=[Check()]).fit(gan, toy_data())
    assert grads_after_G == [False, False, False]


@pytest.mark.parametrize("n_critic", [1, 5])
def test_n_critic_d_steps_per_g_step(n_critic):
    seed_everything(0)
    watcher = StepWatcher()
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=10, callbacks=[watcher])
    trainer.fit(toy_gan(n_critic=n_critic), toy_data())
    assert watcher.d_steps == 10
    assert watcher.g_steps == 10 // n_critic
    # global_step counts batches (one D step each), whatever n_critic (gan_lightning.batch_count)
    assert trainer.global_step == 10


class StatisticRecorder(Callback):
    """D's output on each real batch, taken before the D step changes D."""

    def __init__(self) -> None:
        self.before: list[Tensor] = []
        self.returned: list[dict] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        with torch.no_grad():
            self.before.append(pl_module.discriminate(batch[0]))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.returned.append({k: float(v) for k, v in outputs.items()})


@pytest.mark.parametrize("loss, name, to_stat", [
    ("non_saturating", "D_x", torch.sigmoid),  # a probability for logit losses
    ("wasserstein", "D_x_raw", lambda x: x),  # the raw score otherwise
])
def test_d_x_is_d_on_the_real_batch_before_the_d_step(loss, name, to_stat):
    seed_everything(0)
    recorder = StatisticRecorder()
    quiet_trainer(max_steps=3, callbacks=[recorder]).fit(toy_gan(loss=loss), toy_data())
    for before, returned in zip(recorder.before, recorder.returned):
        assert returned[name] == pytest.approx(to_stat(before).mean().item(), rel=1e-5)
    assert {"loss_D", "loss_G", name, name.replace("D_x", "D_G_z1"), name.replace("D_x", "D_G_z2")} <= set(recorder.returned[0])


class StepLogRecorder(Callback):
    """Per batch: the loss_D that training_step returned and the one the loggers received."""

    def __init__(self) -> None:
        self.returned: list[float] = []
        self.logged: dict[int, float] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.returned.append(outputs["loss_D"].item())
        if "loss_D" in trainer.logged_metrics and trainer.fit_loop.total_batch_idx not in self.logged:
            self.logged[trainer.fit_loop.total_batch_idx] = trainer.logged_metrics["loss_D"].item()


def test_step_values_reach_the_logger_on_its_schedule_and_callbacks_every_batch(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    seed_everything(0)
    recorder = StepLogRecorder()
    trainer = quiet_trainer(max_steps=12, log_every_n_steps=5, callbacks=[recorder], logger=CSVLogger(tmp_path))
    trainer.fit(toy_gan(), toy_data())
    assert len(recorder.returned) == 12 and len(set(recorder.returned)) == 12  # every batch, each its own
    # The logger got batches 5 and 10 (1-based), each with that batch's own value, not a stale one.
    written = {b: v for b, v in recorder.logged.items() if b in (4, 9)}
    assert written == {4: pytest.approx(recorder.returned[4]), 9: pytest.approx(recorder.returned[9])}
    assert trainer.progress_bar_metrics["loss_D"] == pytest.approx(recorder.returned[9], abs=1e-3)


def test_latent_distribution_and_fixed_noise():
    gan = toy_gan(latent=Latent(std=0.1))
    torch.manual_seed(0)
    z = gan.draw_latent(20000)
    assert z.std().item() == pytest.approx(0.1, rel=0.03)
    uni = toy_gan(latent=Latent(distribution="uniform")).draw_latent(20000)
    assert uni.min() >= -1 and uni.max() <= 1 and uni.std().item() == pytest.approx(1 / 3**0.5, rel=0.03)
    # The fixed noise does not depend on the global seed, and is a checkpointed buffer.
    torch.manual_seed(1)
    a = toy_gan().fixed_noise
    torch.manual_seed(2)
    assert torch.equal(a, toy_gan().fixed_noise)
    assert "fixed_noise" in toy_gan().state_dict()


def test_dcgan_init_statistics():
    from gan_lightning.networks import MLPGenerator

    torch.manual_seed(0)
    netG = MLPGenerator(latent_dim=64, out_shape=[256], hidden=[512], batch_norm=True)
    gan = toy_gan(netG=netG, network_setup=NetworkSetup(weight_init="dcgan"))
    linear = gan.netG.net[0]
    bn = gan.netG.net[1]
    assert linear.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert linear.weight.mean().abs().item() < 0.002
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.005)
    assert bn.weight.std().item() == pytest.approx(0.02, rel=0.2)


def test_shape_mismatch_is_reported_at_setup_with_both_shapes():
    from gan_lightning.networks import MLPDiscriminator, MLPGenerator

    bad_G = toy_gan(netG=MLPGenerator(latent_dim=2, out_shape=[3]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        quiet_trainer(max_steps=1).fit(bad_G, toy_data())
    bad_D = toy_gan(netD=MLPDiscriminator(in_shape=[4]))
    with pytest.raises(ValueError, match=r"netD cannot take samples of shape \(2,\)"):
        quiet_trainer(max_steps=1).fit(bad_D, toy_data())


class LearningRateRecorder(Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_lr_decay_is_constant_then_linear_to_zero_at_the_end():
    """10 batches, decay from half-way: lr 1e-3 for batches 0-5 (progress <= 0.5), then
    (1 - progress) / 0.5 of it, progress = batches done / 10."""
    adam = lambda p: torch.optim.Adam(p, lr=1e-3)  # noqa: E731
    recorder = LearningRateRecorder()
    quiet_trainer(max_steps=10, callbacks=[recorder]).fit(toy_gan(optimizer_G=adam, optimizer_D=adam, lr_decay_start=0.5), toy_data())
    expected = [1e-3 * min(1.0, (1 - b / 10) / 0.5) for b in range(10)]
    assert recorder.lrs == pytest.approx(expected, rel=1e-6)
    assert recorder.lrs[-1] == pytest.approx(2e-4)  # batch 9 starts after 9 of 10


def test_g_step_moves_d_batchnorm_statistics_but_not_d_parameters():
    """What the README says: as in the seed loop, the G step's forward through D (in train mode)
    updates D's BatchNorm running statistics; D's parameters stay as the D step left them."""
    from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator
    from tests.helpers import RandomDataModule

    snapshots: dict[str, dict[str, Tensor]] = {}

    class Snapshot(Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
            step = "G" if optimizer is pl_module.optimizers()[0].optimizer else "D"
            snapshots[step] = {k: v.clone() for k, v in pl_module.netD.state_dict().items()}

    seed_everything(0)
    gan = GAN(DCGANGenerator(8, 1, 16, 4), DCGANDiscriminator(1, 16, 4))
    quiet_trainer(max_steps=1, callbacks=[Snapshot()]).fit(gan, RandomDataModule(1, 16, batch_size=8))
    # snapshots: before D's optimizer step (after the D-step forward) and before G's (after the G-step forward)
    in_g_step, end = snapshots["G"], gan.netD.state_dict()
    stats = [k for k in end if k.endswith("running_mean")]
    assert stats and all(not torch.equal(snapshots["D"][k], in_g_step[k]) for k in stats)
    assert all(torch.equal(in_g_step[k], end[k]) for k in end)  # G's optimizer step leaves all of D as it was


class RecordInputs(Callback):
    """Each training batch's real samples and the latents G was given in the step (a forward
    pre-hook on netG while it trains with gradients: not the setup check or EMA refreshes)."""

    def __init__(self) -> None:
        self.reals: list[Tensor] = []
        self.latents: list[Tensor] = []
        self.losses: list[tuple[float, float]] = []

    def on_fit_start(self, trainer, pl_module) -> None:
        def keep(module, args):
            if torch.is_grad_enabled() and module.training:
                self.latents.append(args[0].detach().clone())

        pl_module.netG.register_forward_pre_hook(keep)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.reals.append(batch[0].clone())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append((outputs["loss_D"].item(), outputs["loss_G"].item()))


def reference_seed_loop(netG, netD, reals, latents, adam, r1_gamma: float) -> list[tuple[float, float]]:
    """pytorch/examples' dcgan loop, written out here (BCE on logits, real 1, fake 0, the G step
    on the same fakes labelled real), plus R1 (gamma/2 E|grad D(x)|^2) in D's loss; its losses."""
    optD, optG = adam(netD.parameters()), adam(netG.parameters())
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    losses = []
    for real, z in zip(reals, latents, strict=True):
        fake = netG(z)
        netD.zero_grad()
        out_real, out_fake = netD(real).view(-1), netD(fake.detach()).view(-1)
        loss_D = bce(out_real, torch.ones_like(out_real)) + bce(out_fake, torch.zeros_like(out_fake))
        x = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(netD(x).sum(), x, create_graph=True)
        loss_D = loss_D + r1_gamma * 0.5 * grad.flatten(1).pow(2).sum(1).mean()
        loss_D.backward()
        optD.step()
        netG.zero_grad()
        out = netD(fake).view(-1)
        loss_G = bce(out, torch.ones_like(out))
        loss_G.backward()
        optG.step()
        losses.append((loss_D.item(), loss_G.item()))
    return losses


def test_the_step_is_the_reference_seed_loop_with_r1():
    """The module's D and G steps give the losses of the plain PyTorch loop above, fed the same
    batches and latents from the same initial networks (both computed here; 1e-5 allows for a
    different order of float operations, which the last bits of a loss follow). Adam's eps is 1e-4
    on both sides: with the default 1e-8 an element whose gradient is ~0 steps by lr * g / |g|, so
    the last bits of g (which follow the CPU's kernels) can flip a whole step of that weight."""
    import copy

    from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator
    from tests.helpers import RandomDataModule

    seed_everything(0)
    adam = lambda p: torch.optim.Adam(p, lr=2e-3, betas=(0.5, 0.999), eps=1e-4)  # noqa: E731
    gan = GAN(DCGANGenerator(8, 1, 16, 4), DCGANDiscriminator(1, 16, 4), optimizer_G=adam, optimizer_D=adam,
              network_setup=NetworkSetup(weight_init="dcgan"), d_terms=[R1(2.0)])  # fmt: skip
    netG, netD = copy.deepcopy(gan.netG), copy.deepcopy(gan.netD)
    record = RecordInputs()
    quiet_trainer(max_steps=6, callbacks=[record]).fit(gan, RandomDataModule(1, 16, num_samples=48, batch_size=8))
    expected = reference_seed_loop(netG, netD, record.reals, record.latents, adam, r1_gamma=2.0)
    assert len(record.losses) == 6
    assert record.losses == [pytest.approx(pair, rel=1e-5) for pair in expected]
    for mine, theirs in zip(gan.netG.parameters(), netG.parameters()):
        assert torch.allclose(mine, theirs, rtol=1e-4, atol=1e-6)
