"""The papers' own 2-D settings (docs/paper_settings.md): PacGAN's maxout D and configs, WGAN-GP's
toy configs with their He-uniform init and divided data, built as the papers' code builds them."""

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_lightning.cli import cli_main
from gan_lightning.data import GridDataModule, RingDataModule
from gan_lightning.metrics.modes import mode_stats
from gan_lightning.networks import MaxoutDiscriminator, MLPGenerator
from gan_lightning.networks.init import NetworkSetup, prepare_networks
from gan_lightning.networks.maxout import Maxout
from gan_lightning.terms import GradientPenalty
from tests.helpers import toy_gan

CONFIGS = Path(__file__).parents[1] / "configs"


def test_a_maxout_unit_is_the_maximum_of_its_pieces():
    layer = Maxout(2, 2, pieces=3)
    with torch.no_grad():  # unit 0's pieces: x0, x1, -x0; unit 1's: x0 + x1, 1, x0 - x1 (rows in that order)
        layer.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, -1.0]]))
        layer.linear.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 0.0]))
    x = torch.tensor([[2.0, -3.0], [-1.0, 0.5], [0.0, 0.0]])
    expected = torch.tensor([[2.0, 5.0], [1.0, 1.0], [0.0, 1.0]])  # max(x0, x1, -x0), max(x0 + x1, 1, x0 - x1)
    assert torch.equal(layer(x), expected)
    # the gradient flows to the winning piece only
    x = torch.tensor([[2.0, -3.0]], requires_grad=True)
    layer(x)[0, 0].backward()
    assert x.grad.tolist() == [[1.0, 0.0]]  # unit 0's winner is x0
    with pytest.raises(ValueError, match="piece"):
        Maxout(2, 2, pieces=0)


def test_the_maxout_discriminator_has_pacgans_layers_and_packs_its_input():
    netD = MaxoutDiscriminator(in_shape=[2], pack=3)
    maxouts = [m for m in netD.modules() if isinstance(m, Maxout)]
    assert [(m.linear.in_features, m.out_features, m.pieces) for m in maxouts] == [(6, 200, 5), (200, 200, 5), (200, 200, 5)]
    assert netD.net[-1].in_features == 200 and netD.net[-1].out_features == 1
    gan = toy_gan(netD=netD)
    assert gan.pack == 3
    x = torch.randn(9, 2)
    out = gan.discriminate(x)
    assert out.shape == (3,)
    assert torch.allclose(out[2], netD(x[6:9].reshape(1, 6)).reshape(()))  # samples 6..8 side by side


def test_he_uniform_init_has_he_bounds_and_zero_biases():
    torch.manual_seed(0)
    netG, netD = MLPGenerator(hidden=[512, 512]), MaxoutDiscriminator(hidden=[512])
    prepare_networks(netG, netD, NetworkSetup(weight_init="he_uniform"))
    layers = [m for m in [*netG.modules(), *netD.modules()] if isinstance(m, nn.Linear)]
    for layer in layers:
        bound = math.sqrt(6 / layer.in_features)
        assert layer.weight.abs().max() <= bound and torch.all(layer.bias == 0)
    hidden = netG.net[2].weight  # 512 -> 512: enough values for the standard deviation
    assert hidden.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.02)


def test_divide_by_divides_modes_std_and_points_and_leaves_the_default_data_bit_for_bit():
    ring = RingDataModule(radius=2.0, std=0.02, divide_by=1.414, num_samples=5000, seed=3)
    ring.setup("fit")
    assert torch.allclose(ring.modes.norm(dim=1), torch.full((8,), 2 / 1.414))
    assert ring.std == pytest.approx(0.02 / 1.414)
    same = RingDataModule(radius=2.0, std=0.02, num_samples=5000, seed=3).make_data()
    assert torch.allclose(ring.data, same / 1.414, atol=1e-6)  # the same points, divided
    stats = mode_stats(ring.data, ring.modes, ring.std)
    assert stats.modes_covered == 8 and stats.hq_fraction > 0.98  # 3 std in 2-D: 98.9% of a Gaussian
    grid = GridDataModule(divide_by=2.828, num_samples=10)
    assert sorted(set(grid.modes[:, 0].tolist())) == pytest.approx([x / 2.828 for x in (-4, -2, 0, 2, 4)])
    assert grid.std == pytest.approx(0.05 / 2.828)
    plain = RingDataModule(num_samples=100, seed=1)
    assert torch.equal(plain.make_data(), RingDataModule(num_samples=100, seed=1, divide_by=1.0).make_data())
    with pytest.raises(ValueError, match="divide_by"):
        RingDataModule(divide_by=0.0)


def n_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# PacGAN's 2-D networks, counted from its code (synthetic_data_experiments/2DRing_GAN&PacGAN/
# pacgan_task.py): G 2 -> 400 -> 400 -> 400 -> 400 -> 2 without hidden biases (Blocks MLP
# use_bias=False, the output layer's bias on), each hidden layer's BatchNorm a scale and a shift;
# D LinearMaxout(2m -> 200 x 5 pieces), 2 x LinearMaxout(200 -> 200 x 5), Linear(200 -> 1).
PACGAN_G = 2 * 400 + 3 * 400 * 400 + (400 * 2 + 2) + 4 * 2 * 400  # 484,802
PACGAN_D = {m: (2 * m * 1000 + 1000) + 2 * (200 * 1000 + 1000) + 201 for m in (1, 2, 3, 4)}  # 405,201 at m = 1
# WGAN-GP's gan_toy.py: 2 -> 512 -> 512 -> 512 -> 2 (G) and -> 1 (critic), every layer with a bias
WGAN_TOY_G = (2 * 512 + 512) + 2 * (512 * 512 + 512) + (512 * 2 + 2)  # 527,874
WGAN_TOY_D = (2 * 512 + 512) + 2 * (512 * 512 + 512) + (512 + 1)  # 527,361


def test_a_hidden_bias_before_batchnorm_changes_nothing_so_pacgans_g_leaves_it_out():
    torch.manual_seed(0)
    with_bias = MLPGenerator(hidden=[16, 16], batch_norm=True)
    without = MLPGenerator(hidden=[16, 16], batch_norm=True, hidden_bias=False)
    assert [m.bias is None for m in without.modules() if isinstance(m, nn.Linear)] == [True, True, False]
    assert n_parameters(with_bias) - n_parameters(without) == 32
    state = {k: v for k, v in with_bias.state_dict().items() if k in without.state_dict()}
    without.load_state_dict(state)
    with torch.no_grad():
        for m in with_bias.modules():
            if isinstance(m, nn.Linear) and m.out_features == 16:
                m.bias.uniform_(-3, 3)  # any hidden bias: BatchNorm subtracts the batch mean
    z = torch.randn(64, 2)
    assert torch.allclose(with_bias(z), without(z), atol=1e-5)
    with pytest.raises(ValueError, match="batch_norm"):
        MLPGenerator(hidden=[16], hidden_bias=False)


@pytest.mark.parametrize("data", ["ring", "grid"])
def test_pacgan_configs_build_pacgans_networks_optimizer_and_data(data):
    cli = cli_main(["--config", str(CONFIGS / f"pacgan_{data}.yaml"), "--trainer.logger", "false"], run=False)
    gan, dm = cli.model, cli.datamodule
    linears = [m for m in gan.netG.modules() if isinstance(m, nn.Linear)]
    norms = [m for m in gan.netG.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2, 400), (400, 400), (400, 400), (400, 400), (400, 2)]
    assert [m.bias is None for m in linears] == [True] * 4 + [False]
    assert [m.num_features for m in norms] == [400] * 4 and all(m.affine for m in norms) and gan.netG.latent_dim == 2
    assert isinstance(gan.netD, MaxoutDiscriminator) and gan.pack == 1
    assert n_parameters(gan.netG) == PACGAN_G == 484_802 and n_parameters(gan.netD) == PACGAN_D[1] == 405_201
    assert gan.netG(torch.randn(5, 2)).shape == (5, 2) and gan.netD(torch.randn(5, 2)).shape == (5,)
    for layer in [*linears, *[m for m in gan.netD.modules() if isinstance(m, nn.Linear)]]:
        assert layer.bias is None or torch.all(layer.bias == 0)
        assert layer.weight.std().item() == pytest.approx(0.02, rel=0.25)  # N(0, 0.02) (the 2 x 2 output: loosely)
    opt_G, opt_D = gan.configure_optimizers()[0]
    for opt in (opt_G, opt_D):
        assert type(opt) is torch.optim.Adam
        assert opt.defaults["lr"] == 1e-4 and tuple(opt.defaults["betas"]) == (0.8, 0.999)
    assert type(gan.objective).__name__ == "NonSaturatingLoss" and not gan.d_terms and not gan.g_terms
    assert gan.netG_ema is None and gan.lr_decay_start == 1.0 and gan.n_critic == 1
    assert cli.trainer.max_steps == 400_000 and dm.batch_size == 100 and dm.num_samples == 100_000
    assert not dm.standardize
    # PacGAN's packing m (configs/pacgan/pack{m}.yaml): 100 packs of m samples a batch
    for m in (2, 3, 4):
        packed = cli_main(["--config", str(CONFIGS / f"pacgan_{data}.yaml"), "--config", str(CONFIGS / f"pacgan/pack{m}.yaml"),
                           "--trainer.logger", "false"], run=False)  # fmt: skip
        assert packed.model.pack == m and packed.datamodule.batch_size == 100 * m
        assert packed.model.netD.net[1].linear.in_features == 2 * m
        assert n_parameters(packed.model.netD) == PACGAN_D[m] and n_parameters(packed.model.netG) == PACGAN_G
        assert packed.trainer.max_steps == 400_000
        assert packed.model.discriminate(torch.randn(100 * m, 2)).shape == (100,)  # one output a pack


@pytest.mark.parametrize(("data", "std", "modes"), [("ring", 0.01, 8), ("grid", 0.05, 25)])
def test_pacgan_data_has_its_modes_and_spread(data, std, modes):
    cli = cli_main(["--config", str(CONFIGS / f"pacgan_{data}.yaml"), "--trainer.logger", "false"], run=False)
    dm = cli.datamodule
    points = dm.make_data()
    assert points.shape == (100_000, 2) and len(dm.modes) == modes and dm.std == std
    if data == "ring":
        assert torch.allclose(dm.modes.norm(dim=1), torch.ones(8))
        assert torch.allclose(dm.modes[2], torch.tensor([0.0, 1.0]), atol=1e-6)  # cos, sin of 2 pi k / 8
    else:
        assert sorted(set(dm.modes.flatten().tolist())) == [-4, -2, 0, 2, 4]
    nearest = torch.cdist(points, dm.modes).argmin(dim=1)
    counts = torch.bincount(nearest, minlength=modes)
    assert counts.min() > 0.9 * 100_000 / modes and counts.max() < 1.1 * 100_000 / modes  # equal weights
    offsets = points - dm.modes[nearest]
    assert offsets.mean(dim=0).abs().max() < 0.05 * std and offsets.std(dim=0).tolist() == pytest.approx([std, std], rel=0.02)
    stats = mode_stats(points[:2500], dm.modes, dm.std)  # PacGAN's metrics on data: 8 or 25, ~98.9%, ~0
    assert stats.modes_covered == modes and stats.hq_fraction > 0.97 and stats.reverse_kl < 0.02


@pytest.mark.parametrize(("data", "divide_by", "modes"), [("8", 1.414, 8), ("25", 2.828, 25)])
def test_wgan_gp_toy_configs_build_gan_toys_networks_penalty_and_data(data, divide_by, modes):
    cli = cli_main(["--config", str(CONFIGS / f"wgangp_toy{data}.yaml"), "--trainer.logger", "false"], run=False)
    gan, dm = cli.model, cli.datamodule
    assert n_parameters(gan.netG) == WGAN_TOY_G and n_parameters(gan.netD) == WGAN_TOY_D
    for net in (gan.netG, gan.netD):
        widths = [m.out_features for m in net.modules() if isinstance(m, nn.Linear)]
        assert widths[:3] == [512, 512, 512] and len(widths) == 4
        assert all(isinstance(m, nn.ReLU) for m in net.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.Tanh)))
    first = next(m for m in gan.netD.modules() if isinstance(m, nn.Linear))
    assert first.weight.abs().max() <= math.sqrt(6 / 2) and first.weight.abs().max() > 1.5  # He-uniform, fan-in 2
    (term,) = gan.d_terms
    assert isinstance(term, GradientPenalty) and term.weight == 0.1
    assert gan.n_critic == 5 and type(gan.objective).__name__ == "WassersteinLoss"
    opt_G, opt_D = gan.configure_optimizers()[0]
    for opt in (opt_G, opt_D):
        assert type(opt) is torch.optim.Adam
        assert opt.defaults["lr"] == 1e-4 and tuple(opt.defaults["betas"]) == (0.5, 0.9)
    assert dm.batch_size == 256 and cli.trainer.max_steps == 500_000 and gan.netG_ema is None
    assert len(dm.modes) == modes and dm.std == pytest.approx((0.02 if data == "8" else 0.05) / divide_by)
    assert dm.modes.abs().max().item() == pytest.approx((2.0 if data == "8" else 4.0) / divide_by, rel=1e-6)
