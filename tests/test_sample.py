"""`gan-lightning sample --interpolate / --truncation` end to end on tiny digit checkpoints."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lightning.cli import cli_main, main

DIGITS = str(Path(__file__).parents[1] / "configs" / "digits_dcgan.yaml")


def tiny_checkpoint(tmp: Path, latent_distribution: str) -> Path:
    """Two batches of a 16 px DCGAN with 4 channels on the shipped digits: its weights hardly
    matter, only that `fit` wrote them with its config."""
    cli_main([
        "fit", "--config", DIGITS, "--trainer.default_root_dir", str(tmp), "--trainer.logger", "false",
        "--trainer.callbacks", "lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.dirpath", str(tmp / "checkpoints"), "--trainer.callbacks.save_last", "true",
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.enable_progress_bar", "false",
        "--model.netG.init_args.image_size", "16", "--model.netG.init_args.ngf", "4",
        "--model.netD.init_args.image_size", "16", "--model.netD.init_args.ndf", "4",
        "--data.init_args.image_size", "16", "--model.latent.distribution", latent_distribution,
    ])  # fmt: skip
    return tmp / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def normal_ckpt(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("normal"), "normal")


@pytest.mark.slow
def test_interpolate_writes_a_grid_of_rows_by_steps(normal_ckpt, tmp_path):
    out = tmp_path / "walk.png"
    main(["sample", "--ckpt_path", str(normal_ckpt), "--output", str(out), "--interpolate", "8", "--rows", "3"])
    # make_grid: 2 px padding around and between 16 px images
    assert Image.open(out).size == (8 * 18 + 2, 3 * 18 + 2)


@pytest.mark.slow
def test_interpolate_to_npy_keeps_rows_and_steps_and_its_ends_are_plain_samples(normal_ckpt, tmp_path):
    main(["sample", "--ckpt_path", str(normal_ckpt), "--output", str(tmp_path / "w.npy"), "--interpolate", "5",
          "--rows", "2", "--seed", "3"])  # fmt: skip
    walks = np.load(tmp_path / "w.npy")
    assert walks.shape == (2, 5, 1, 16, 16)
    # The walks start at the first 2 of 4 latents drawn with the seed and end at the last 2.
    main(["sample", "--ckpt_path", str(normal_ckpt), "--output", str(tmp_path / "s.npy"), "--num_samples", "4",
          "--seed", "3"])  # fmt: skip
    plain = np.load(tmp_path / "s.npy")
    assert np.allclose(walks[:, 0], plain[:2], atol=1e-5) and np.allclose(walks[:, -1], plain[2:], atol=1e-5)
    assert not np.allclose(walks[:, 2], walks[:, 0], atol=1e-3)


@pytest.mark.slow
def test_truncation_changes_the_samples_and_is_reproducible(normal_ckpt, tmp_path):
    paths = [tmp_path / f"{name}.pt" for name in ("a", "b", "plain")]
    for path, extra in zip(paths, (["--truncation", "0.5"], ["--truncation", "0.5"], [])):
        main(["sample", "--ckpt_path", str(normal_ckpt), "--output", str(path), "--num_samples", "16", *extra])
    a, b, plain = (torch.load(p) for p in paths)
    assert torch.equal(a, b) and not torch.allclose(a, plain)
    # Latents within half a standard deviation give samples that vary less than untruncated ones.
    assert a.std(dim=0).mean() < plain.std(dim=0).mean()


@pytest.mark.slow
def test_truncation_of_a_uniform_latent_model_is_a_clear_error(tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path, "uniform")
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt_path", str(ckpt), "--output", str(tmp_path / "x.png"), "--truncation", "0.7"])
    err = capsys.readouterr().err
    assert "--truncation needs a normal latent" in err and "uniform" in err
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt_path", str(ckpt), "--output", str(tmp_path / "x.png"), "--interpolate", "1"])
    assert "--interpolate needs >= 2 steps" in capsys.readouterr().err
