"""Each objective against values worked out by hand on a few numbers."""

import math

import pytest
import torch

from gan_lightning.losses import LOSSES, EnergyLoss, get_objective

real = torch.tensor([0.0, 2.0])
fake = torch.tensor([-1.0, 1.0])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_bce_d_loss_is_minus_log_d_real_minus_log_one_minus_d_fake():
    expected = (softplus(-0.0) + softplus(-2.0)) / 2 + (softplus(-1.0) + softplus(1.0)) / 2
    # -log(sigmoid(0)) = log 2: the first term at D(x) = 0.5
    assert softplus(0.0) == pytest.approx(math.log(2))
    for name in ("minimax", "non_saturating"):
        assert get_objective(name).d_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_non_saturating_g_loss_is_minus_log_d():
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = -(math.log(sig(-1.0)) + math.log(sig(1.0))) / 2
    assert get_objective("non_saturating").g_loss(fake, real).item() == pytest.approx(expected, rel=1e-6)


def test_minimax_g_loss_is_log_one_minus_d_and_saturates():
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = (math.log(1 - sig(-1.0)) + math.log(1 - sig(1.0))) / 2
    assert get_objective("minimax").g_loss(fake, real).item() == pytest.approx(expected, rel=1e-6)
    # Against a confident D (logit -10) its gradient vanishes; the non-saturating one does not.
    logit = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(get_objective("minimax").g_loss(logit, logit.detach()), logit)
    (g_ns,) = torch.autograd.grad(get_objective("non_saturating").g_loss(logit, logit.detach()), logit)
    assert abs(g_mm.item()) < 1e-4 < 0.99 < abs(g_ns.item())


def test_lsgan():
    obj = get_objective("lsgan")
    assert obj.d_loss(real, fake).item() == pytest.approx(0.5 * (1 + 1) / 2 + 0.5 * (1 + 1) / 2)
    assert obj.g_loss(fake, real).item() == pytest.approx(0.5 * (4 + 0) / 2)


def test_hinge():
    obj = get_objective("hinge")
    # relu(1 - [0, 2]) = [1, 0]; relu(1 + [-1, 1]) = [0, 2]
    assert obj.d_loss(real, fake).item() == pytest.approx(0.5 + 1.0)
    assert obj.g_loss(fake, real).item() == pytest.approx(0.0)


def test_wasserstein():
    obj = get_objective("wasserstein")
    assert obj.d_loss(real, fake).item() == pytest.approx(0.0 - 1.0)
    assert obj.g_loss(torch.tensor([1.0, 3.0]), real).item() == pytest.approx(-2.0)


def test_energy_margin():
    energies_real = torch.tensor([0.5, 1.5])
    energies_fake = torch.tensor([0.5, 3.0])
    # C(x) = 1.0; [m - C(G(z))]^+ with m = 2: [1.5, 0] -> 0.75; the default m = 1: [0.5, 0] -> 0.25
    assert EnergyLoss(margin=2.0).d_loss(energies_real, energies_fake).item() == pytest.approx(1.75)
    assert get_objective("energy").d_loss(energies_real, energies_fake).item() == pytest.approx(1.25)
    assert EnergyLoss(2.0).g_loss(energies_fake, energies_real).item() == pytest.approx(1.75)
    with pytest.raises(ValueError, match="margin must be > 0"):
        EnergyLoss(margin=0.0)


def test_ragan_compares_each_side_with_the_other_sides_mean():
    # mean D(x) = 1, mean D(G(z)) = 0. D: softplus(-(x - 0)) + softplus(f - 1); G swaps the roles.
    d = (softplus(-0.0) + softplus(-2.0)) / 2 + (softplus(-2.0) + softplus(0.0)) / 2
    g = (softplus(2.0) + softplus(0.0)) / 2 + (softplus(0.0) + softplus(2.0)) / 2
    obj = get_objective("ragan")
    assert obj.d_loss(real, fake).item() == pytest.approx(d, rel=1e-6)
    assert obj.g_loss(fake, real).item() == pytest.approx(g, rel=1e-6)
    # G's loss depends on D(x): a plain GAN's G loss would not change here.
    assert obj.g_loss(fake, real + 1).item() > obj.g_loss(fake, real).item()


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError) as err:
        get_objective("bce")
    for name in LOSSES:
        assert name in str(err.value)
