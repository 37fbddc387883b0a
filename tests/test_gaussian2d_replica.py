"""benchmarks/gaussian2d_replica.py on tiny settings: every seed is trained and scored like seeds.py."""

import json

import torch

from benchmarks import gaussian2d_replica


def test_replica_trains_and_scores_each_seed(tmp_path, capsys):
    out = tmp_path / "replica.json"
    threads = torch.get_num_threads()  # main() sets --threads (1) for the whole process
    rows = gaussian2d_replica.main(["--seeds", "2", "--epochs", "1", "--num_samples", "80", "--decay", "0.5",
                                    "--r1", "1", "--ema", "0.9", "--spectral_norm", "--out", str(out)])
    torch.set_num_threads(threads)
    assert [r["seed"] for r in rows] == [0, 1]
    assert rows[0]["mean_error"] != rows[1]["mean_error"]
    for row in rows:
        assert row["mean_error"] >= 0 and row["cov_error"] >= 0 and row["ok"] == (row["mean_error"] < 0.1 and row["cov_error"] < 0.1)
    assert "seeds meet both bounds" in capsys.readouterr().out
    assert json.loads(out.read_text()) == rows
