"""PacGAN's mode metrics on hand-made samples, the ring/grid datamodules, and the diversity ratio."""

import math

import pytest
import torch

from gan_lightning.data import GridDataModule, RingDataModule
from gan_lightning.metrics.modes import diversity_ratio, kl_to_uniform, mode_stats


def ring() -> RingDataModule:
    dm = RingDataModule(num_samples=2500, seed=0)
    dm.setup("fit")
    return dm


def test_mixtures_have_pacgan_modes_and_spread():
    r = ring()
    assert r.modes.shape == (8, 2)
    assert torch.allclose(r.modes.norm(dim=1), torch.ones(8))
    assert r.sample_shape == (2,)
    # every point sits near one mode, with the mode's std
    distance, _ = torch.cdist(r.data, r.modes).min(dim=1)
    assert distance.mean().item() == pytest.approx(0.01 * math.sqrt(math.pi / 2), rel=0.1)
    g = GridDataModule(num_samples=1000)
    assert g.modes.shape == (25, 2) and g.std == 0.05
    assert set(g.modes[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    # a new seed draws new points
    assert not torch.equal(ring().data, RingDataModule(num_samples=2500, seed=1).make_data())


def test_all_modes_evenly_gives_full_coverage_and_zero_kl():
    r = ring()
    stats = mode_stats(r.data, r.modes, r.std)
    assert stats.modes_covered == 8
    assert stats.hq_fraction > 0.98  # 3 std in 2-D holds 98.9% of a Gaussian
    assert stats.reverse_kl < 0.01
    exact = r.modes.repeat(10, 1)
    assert mode_stats(exact, r.modes, r.std) == (8, 1.0, pytest.approx(0.0, abs=1e-12))


def test_one_mode_gives_one_and_reverse_kl_log_k():
    r = ring()
    stats = mode_stats(r.modes[3] + 0.005 * torch.randn(2500, 2), r.modes, r.std)
    assert stats.modes_covered == 1
    assert stats.hq_fraction == 1.0
    assert stats.reverse_kl == pytest.approx(math.log(8))


def test_points_off_every_mode_are_not_high_quality():
    r = ring()
    between = torch.zeros(100, 2)  # the centre of the ring, 1 away from every mode
    stats = mode_stats(between, r.modes, r.std)
    assert stats.hq_fraction == 0.0 and stats.modes_covered == 0
    assert stats.reverse_kl == pytest.approx(math.log(8))  # nothing spread: as bad as one mode
    # just inside / just outside 3 std of a mode
    edge = r.modes[:1] + torch.tensor([[0.029, 0.0], [0.031, 0.0]])
    assert mode_stats(edge, r.modes, r.std).hq_fraction == 0.5


def test_kl_and_shape_errors():
    assert kl_to_uniform(torch.tensor([1, 1, 0, 0])) == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="same D"):
        mode_stats(torch.zeros(5, 3), torch.zeros(8, 2), 0.1)


def test_diversity_ratio_drops_with_collapse():
    real = torch.randn(500, 2)
    assert diversity_ratio(torch.randn(500, 2), real) == pytest.approx(1.0, abs=0.1)
    assert diversity_ratio(0.01 * torch.randn(500, 2), real) < 0.05
