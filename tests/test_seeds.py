"""benchmarks/seeds.py on tiny settings: every seed is trained and scored, the table and JSON hold
the data's metrics (the evaluation protocol for images, the Gaussian's errors for 2-D data)."""

import json
from pathlib import Path

import pytest

from benchmarks import seeds

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
