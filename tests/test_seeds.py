"""benchmarks/seeds.py on tiny settings: every seed is trained and scored, the table and JSON hold
the data's metrics (the evaluation protocol for images, the Gaussian's errors for 2-D data)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import seeds
from gan_lightning.checkpoint import load_gan
from gan_lightning.cli import cli_main

ROOT = Path(__file__).parents[1]


@pytest.mark.filterwarnings("ignore:FID from")  # 300 samples of 128 features is enough for a smoke test
def test_seeds_on_digits_reports_the_protocol_per_seed(tmp_path, capsys):
    out = tmp_path / "seeds.json"
    rows = seeds.main([str(ROOT / "configs" / "digits_dcgan.yaml"), "--seeds", "2", "--trainer.max_steps", "2",
                       "--track_every", "1", "--num_samples", "300", "--cache_dir", str(tmp_path / "cache"), "--out", str(out)])
    assert [r["seed"] for r in rows] == [0, 1]
    assert rows[0]["val/fid_digits_val300_gen300"] != rows[1]["val/fid_digits_val300_gen300"]  # seeds differ
    for row in rows:  # the rarest of 10 classes has at most a tenth; 300 untrained samples miss several
        assert 0 <= row["min_class_percent"] <= 10 and row["classes_under_5pct"] in range(1, 11)
        # FID tracked after batch 1 and at the end (batch 2): the end's is the final FID scored after fit
        fid = row["val/fid_digits_val300_gen300"]
        assert row["best_fid_batch"] in (1, 2) and row["best_fid_seen"] <= fid
        assert row["final_over_best_fid"] == pytest.approx(fid / row["best_fid_seen"], rel=1e-5)
        assert [b for b, _ in row["fid_curve"]] == [1, 2] and row["fid_curve"][-1][1] == pytest.approx(fid, rel=1e-5)
    table = capsys.readouterr().out
    for name in ("val/fid_digits_val300_gen300", "val/recall_digits_val300_gen300",
                 "val/memorisation_digits_train3500_gen300", "cpu_s", "wall_s"):
        assert f"| {name} | " in table and " ± " in table.split(f"| {name} | ")[1].splitlines()[0]
    saved = json.loads(out.read_text())
    assert saved["overrides"] == ["--trainer.max_steps", "2"] and saved["runs"] == rows


def test_seeds_on_the_gaussian_reports_mean_and_covariance_errors(tmp_path):
    rows = seeds.main([str(ROOT / "configs" / "gaussian2d.yaml"), "--seeds", "2", "--trainer.max_steps", "5",
                       "--out", str(tmp_path / "g.json")])
    assert set(rows[0]) == {"seed", "mean_error", "cov_error", "cpu_s", "wall_s", "eval_wall_s"}
    assert all(r["mean_error"] > 0 and r["cov_error"] > 0 for r in rows)


@pytest.mark.filterwarnings("ignore:FID from")
def test_seeds_grids_draw_the_fixed_grid_of_a_conditional_gan_a_class_a_row(tmp_path):
    from PIL import Image

    rows = seeds.main([str(ROOT / "configs" / "digits_cdcgan.yaml"), "--seeds", "1", "--trainer.max_steps", "1",
                "--num_samples", "200", "--cache_dir", str(tmp_path / "cache"), "--out", str(tmp_path / "c.json"),
                "--grids", str(tmp_path / "grids")])  # fmt: skip
    image = Image.open(tmp_path / "grids" / "seed0.png")
    # 64 fixed samples -> 6 latents per class: 10 rows (one per class) of 6 images of 32 px, 2 px padding
    assert image.size == (6 * 34 + 2, 10 * 34 + 2)
    # per-class accuracy of 20 samples a class: an untrained G is near chance for its worst class
    assert 0 <= rows[0]["class_accuracy_min"] <= rows[0]["class_accuracy_mean"] <= 1
    assert rows[0]["class_accuracy_min"] < 0.5


def test_seeds_trains_the_weights_that_fit_trains(tmp_path, monkeypatch):
    """The README's results are seeds.py runs that stand for `gan-lightning fit` runs: the same
    config, seed and thread count must end at the same weights (G, D and the EMA G) although
    seeds.py drops the loggers, the checkpoints and the config's callbacks (SampleGrid here).
    Both sides run one thread on this machine in this test, so equal means equal to float error."""
    config, steps, seed = str(ROOT / "configs" / "digits_dcgan.yaml"), "6", "1"
    subprocess.run([sys.executable, "-m", "gan_lightning.cli", "fit", "--config", config, "--trainer.max_steps", steps,
                    "--seed_everything", seed, "--trainer.logger.init_args.save_dir", str(tmp_path / "fit"),
                    "--trainer.enable_progress_bar", "false"],
                   env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True, capture_output=True)  # fmt: skip
    fitted = load_gan(tmp_path / "fit" / "version_0" / "checkpoints" / "last.ckpt").state_dict()
    trained = {}
    monkeypatch.setattr(seeds, "score", lambda model, *_: trained.update(model.state_dict()) or {})
    threads = torch.get_num_threads()
    try:
        seeds.main([config, "--seeds", "1", "--first_seed", seed, "--threads", "1", "--trainer.max_steps", steps,
                    "--out", str(tmp_path / "s.json")])  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert trained.keys() == fitted.keys() and {k.split(".")[0] for k in fitted} >= {"netG", "netD", "netG_ema"}
    initial = cli_main(["--config", config, "--seed_everything", seed, "--trainer.logger", "false"], run=False).model.state_dict()
    for key, value in fitted.items():
        torch.testing.assert_close(trained[key], value, rtol=0, atol=1e-6, msg=f"{key} differs")
    moved = max(float((fitted[k].float() - initial[k].float()).abs().max()) for k in fitted if fitted[k].is_floating_point())
    assert moved > 1e-3  # 6 batches of Adam 2e-4 moved the weights: the comparison is not of two untrained nets
