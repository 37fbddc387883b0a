"""A conditional DCGAN end to end: configs/digits_cdcgan.yaml trained briefly by the CLI, then
`sample --class K`, the class grid, the checkpoint's fixed labels and the class-accuracy metric."""

from pathlib import Path

import numpy as np
import pytest
import torch

from gan_lightning.checkpoint import load_gan
from gan_lightning.cli import cli_main, main
from gan_lightning.metrics import class_accuracy as class_accuracy_cli
from gan_lightning.metrics.classifier import load_digit_classifier
from tests.conftest import learning_seed

CDCGAN = str(Path(__file__).parents[1] / "configs" / "digits_cdcgan.yaml")
BATCHES = 300  # seed 0: about 40 s on 2 busy CPU cores


@pytest.fixture(scope="module")
def cdcgan_ckpt(tmp_path_factory) -> Path:
    """The digits_cdcgan config as it ships (only model.num_classes set; the CLI gives it to both
    networks), cut to BATCHES batches, CSV logger and checkpoints in a temporary folder."""
    tmp = tmp_path_factory.mktemp("cdcgan")
    cli_main([
        "fit", "--config", CDCGAN, "--trainer.default_root_dir", str(tmp), "--trainer.logger.init_args.save_dir", str(tmp),
        "--trainer.max_steps", str(BATCHES), "--trainer.enable_progress_bar", "false", "--model.optimizer_G.init_args.lr", "0.001",
        "--seed_everything", str(learning_seed(0)),
    ])  # fmt: skip
    return tmp / "version_0" / "checkpoints" / "last.ckpt"


@pytest.mark.slow
@pytest.mark.learning
def test_class_k_samples_are_classified_as_k_more_often_than_chance(cdcgan_ckpt, tmp_path, record_learning):
    classifier = load_digit_classifier()
    hits = []
    for k in range(10):
        main(["sample", "--ckpt_path", str(cdcgan_ckpt), "--output", str(tmp_path / f"{k}.pt"), "--class", str(k), "--num_samples", "50"])
        hits.append((classifier.predict_proba(torch.load(tmp_path / f"{k}.pt")).argmax(1) == k).float().mean().item())
    record_learning(seed=learning_seed(0), class_accuracy=hits)
    assert sum(hits) / 10 > 0.5, hits  # chance: 0.1; measured 0.79


@pytest.mark.slow
@pytest.mark.learning
def test_the_default_sample_is_a_grid_of_one_row_per_class(cdcgan_ckpt, tmp_path, capsys):
    main(["sample", "--ckpt_path", str(cdcgan_ckpt), "--output", str(tmp_path / "grid.pt"), "--num_samples", "30"])
    assert "30 samples (3 per class, one row per class)" in capsys.readouterr().out
    grid = torch.load(tmp_path / "grid.pt")
    main(["sample", "--ckpt_path", str(cdcgan_ckpt), "--output", str(tmp_path / "w.npy"), "--interpolate", "4", "--truncation", "0.8"])
    assert grid.shape == (30, 1, 32, 32) and np.load(tmp_path / "w.npy").shape == (10, 4, 1, 32, 32)  # a walk per class
    predicted = load_digit_classifier().predict_proba(grid).argmax(1).view(10, 3)
    assert (predicted == torch.arange(10)[:, None]).float().mean() > 0.3  # row K is class K


@pytest.mark.slow
def test_checkpoint_keeps_the_fixed_labels_and_class_accuracy_reads_it(cdcgan_ckpt, capsys):
    gan = load_gan(cdcgan_ckpt)
    assert gan.num_classes == 10 and gan.netG.num_classes == gan.netD.num_classes == 10
    assert gan.fixed_labels.tolist() == [k for k in range(10) for _ in range(6)]  # 64 // 10 a row
    saved = torch.load(cdcgan_ckpt, weights_only=True)["state_dict"]
    assert torch.equal(saved["fixed_labels"], gan.fixed_labels) and torch.equal(saved["fixed_noise"], gan.fixed_noise)
    accuracy = class_accuracy_cli.main(["--ckpt_path", str(cdcgan_ckpt), "--samples_per_class", "50"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 11 and lines[3] == f"class 3: {accuracy[3]:.1%}" and lines[-1].startswith("min ")


@pytest.mark.slow
def test_class_on_an_unconditional_model_is_a_clear_error(tmp_path, capsys):
    from tests.test_sample import tiny_checkpoint

    ckpt = tiny_checkpoint(tmp_path, "normal")
    with pytest.raises(SystemExit):
        main(["sample", "--ckpt_path", str(ckpt), "--output", str(tmp_path / "x.png"), "--class", "3"])
    assert "--class 3 needs a conditional model" in capsys.readouterr().err
