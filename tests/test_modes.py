"""PacGAN's mode metrics on hand-made samples, the ring/grid datamodules (standardised or not), and the
diversity ratio."""

import math
from pathlib import Path

import pytest
import torch
from lightning.pytorch.cli import LightningCLI

from gan_lightning.callbacks.modes import ModeCoverage
from gan_lightning.checkpoint import load_gan
from gan_lightning.cli import cli_main, main
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


def test_standardize_serves_mean_0_std_1_and_its_transform_gives_back_the_points():
    raw = GridDataModule(num_samples=4000, seed=3)
    served = GridDataModule(num_samples=4000, seed=3, standardize=True)
    raw.setup("fit"), served.setup("fit")
    assert raw.data_transform is None
    assert torch.allclose(served.data.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(served.data.std(0), torch.ones(2), atol=1e-5)
    mean, std = served.data_transform
    assert torch.allclose(served.data * std + mean, raw.data, atol=1e-5)
    assert std.tolist() == pytest.approx([math.sqrt(8 + 0.05**2)] * 2, rel=0.03)  # the grid's spread a coordinate
    assert torch.equal(served.modes, raw.modes) and served.std == raw.std  # the metrics stay in data space


GRID = str(Path(__file__).parents[1] / "configs" / "grid25.yaml")


def fit_grid(tmp: Path, *overrides: str) -> LightningCLI:
    """A few batches of grid25.yaml (G 16 wide) with a last.ckpt and ModeCoverage at the end."""
    return cli_main([
        "fit", "--config", GRID, "--trainer.default_root_dir", str(tmp), "--trainer.logger", "false",
        "--trainer.callbacks", "lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.dirpath", str(tmp / "checkpoints"), "--trainer.callbacks.save_last", "true",
        "--trainer.callbacks+", "gan_lightning.callbacks.modes.ModeCoverage",
        "--trainer.callbacks.num_samples", "300", "--trainer.callbacks.plot", "false",
        "--trainer.max_steps", "3", "--trainer.enable_progress_bar", "false", "--data.init_args.num_samples", "1000",
        "--model.netG.init_args.hidden", "[16]", "--model.netD.init_args.hidden", "[16]", *overrides,
    ])  # fmt: skip


def test_a_standardised_run_samples_in_data_space_also_from_its_checkpoint(tmp_path):
    cli = fit_grid(tmp_path)  # grid25.yaml serves PacGAN's grid standardised
    mean, std = cli.datamodule.data_transform
    assert torch.equal(cli.model.data_mean, mean) and torch.equal(cli.model.data_std, std)
    gan = load_gan(tmp_path / "checkpoints" / "last.ckpt")
    assert torch.equal(gan.data_mean, mean) and torch.equal(gan.data_std, std)
    z = gan.draw_latent(50, torch.Generator().manual_seed(0))
    served = gan.sampling_generator(z)  # what D sees: G's output, in the standardised space
    expected = served * std + mean
    assert torch.allclose(gan.generate(z), expected) and torch.allclose(gan(z), expected)
    out = tmp_path / "x.pt"
    main(["sample", "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt"), "--output", str(out),
          "--num_samples", "50", "--seed", "0"])  # fmt: skip
    assert torch.allclose(torch.load(out), expected)
    # ModeCoverage's real reference is in data space too: the diversity ratio compares like with like
    (modes,) = [c for c in cli.trainer.callbacks if isinstance(c, ModeCoverage)]
    assert modes._real.std(0).tolist() == pytest.approx(std.tolist(), rel=0.1)


def test_served_as_it_is_nothing_is_mapped_and_the_checkpoint_has_no_transform(tmp_path):
    cli = fit_grid(tmp_path, "--data.init_args.standardize", "false")
    assert cli.model.data_mean is None
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert "data_transform" not in ckpt
    gan = load_gan(tmp_path / "checkpoints" / "last.ckpt")
    z = gan.draw_latent(20, torch.Generator().manual_seed(0))
    assert gan.data_mean is None and torch.equal(gan.generate(z), gan.sampling_generator(z))
