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
    rows = seeds.main([str(ROOT / "configs" / "digits_dcgan.yaml"), "--seeds", "2", "--trainer.max_steps", "4",
                       "--num_samples", "300", "--cache_dir", str(tmp_path / "cache"), "--out", str(out)])
    assert [r["seed"] for r in rows] == [0, 1]
    assert rows[0]["val/fid_digits_test300_gen300"] != rows[1]["val/fid_digits_test300_gen300"]  # seeds differ
    table = capsys.readouterr().out
    for name in ("val/fid_digits_test300_gen300", "val/recall_digits_test300_gen300",
                 "val/memorisation_digits_train4k_gen300", "cpu_s", "wall_s"):
        assert f"| {name} | " in table and " ± " in table.split(f"| {name} | ")[1].splitlines()[0]
    saved = json.loads(out.read_text())
    assert saved["overrides"] == ["--trainer.max_steps", "4"] and saved["runs"] == rows


def test_seeds_on_the_gaussian_reports_mean_and_covariance_errors(tmp_path):
    rows = seeds.main([str(ROOT / "configs" / "gaussian2d.yaml"), "--seeds", "2", "--trainer.max_steps", "10",
                       "--out", str(tmp_path / "g.json")])
    assert set(rows[0]) == {"seed", "mean_error", "cov_error", "cpu_s", "wall_s", "eval_wall_s"}
    assert all(r["mean_error"] > 0 and r["cov_error"] > 0 for r in rows)
