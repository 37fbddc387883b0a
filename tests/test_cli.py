"""The command line end to end: fit, sample, --print_config, and its errors."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from gan_lightning.cli import cli_main, main
from tests.conftest import learning_seed

GAUSSIAN2D = str(Path(__file__).parents[1] / "configs" / "gaussian2d.yaml")


def fit_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "fit",
        "--config",
        GAUSSIAN2D,
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.logger.init_args.save_dir",
        str(tmp_path),
        "--trainer.enable_progress_bar",
        "false",
        *extra,
    ]


@pytest.fixture(scope="module")
def gaussian_ckpt(tmp_path_factory) -> Path:
    """Two epochs of the gaussian2d experiment, trained once for the sampling tests below."""
    tmp = tmp_path_factory.mktemp("gaussian2d")
    cli_main(fit_args(tmp, "--trainer.max_epochs", "2"))
    ckpt = tmp / "version_0" / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    return ckpt


@pytest.mark.slow
@pytest.mark.learning
def test_gaussian2d_recovers_mean_and_covariance_on_two_of_three_seeds(tmp_path, record_learning):
    """configs/gaussian2d.yaml as shipped, trained on 3 seeds (benchmarks/seeds.py: mean and
    covariance of 5,000 samples): at least 2 meet both bounds (|mean - b| < 0.1, covariance
    within 10% of AᵀA).

    One run's end point is chaotic in the last bits of its floats and follows the batch order, so
    the bound holds as a rate, not per seed. Measured with `python benchmarks/seeds.py
    configs/gaussian2d.yaml --seeds 10 --threads 1`: 9 of 10 meet both bounds (mean error
    0.056 ± 0.009, covariance error 4.9 ± 0.9%; seed 0 ends at a mean error of 0.101). This
    test's seeds 0, 1, 2 (mean error, covariance error): native (AVX-512, one thread) 0.101 / 6.0%,
    0.033 / 9.8%, 0.061 / 4.0%; `avx2` 0.136 / 8.6%, 0.033 / 8.9%, 0.061 / 4.0%; `baseline`
    0.006 / 14.6%, 0.019 / 3.1%, 0.061 / 4.0%: seed 0 misses on every path, 2 of 3 hold on each.
    The recipe, not this threshold, is what to improve (docs/results.md)."""
    from benchmarks import seeds

    import torch

    first = learning_seed(0)
    threads = torch.get_num_threads()  # seeds.main sets its --threads for the whole process
    rows = seeds.main([GAUSSIAN2D, "--seeds", "3", "--first_seed", str(first), "--threads", str(threads),
                       "--out", str(tmp_path / "seeds.json")])  # fmt: skip
    torch.set_num_threads(threads)
    for row in rows:
        record_learning(seed=row["seed"], mean_error=row["mean_error"], cov_error=row["cov_error"])
    met = [row["mean_error"] < 0.1 and row["cov_error"] < 0.1 for row in rows]
    assert sum(met) >= 2, [(round(r["mean_error"], 3), round(r["cov_error"], 3)) for r in rows]


@pytest.mark.slow
def test_sample_is_reproducible_and_writes_each_format(gaussian_ckpt, tmp_path):
    paths = [tmp_path / name for name in ("a.npy", "b.npy", "c.npy")]
    for path, seed in zip(paths, (7, 7, 8)):
        main(["sample", "--ckpt_path", str(gaussian_ckpt), "--num_samples", "10", "--output", str(path),
              "--seed", str(seed), "--batch_size", "3"])
    a, same, other = (np.load(p) for p in paths)
    assert a.shape == (10, 2)
    assert np.array_equal(a, same)
    assert not np.allclose(a, other)
    import torch
    from PIL import Image

    main(["sample", "--ckpt_path", str(gaussian_ckpt), "--num_samples", "10", "--output", str(tmp_path / "s.pt"), "--seed", "7"])
    assert np.allclose(torch.load(tmp_path / "s.pt").numpy(), a, atol=1e-6)
    main(["sample", "--ckpt_path", str(gaussian_ckpt), "--num_samples", "200", "--output", str(tmp_path / "s.png")])
    assert Image.open(tmp_path / "s.png").size[0] > 100


@pytest.mark.slow
def test_sample_rejects_missing_and_corrupt_checkpoints(gaussian_ckpt, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt_path", str(tmp_path / "nope.ckpt"), "--output", str(tmp_path / "x.npy")])
    assert "No checkpoint at" in capsys.readouterr().err
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(gaussian_ckpt.read_bytes()[:1000])
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt_path", str(truncated), "--output", str(tmp_path / "x.npy")])
    assert "not a readable checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_print_config_of_a_stacked_run_round_trips(tmp_path):
    configs = Path(GAUSSIAN2D).parent
    stacked = ["fit", "--config", str(configs / "mnist_mlp.yaml"), "--config", str(configs / "data" / "digits28.yaml"),
               "--model.optimizer_D.init_args.lr", "0.05"]  # fmt: skip
    printed = subprocess.run(
        [sys.executable, "-m", "gan_lightning.cli", *stacked, "--print_config"], capture_output=True, text=True, check=True,
    ).stdout
    (tmp_path / "printed.yaml").write_text(printed)
    again = subprocess.run(
        [sys.executable, "-m", "gan_lightning.cli", "fit", "--config", str(tmp_path / "printed.yaml"), "--print_config"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert yaml.safe_load(again) == yaml.safe_load(printed)
    config = yaml.safe_load(printed)
    assert config["model"]["init_args"]["optimizer_D"]["init_args"]["lr"] == 0.05  # the command line, last
    assert config["model"]["init_args"]["latent"]["std"] == 0.1  # the experiment
    assert config["data"]["class_path"] == "gan_lightning.data.ShippedDigitsDataModule"  # the data fragment
    assert config["data"]["init_args"]["image_size"] == 28
    assert config["trainer"]["callbacks"][0]["init_args"]["save_last"] is True  # base.yaml, extended not replaced
    assert config["trainer"]["callbacks"][1]["class_path"].endswith("SampleGrid")


def run_cli_expecting_error(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "gan_lightning.cli", *args], capture_output=True, text=True)
    assert result.returncode != 0
    return result.stderr


def test_unknown_config_key_fails_clearly(tmp_path):
    err = run_cli_expecting_error("fit", "--config", GAUSSIAN2D, "--model.n_critics", "2")
    assert "n_critics" in err


def test_unknown_loss_lists_valid_names(tmp_path):
    err = run_cli_expecting_error("fit", "--config", GAUSSIAN2D, "--model.loss", "bce", "--print_config")
    assert "bce" in err and "non_saturating" in err and "wasserstein" in err


@pytest.mark.parametrize("env, refresh", [(None, 20), ("1", 1)])
def test_fit_refreshes_the_progress_bar_every_20_batches_unless_told(tmp_path, monkeypatch, env, refresh):
    if env is None:
        monkeypatch.delenv("TQDM_MINITERS", raising=False)
    else:
        monkeypatch.setenv("TQDM_MINITERS", env)
    args = ["fit", "--config", GAUSSIAN2D, "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false"]
    cli = cli_main([*args, "--trainer.fast_dev_run", "1"])
    assert cli.trainer.progress_bar_callback.refresh_rate == refresh


def test_a_fork_picks_its_gan_subclass_and_loss_in_yaml_without_editing_the_package(tmp_path):
    from gan_lightning.checkpoint import load_gan
    from tests.helpers import ShiftedGLossGAN

    cli = cli_main(["fit", "--config", GAUSSIAN2D, "--model", "tests.helpers.ShiftedGLossGAN", "--model.loss", "ragan",
                    "--trainer.max_steps", "2", "--trainer.logger.init_args.save_dir", str(tmp_path),
                    "--trainer.enable_progress_bar", "false"])  # fmt: skip
    assert type(cli.model) is ShiftedGLossGAN and cli.model.objective.__class__.__name__ == "RelativisticAverageLoss"
    assert cli.trainer.callback_metrics["loss_G"] > 99  # the subclass's loss ran
    reloaded = load_gan(tmp_path / "version_0" / "checkpoints" / "last.ckpt")
    assert type(reloaded) is ShiftedGLossGAN


@pytest.mark.parametrize("fails", [False, True])
def test_the_command_destroys_the_process_group_it_trained_in(tmp_path, monkeypatch, fails):
    """Lightning leaves a gloo group to interpreter shutdown, where it can abort the process;
    ``main`` destroys it when the command ends, and when it fails."""
    import torch.distributed as dist

    def distributed_run(args):
        dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
        assert dist.is_initialized()
        if fails:
            raise RuntimeError("training failed")

    monkeypatch.setattr("gan_lightning.cli.cli_main", distributed_run)
    if fails:
        with pytest.raises(RuntimeError, match="training failed"):
            main(["fit"])
    else:
        main(["fit"])
    assert not dist.is_initialized()
