"""Latent tools: interpolation paths and the truncation trick."""

import pytest
import torch

from gan_lightning.latent import Latent, interpolate, lerp, slerp, truncated_normal
from gan_lightning.sample import draw_latents
from tests.helpers import toy_gan


def test_slerp_ends_are_the_inputs_and_it_stays_on_the_shell():
    torch.manual_seed(0)
    a, b = torch.randn(100, 128), torch.randn(100, 128)
    path = slerp(a, b, torch.linspace(0, 1, 9))
    assert path.shape == (100, 9, 128)
    assert torch.allclose(path[:, 0], a, atol=1e-5) and torch.allclose(path[:, -1], b, atol=1e-5)
    norms = path.norm(dim=2)
    lo = torch.minimum(a.norm(dim=1), b.norm(dim=1)).unsqueeze(1)
    hi = torch.maximum(a.norm(dim=1), b.norm(dim=1)).unsqueeze(1)
    # Slerp's norms stay between the ends' (exactly so for orthogonal ends; 128-d normals nearly
    # are); the straight line's midpoint of such ends has about 1/sqrt(2) of their norm.
    assert (norms >= lo * 0.99).all() and (norms <= hi * 1.01).all()
    mid_ratio = lerp(a, b, torch.tensor([0.5]))[:, 0].norm(dim=1) / ((lo + hi)[:, 0] / 2)
    assert 0.65 < mid_ratio.mean() < 0.76 and mid_ratio.max() < 0.85


def test_slerp_of_parallel_vectors_is_the_straight_line():
    a = torch.tensor([[1.0, 2.0]])
    t = torch.linspace(0, 1, 5)
    assert torch.allclose(slerp(a, 3 * a, t), lerp(a, 3 * a, t))
    assert torch.isfinite(slerp(a, a, t)).all()


def test_interpolate_picks_the_path_and_needs_two_steps():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert torch.allclose(interpolate(a, b, 3, spherical=True)[0, 1], torch.tensor([0.5**0.5, 0.5**0.5]))
    assert torch.allclose(interpolate(a, b, 3, spherical=False)[0, 1], torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="at least 2 steps"):
        interpolate(a, b, 1, spherical=True)


@pytest.mark.parametrize("psi, std", [(0.5, 1.0), (1.5, 0.1)])
def test_truncation_keeps_entries_within_psi_std_and_shrinks_variance(psi, std):
    z = truncated_normal(20000, 64, psi, std, torch.Generator().manual_seed(0))
    assert z.shape == (20000, 64) and z.dtype == torch.float32
    assert z.abs().max() <= psi * std
    # Variance of a standard normal truncated to [-psi, psi]: 1 - 2 psi phi(psi) / (2 Phi(psi) - 1).
    p = torch.tensor(psi, dtype=torch.float64)
    phi, mass = torch.exp(-p**2 / 2) / (2 * torch.pi) ** 0.5, torch.special.ndtr(p) * 2 - 1
    expected = (1 - 2 * p * phi / mass).item() * std**2
    assert abs(z.var().item() / expected - 1) < 0.01 and expected < std**2
    assert abs(z.mean().item()) < 0.01 * std


def test_truncation_is_seeded_and_refuses_a_bad_psi():
    draw = lambda: truncated_normal(4, 8, 1.0, generator=torch.Generator().manual_seed(5))  # noqa: E731
    assert torch.equal(draw(), draw())
    with pytest.raises(ValueError, match="must be > 0"):
        truncated_normal(4, 8, 0.0)


def test_truncation_of_a_uniform_latent_is_refused_clearly():
    with pytest.raises(ValueError, match="needs a normal latent.*uniform"):
        draw_latents(toy_gan(latent=Latent(distribution="uniform")), 4, torch.Generator(), psi=0.5)
    model = toy_gan(latent=Latent(std=0.1))
    assert draw_latents(model, 1000, torch.Generator(), psi=0.5).abs().max() <= 0.05
