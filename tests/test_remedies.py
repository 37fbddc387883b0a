"""Each mode-collapse / stability remedy does what it says."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import seed_everything

from gan_lightning.module import GAN
from gan_lightning.networks import AutoencoderEnergy, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator
from gan_lightning.networks.layers import MinibatchStdDev
from gan_lightning.networks.init import NetworkSetup
from gan_lightning.terms import GradientPenalty, ModeSeeking, PullingAway, R1, StepContext
from gan_lightning.terms.mode_seeking import mode_seeking_penalty
from gan_lightning.terms.pulling_away import pulling_away_term
from tests.helpers import quiet_trainer, toy_data, toy_gan


def context(critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> StepContext:
    """A D-step context around a bare critic, as the module builds one (no module needed)."""
    judge = lambda x: critic(x).reshape(-1)  # noqa: E731
    return StepContext(real=real, fake=fake, z=torch.zeros(real.shape[0], 2), labels=None, d_real=judge(real),
                       d_fake=judge(fake), critic=judge, gan=None)  # fmt: skip


def test_packing_is_read_from_netd_and_packs_consecutive_samples():
    assert MLPDiscriminator(in_shape=[2], hidden=[8], pack=4).net[1].in_features == 8
    gan = toy_gan(pack=4)
    assert gan.pack == 4 and toy_gan().pack == 1
    x = torch.randn(12, 2)
    out = gan.discriminate(x)
    assert out.shape == (3,)
    # the second output is D's judgement of samples 4..7 side by side, and of nothing else
    assert torch.allclose(out[1], gan.netD(x[4:8].reshape(1, 8)).reshape(()))
    seed_everything(0)
    quiet_trainer(max_steps=2).fit(gan, toy_data())  # trains; the shape check passes at setup


def test_packing_image_batches_stacks_samples_along_channels():
    netD = DCGANDiscriminator(channels=1, image_size=16, ndf=4, pack=2)
    gan = GAN(DCGANGenerator(latent_dim=8, channels=1, image_size=16, ngf=4), netD)
    x = torch.randn(6, 1, 16, 16)
    out = gan.eval().discriminate(x)
    assert out.shape == (3,)
    pair = torch.cat([x[2], x[3]], dim=0).unsqueeze(0)  # (1, 2, 16, 16): samples 2 and 3 as channels
    assert torch.allclose(out[1], netD(pair).reshape(()), atol=1e-6)


@pytest.mark.parametrize("penalty", ["gp", "r1"])
def test_gradient_penalties_are_nonzero_and_train_d(penalty):
    torch.manual_seed(0)
    netD = MLPDiscriminator(in_shape=[2], hidden=[16], activation="leaky_relu")
    real, fake = torch.randn(32, 2), torch.randn(32, 2) + 3
    ctx = context(netD, real, fake)
    value = GradientPenalty()(ctx) if penalty == "gp" else R1()(ctx)
    assert value.item() > 0
    value.backward()
    # (a piecewise-linear D's input gradient does not depend on the first bias, so check weights)
    assert all(m.weight.grad.abs().sum() > 0 for m in netD.modules() if isinstance(m, torch.nn.Linear))


class LinearCritic(torch.nn.Module):
    """D(x) = w . x with |w| = 2: its input gradient is w everywhere, so GP and R1 are known."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([1.2, -1.6]))  # |w| = sqrt(1.44 + 2.56) = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w


def test_gradient_penalty_and_r1_on_a_linear_critic_have_their_closed_form():
    critic = LinearCritic()
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    ctx = context(critic, real, fake)
    assert GradientPenalty()(ctx).item() == pytest.approx(1.0)  # (|w| - 1)^2
    assert R1()(ctx).item() == pytest.approx(2.0)  # 0.5 |w|^2
    # Through the module, each enters D's loss with its weight: wasserstein + 10 * 1 + 3 * 2,
    # and each is reported unweighted under its own name.
    plain = toy_gan(loss="wasserstein", netD=critic)
    penalised = toy_gan(loss="wasserstein", d_terms=[GradientPenalty(10.0), R1(3.0)], netD=critic)
    (plain_loss, _), (loss, values) = plain.d_loss(ctx), penalised.d_loss(ctx)
    assert (loss - plain_loss).item() == pytest.approx(16.0, rel=1e-5)
    assert values["loss_D/gp"].item() == pytest.approx(1.0) and values["loss_D/r1"].item() == pytest.approx(2.0)
    assert set(values) == {"loss_D/gp", "loss_D/r1"} and not values["loss_D/r1"].requires_grad


def test_mode_seeking_penalty_is_the_inverse_output_to_latent_distance_ratio():
    z = torch.randn(64, 2)
    assert mode_seeking_penalty(z, 2 * z).item() == pytest.approx(0.5, rel=1e-4)  # ratio 2
    assert mode_seeking_penalty(z, 0.01 * z).item() == pytest.approx(100.0, rel=1e-3)  # collapsing: ratio 0.01
    gan, plain = toy_gan(g_terms=[ModeSeeking(3.0)]), toy_gan()
    fake, d = gan.netG(z), torch.zeros(64)
    ctx = replace(context(gan.netD, fake, fake), z=z, d_real=d, d_fake=d)
    gap = gan.g_loss(ctx)[0] - plain.g_loss(ctx)[0]
    assert gap.item() == pytest.approx(3.0 * mode_seeking_penalty(z, fake).item(), rel=1e-5)


def test_pulling_away_term_is_the_mean_squared_cosine_of_distinct_codes_and_pushes_g_apart():
    assert pulling_away_term(torch.eye(8)).item() == pytest.approx(0.0)  # orthogonal codes
    assert pulling_away_term(torch.randn(1, 16).repeat(8, 1)).item() == pytest.approx(1.0)  # one sample: collapsed
    codes = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])  # cos^2 of the pairs: 1/2, 0, 1/2
    assert pulling_away_term(codes).item() == pytest.approx((0.5 + 0.0 + 0.5) * 2 / 6)
    torch.manual_seed(0)
    netD = AutoencoderEnergy(channels=1, image_size=16, code_dim=8, width=4)
    netG = DCGANGenerator(latent_dim=8, channels=1, image_size=16, ngf=4)
    gan, plain = GAN(netG, netD, loss="energy", g_terms=[PullingAway(0.1)]), GAN(netG, netD, loss="energy")
    z = torch.randn(16, 8)
    fake = netG(z)
    d_fake = netD(fake)
    ctx = StepContext(real=fake, fake=fake, z=z, labels=None, d_real=d_fake, d_fake=d_fake, critic=netD, gan=gan)
    gap = gan.g_loss(ctx)[0] - plain.g_loss(ctx)[0]
    assert gap.item() == pytest.approx(0.1 * pulling_away_term(netD.encoder(fake)).item(), rel=1e-5)
    assert gap.item() > 0
    (grad,) = torch.autograd.grad(gap, fake)
    assert grad.abs().sum() > 0  # it reaches G through its samples
    with pytest.raises(ValueError, match="PullingAway needs a netD with an `encoder`"):
        toy_gan(g_terms=[PullingAway(0.1)])


def test_ema_generator_differs_from_g_and_moves_towards_it():
    seed_everything(0)
    gan = toy_gan(ema_decay=0.9)
    quiet_trainer(max_steps=10).fit(gan, toy_data())
    ema = gan.netG_ema.module

    def distance() -> float:
        return sum((a - b).norm().item() for a, b in zip(ema.parameters(), gan.netG.parameters()))

    before = distance()
    assert before > 0
    assert gan.sampling_generator is ema and int(gan.netG_ema.n_averaged) == 10  # one update a G step
    gan.update_ema()  # update n = 10 of the warm-up: decay min(0.9, 11 / 20) = 0.55
    assert distance() == pytest.approx(0.55 * before, rel=1e-4)  # each update closes 1 - decay of the gap
    for _ in range(100):  # past the warm-up (n >= 80) the configured decay holds
        gan.update_ema()
    with torch.no_grad():
        for p in gan.netG.parameters():
            p.add_(1.0)
    gap = distance()
    gan.update_ema()
    assert distance() == pytest.approx(0.9 * gap, rel=1e-3)
    assert not ema.net[0].weight.requires_grad


def test_spectral_norm_bounds_every_d_layer_and_d_still_trains():
    seed_everything(0)
    gan = toy_gan(network_setup=NetworkSetup(spectral_norm=True),
                  netD=MLPDiscriminator(in_shape=[2], hidden=[32, 32], activation="leaky_relu"))
    linears = [m for m in gan.netD.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3 and all(hasattr(m, "parametrizations") for m in linears)
    before = [m.parametrizations.weight.original.detach().clone() for m in linears]
    quiet_trainer(max_steps=10).fit(gan, toy_data())
    for layer, old in zip(linears, before):
        assert not torch.equal(layer.parametrizations.weight.original, old)
        assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2) < 1.05
    # without it the same layers are unconstrained
    big = MLPDiscriminator(in_shape=[2], hidden=[32], activation="leaky_relu").net[1]
    torch.nn.init.normal_(big.weight, std=5.0)
    assert torch.linalg.matrix_norm(big.weight.detach(), ord=2) > 1.05


def test_minibatch_std_adds_one_feature_from_the_batch_spread():
    layer = MinibatchStdDev()
    x = torch.randn(8, 5)
    out = layer(x)
    assert out.shape == (8, 6) and torch.equal(out[:, :5], x)
    assert torch.allclose(out[:, 5], x.std(dim=0, unbiased=False).mean().expand(8), atol=1e-5)
    assert layer(torch.ones(8, 5))[:, 5].max() < 1e-3  # a collapsed batch has no spread
    assert MinibatchStdDev()(torch.randn(4, 3, 5, 5)).shape == (4, 4, 5, 5)
    grouped = MinibatchStdDev(group_size=2)(torch.tensor([[0.0], [5.0], [2.0], [5.0]]))
    assert grouped[:, 1].tolist() == pytest.approx([1.0, 0.0, 1.0, 0.0], abs=1e-3)
    with pytest.raises(ValueError, match="not divisible"):
        MinibatchStdDev(group_size=3)(torch.randn(4, 2))
    # in D, a sample's score depends on the rest of its batch
    torch.manual_seed(0)
    netD = MLPDiscriminator(in_shape=[2], hidden=[8], minibatch_std=True)
    point = torch.zeros(1, 2)
    assert netD(torch.cat([point, torch.zeros(3, 2)]))[0] != netD(torch.cat([point, 3 * torch.randn(3, 2)]))[0]


@pytest.mark.parametrize("data", ["ring8", "grid25"])
def test_the_remedy_fragments_stack_on_the_plain_experiment_and_change_only_their_key(data):
    """The README's remedy is the plain experiment plus configs/remedies/r1.yaml (R1, γ 10), the
    alternative plus pack2.yaml: the same networks, optimizer, batches, EMA G and lr schedule;
    only D's terms, or netD's pack, differ."""
    from gan_lightning.cli import cli_main
    from gan_lightning.terms import R1

    configs = Path(__file__).parents[1] / "configs"
    r1, pack2 = configs / "remedies" / "r1.yaml", configs / "remedies" / "pack2.yaml"
    assert yaml.safe_load(pack2.read_text()) == {"model": {"netD": {"init_args": {"pack": 2}}}}
    args = ["--config", str(configs / f"{data}.yaml"), "--trainer.logger", "false"]
    plain = cli_main(args, run=False)
    regularised, packed = (cli_main([*args, "--config", str(fragment)], run=False) for fragment in (r1, pack2))
    assert len(plain.model.d_terms) == 0 and plain.model.pack == 1 and packed.model.pack == 2
    (term,) = regularised.model.d_terms
    assert isinstance(term, R1) and term.weight == 10.0 and regularised.model.pack == 1
    a, b, c = plain.config.clone(), regularised.config.clone(), packed.config.clone()
    assert len(b.model.init_args.pop("d_terms")) == 1 and a.model.init_args.pop("d_terms") in ([], None)
    assert c.model.init_args.pop("d_terms") in ([], None)
    assert [config.model.init_args.netD.init_args.pop("pack") for config in (a, b, c)] == [1, 1, 2]
    for config in (a, b, c):
        config.pop("config")  # the file names given
    assert a == b == c
    assert a.model.init_args.ema_decay == 0.999 and a.model.init_args.lr_decay_start == 0.5


def test_ema_generator_samples_with_batchnorm_statistics_of_its_own_weights():
    seed_everything(0)
    gan = GAN(DCGANGenerator(latent_dim=8, ngf=4, image_size=16), DCGANDiscriminator(ndf=4, image_size=16), ema_decay=0.5)
    gan.netG_ema.update_parameters(gan.netG)  # the EMA starts as a copy of G
    with torch.no_grad():  # G moves (weights x3); the EMA's running statistics are now a mix that fits neither
        for p in gan.netG.parameters():
            p.mul_(3.0)
        gan.netG.train()(torch.randn(64, 8))
    gan.netG_ema.update_parameters(gan.netG)
    ema = gan.netG_ema.module
    first_norm = next(m for m in ema.modules() if isinstance(m, torch.nn.BatchNorm2d))
    normalised = []
    first_norm.register_forward_hook(lambda m, i, out: normalised.append(out.detach().clone()))  # before the in-place ReLU

    def first_norm_output_stats(generate) -> tuple[float, float]:
        normalised.clear()
        generate(gan.draw_latent(2048, torch.Generator().manual_seed(1)))
        out = (normalised[-1] - first_norm.bias[None, :, None, None]) / first_norm.weight[None, :, None, None]
        return out.mean((0, 2, 3)).abs().max().item(), out.std((0, 2, 3)).sub(1).abs().max().item()

    stale = first_norm_output_stats(lambda z: ema.eval()(z))  # the averaged statistics (no refresh)
    assert max(stale) > 0.3
    rng = torch.get_rng_state()
    mean_error, std_error = first_norm_output_stats(gan.generate)
    assert mean_error < 0.1 and std_error < 0.1  # standardised: the statistics are the EMA G's own
    assert torch.equal(torch.get_rng_state(), rng)  # fixed latents: training's random stream is untouched
    assert first_norm.momentum == 0.1 and not ema.training  # the layer's settings and the mode restored
    recomputed = first_norm.running_mean.clone()
    gan.generate(torch.randn(4, 8))
    assert torch.equal(first_norm.running_mean, recomputed)  # not again until the next EMA update
