"""Each mode-collapse / stability remedy does what it says."""

from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import seed_everything

from gan_lightning.module import GAN
from gan_lightning.networks import AutoencoderEnergy, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator
from gan_lightning.networks.layers import MinibatchStdDev
from gan_lightning.regularizers import gradient_penalty, mode_seeking_penalty, pulling_away_term, r1_penalty
from tests.helpers import quiet_trainer, toy_data, toy_gan


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
    quiet_trainer(max_steps=4).fit(gan, toy_data())  # trains; the shape check passes at setup


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
    value = gradient_penalty(netD, real, fake) if penalty == "gp" else r1_penalty(netD, real)
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
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(1.0)  # (|w| - 1)^2
    assert r1_penalty(critic, real).item() == pytest.approx(2.0)  # 0.5 |w|^2
    # Through the module, each enters D's loss with its weight: wasserstein + 10 * 1 + 3 * 2.
    plain = toy_gan(loss="wasserstein", netD=critic)
    penalised = toy_gan(loss="wasserstein", gp_weight=10.0, r1_weight=3.0, netD=critic)
    d_real, d_fake = critic(real), critic(fake)
    gap = penalised.d_loss(real, fake, d_real, d_fake) - plain.d_loss(real, fake, d_real, d_fake)
    assert gap.item() == pytest.approx(16.0, rel=1e-5)


def test_mode_seeking_penalty_is_the_inverse_output_to_latent_distance_ratio():
    z = torch.randn(64, 2)
    assert mode_seeking_penalty(z, 2 * z).item() == pytest.approx(0.5, rel=1e-4)  # ratio 2
    assert mode_seeking_penalty(z, 0.01 * z).item() == pytest.approx(100.0, rel=1e-3)  # collapsing: ratio 0.01
    gan, plain = toy_gan(mode_seeking_weight=3.0), toy_gan()
    fake, d = gan.netG(z), torch.zeros(64)
    gap = gan.g_loss(z, fake, d, d) - plain.g_loss(z, fake, d, d)
    assert gap.item() == pytest.approx(3.0 * mode_seeking_penalty(z, fake).item(), rel=1e-5)


def test_pulling_away_term_is_the_mean_squared_cosine_of_distinct_codes_and_pushes_g_apart():
    assert pulling_away_term(torch.eye(8)).item() == pytest.approx(0.0)  # orthogonal codes
    assert pulling_away_term(torch.randn(1, 16).repeat(8, 1)).item() == pytest.approx(1.0)  # one sample: collapsed
    codes = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])  # cos^2 of the pairs: 1/2, 0, 1/2
    assert pulling_away_term(codes).item() == pytest.approx((0.5 + 0.0 + 0.5) * 2 / 6)
    torch.manual_seed(0)
    netD = AutoencoderEnergy(channels=1, image_size=16, code_dim=8, width=4)
    netG = DCGANGenerator(latent_dim=8, channels=1, image_size=16, ngf=4)
    gan, plain = GAN(netG, netD, loss="energy", pull_away_weight=0.1), GAN(netG, netD, loss="energy")
    z = torch.randn(16, 8)
    fake = netG(z)
    d_fake = netD(fake)
    gap = gan.g_loss(z, fake, d_fake, d_fake) - plain.g_loss(z, fake, d_fake, d_fake)
    assert gap.item() == pytest.approx(0.1 * pulling_away_term(netD.encoder(fake)).item(), rel=1e-5)
    assert gap.item() > 0
    (grad,) = torch.autograd.grad(gap, fake)
    assert grad.abs().sum() > 0  # it reaches G through its samples
    with pytest.raises(ValueError, match="pull_away_weight needs a netD with an `encoder`"):
        toy_gan(pull_away_weight=0.1)


def test_ema_generator_differs_from_g_and_moves_towards_it():
    seed_everything(0)
    gan = toy_gan(ema_decay=0.9)
    quiet_trainer(max_steps=20).fit(gan, toy_data())
    ema = gan.netG_ema.module

    def distance() -> float:
        return sum((a - b).norm().item() for a, b in zip(ema.parameters(), gan.netG.parameters()))

    before = distance()
    assert before > 0
    assert gan.sampling_generator is ema
    gan.netG_ema.update_parameters(gan.netG)
    assert distance() == pytest.approx(0.9 * before, rel=1e-4)  # each update closes 1 - decay of the gap
    assert not ema.net[0].weight.requires_grad


def test_spectral_norm_bounds_every_d_layer_and_d_still_trains():
    seed_everything(0)
    gan = toy_gan(spectral_norm=True, netD=MLPDiscriminator(in_shape=[2], hidden=[32, 32], activation="leaky_relu"))
    linears = [m for m in gan.netD.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3 and all(hasattr(m, "parametrizations") for m in linears)
    before = [m.parametrizations.weight.original.detach().clone() for m in linears]
    quiet_trainer(max_steps=20).fit(gan, toy_data())
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
def test_the_plain_configs_are_the_recommended_ones_without_packing(data):
    """The README's comparison measures the remedy alone: same networks, optimizer, batches,
    EMA G and lr schedule; only netD's pack (and where the run is logged) differ."""
    configs = Path(__file__).parents[1] / "configs"
    recommended = yaml.safe_load((configs / f"{data}.yaml").read_text())
    plain = yaml.safe_load((configs / f"{data}_plain.yaml").read_text())
    assert recommended["model"]["netD"]["init_args"].pop("pack") == 2
    for config in (recommended, plain):
        del config["trainer"]["logger"]
    assert recommended == plain
    assert plain["model"]["ema_decay"] == 0.999 and plain["model"]["lr_decay_start"] == 0.5


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
    hook = first_norm.register_forward_hook(lambda m, i, out: normalised.append(out.detach().clone()))  # before the in-place ReLU

    def first_norm_output_stats(generate) -> tuple[float, float]:
        normalised.clear()
        generate(gan.draw_latent(2048, torch.Generator().manual_seed(1)))
        out = (normalised[-1] - first_norm.bias[None, :, None, None]) / first_norm.weight[None, :, None, None]
        return out.mean((0, 2, 3)).abs().max().item(), out.std((0, 2, 3)).sub(1).abs().max().item()

    stale = first_norm_output_stats(lambda z: ema.eval()(z))  # the averaged statistics, as before the fix
    assert max(stale) > 0.3
    rng = torch.get_rng_state()
    mean_error, std_error = first_norm_output_stats(gan.generate)
    assert mean_error < 0.1 and std_error < 0.1  # standardised: the statistics are the EMA G's own
    assert torch.equal(torch.get_rng_state(), rng)  # fixed latents: training's random stream is untouched
    assert first_norm.momentum == 0.1 and not ema.training  # the layer's settings and the mode restored
    recomputed = first_norm.running_mean.clone()
    gan.generate(torch.randn(4, 8))
    assert torch.equal(first_norm.running_mean, recomputed)  # not again until the next EMA update
