"""`gan-lightning evaluate` on checkpoints written by `gan-lightning fit`."""

import json
import math
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
from PIL import Image

from gan_lightning.cli import cli_main, main

CONFIGS = Path(__file__).parents[1] / "configs"


def tiny_fit(tmp_path: Path, config: str, *extra: str) -> Path:
    cli_main([
        "fit", "--config", str(CONFIGS / config),
        "--trainer.default_root_dir", str(tmp_path), "--trainer.logger.init_args.save_dir", str(tmp_path),
        "--trainer.enable_progress_bar", "false", "--trainer.max_steps", "2", *extra,
    ])
    ckpt = tmp_path / "version_0" / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    return ckpt


@pytest.fixture(scope="module")
def digits_ckpt(tmp_path_factory) -> Path:
    """The default experiment (32 px DCGAN on the shipped digits) for 2 steps, with the metrics callback."""
    tmp = tmp_path_factory.mktemp("digits")
    return tiny_fit(
        tmp, "digits_dcgan.yaml",
        "--trainer.callbacks+=gan_lightning.callbacks.metrics.MetricsCallback",
        "--trainer.callbacks.num_samples", "300", "--trainer.callbacks.cache_dir", str(tmp / "cache"),
        "--trainer.callbacks.kid_subsets", "5",
    )


def test_evaluate_prints_the_protocol_against_the_test_split_and_writes_it_beside_the_checkpoint(digits_ckpt, tmp_path):
    # the protocol (digits extractor, 300 samples) comes from the MetricsCallback state in the checkpoint;
    # a fresh process, as a user runs it: nothing of the project is imported before the checkpoint is read
    png = tmp_path / "nn.png"
    out = subprocess.run(
        [sys.executable, "-m", "gan_lightning.cli", "evaluate", "--ckpt_path", str(digits_ckpt), "--cache_dir", str(tmp_path),
         "--nn_png", str(png)],
        capture_output=True, text=True, check=True,
    ).stdout
    line = out.strip().splitlines()[-1]
    result = json.loads(line)
    assert result["data"] == "ShippedDigitsDataModule" and result["reference_split"] == "val"
    assert result["protocol"]["extractor"] == "digits" and result["protocol"]["num_samples"] == 300
    names = [f"val/{m}_digits_val300_gen300" for m in ("fid", "kid", "precision", "recall", "density", "coverage")]
    for name in [*names, "val/memorisation_digits_train3500_gen300"]:
        assert math.isfinite(result[name]), name
    assert result["val/fid_digits_val300_gen300"] > 0 and result["val/memorisation_digits_train3500_gen300"] > 0
    assert json.loads(digits_ckpt.with_suffix(".metrics.json").read_text()) == result
    assert Image.open(png).size == (2 * (4 * 34 + 2),) * 2  # 8 pairs, 4 images a row, 32 px + 2 padding, x2


def test_evaluate_leaves_out_metrics_the_data_cannot_support(tmp_path, capsys):
    ckpt = tiny_fit(tmp_path, "gaussian2d.yaml")
    main(["evaluate", "--ckpt_path", str(ckpt), "--metrics", "fid"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not any(k.startswith("val/") for k in result)
    assert "FID/KID/PRDC/memorisation left out" in result["notes"][0]


def test_evaluate_rejects_bad_arguments(digits_ckpt, tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit):
        main(["evaluate", "--ckpt_path", str(digits_ckpt), "--metrics", "fid,is"])
    assert "subset of fid,kid,prdc,memorisation" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--ckpt_path", str(tmp_path / "missing.ckpt")])
    assert "No checkpoint at" in capsys.readouterr().err
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", offline)
    with pytest.raises(SystemExit):
        main(["evaluate", "--ckpt_path", str(digits_ckpt), "--extractor", "inception"])
    assert "extractor='digits'" in capsys.readouterr().err
