"""Every benchmark script the docs cite runs as documented, on tiny settings, and prints its table.

(seeds.py, gaussian2d_replica.py and gpu_check.py have their own test files.)
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def run_script(name: str, *args: str, timeout: int = 1800) -> str:
    """stdout of ``python benchmarks/NAME ARGS`` run from the repository root; fails on any error."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_step_overhead_builds_every_case_with_the_data_shape_and_prints_a_ratio_per_case():
    """The MLP case once failed in its first forward: its networks are built in Python, where the
    data's shape now reaches them as it does under the CLI (``shape_check.fit_to_data_shape``)."""
    out = run_script("step_overhead.py", "--cases", "mlp28", "gaussian2d", "--steps", "3", "--warmup", "1", "--repeats", "1")
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split() and line.split()[0] in ("mlp28", "gaussian2d")}
    assert set(rows) == {"mlp28", "gaussian2d"}
    for cells in rows.values():
        raw, lightning, ratio = (float(c) for c in cells[2:5])
        assert raw > 0 and lightning > 0 and ratio == pytest.approx(lightning / raw, rel=0.1)  # of the unrounded times


@pytest.mark.slow
def test_modes2d_trains_each_variant_and_prints_its_row():
    out = run_script("modes2d.py", "--data", "ring", "--variants", "plain", "pack2", "--seeds", "1", "--max_batches", "10")
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| project | ring |")]
    assert [r[2].strip() for r in rows] == ["plain", "pack2"]
    for row in rows:
        assert 0 <= float(row[5]) <= 8  # modes covered of the ring's 8
        assert row[5].strip() != "-" and row[8].strip() != "-"  # the raw and the EMA G are scored
    assert [r[11].strip() for r in rows] == ["6.3 ± 0.5", "7.9 ± 0.1"]  # PacGAN's GAN and PacGAN2 beside them


@pytest.mark.slow
def test_modes2d_runs_pacgans_and_wgan_gps_settings_with_trajectories_and_reprints_saved_runs(tmp_path):
    """PacGAN's setting packs as PacGAN's code (batch 100 m), WGAN-GP's toy setting runs on its own and on
    PacGAN's data; --score_every records the raw G along the way; --out / --tables give the same table."""
    saved = tmp_path / "runs.jsonl"
    out = run_script("modes2d.py", "--setting", "pacgan", "--data", "grid", "--variants", "gan", "pacgan3", "--seeds", "1",
                     "--max_batches", "4", "--score_every", "2", "--out", str(saved))  # fmt: skip
    cells = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| pacgan |")]
    rows = {r[2].strip(): r for r in cells if len(r) == 15}  # the table; then the trajectories
    assert rows["gan"][4].strip() == "4 (0.001%)" and rows["pacgan3"][4].strip() == "4 (0.001%)"  # of 400,000
    assert rows["gan"][8].strip() == "-"  # PacGAN keeps no EMA G
    assert rows["pacgan3"][11:14] == [" 24.6 ± 0.4 ", " 94.2 ± 0.4 ", " 0.06 ± 0.02 "]
    trajectory = [r for r in cells if len(r) == 8]
    assert [r[4].strip() for r in trajectory] == ["2", "4", "2", "4"]
    runs = [json.loads(line) for line in saved.read_text().splitlines()]
    assert [(r["variant"], r["time"]["batches"]) for r in runs] == [("gan", 4), ("pacgan3", 4)]
    assert [p["batches"] for p in runs[1]["trajectory"]] == [2, 4]
    assert runs[1]["trajectory"][-1]["modes_covered"] == runs[1]["raw"]["modes_covered"]  # the same G, the same points
    reprinted = run_script("modes2d.py", "--tables", str(saved))
    assert [line for line in reprinted.splitlines() if line.startswith("| pacgan")] == [
        line for line in out.splitlines() if line.startswith("| pacgan")]

    out = run_script("modes2d.py", "--setting", "wgan_toy", "--variants", "own", "pacgan_data", "--seeds", "1", "--max_batches", "5")
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| wgan_toy")]
    assert [(r[1].strip(), r[2].strip(), r[4].strip()) for r in rows] == [
        ("ring", "own", "5 (0.001%)"), ("ring", "pacgan_data", "5 (0.001%)"),
        ("grid", "own", "5 (0.001%)"), ("grid", "pacgan_data", "5 (0.001%)")]  # fmt: skip
    assert all(0 <= float(r[5]) <= (8 if r[1].strip() == "ring" else 25) for r in rows)


@pytest.mark.slow
def test_metrics_cost_times_an_epoch_and_each_metric_set():
    out = run_script("metrics_cost.py", "--num_samples", "200", "--kid_subsets", "2")
    lines = [line for line in out.splitlines() if line.startswith("CPU, digits, 200 samples")]
    assert [line.split(":")[0].rsplit(", ", 1)[1] for line in lines] == ["fid", "fid+kid", "fid+kid+prdc+memorisation"]
    for line in lines:
        epoch, first, later = (float(x) for x in re.search(r"epoch ([\d.]+) s; first evaluation ([\d.]+) s.*each later one ([\d.]+) s", line).groups())
        assert epoch > 0 and first > 0 and later >= 0  # printed to 1 ms: a cached evaluation of 200 samples may show 0.000


def test_ema_warmup_switches_the_warmup_off_for_seeds_runs(tmp_path):
    """Two batches of the default with --no_warmup: the EMA update the module calls is the plain
    one (warmup=False), and the run is scored as seeds.py scores it."""
    import functools

    from benchmarks import ema_warmup
    from gan_lightning import ema, sampling

    import torch

    threads = torch.get_num_threads()
    try:
        rows = ema_warmup.main(["--no_warmup", str(ROOT / "configs" / "digits_dcgan.yaml"), "--seeds", "1",
                                "--trainer.max_steps", "2", "--num_samples", "200", "--out", str(tmp_path / "w.json"),
                                "--cache_dir", str(tmp_path)])  # fmt: skip
        assert isinstance(sampling.ema_update, functools.partial) and sampling.ema_update.keywords == {"warmup": False}
        assert rows[0]["val/fid_digits_val200_gen200"] > 0
    finally:
        sampling.ema_update = ema.ema_update
        torch.set_num_threads(threads)


def test_real_floor_prints_each_reference_and_its_floor_is_near_zero():
    out = run_script("real_floor.py")
    rows = {line.split("|")[1].strip(): line.split("|")[2:4] for line in out.splitlines() if line.startswith("| ") and "---" not in line}
    val_fid, test_fid = (float(cell) for cell in rows["fid"])
    assert 0 <= test_fid < 1 and 0 <= val_fid < 1  # real vs real: near the floor (a generator's FID is > 1 until late)
    assert 0.8 < float(rows["precision"][1]) <= 1 and 0.9 < float(rows["memorisation_of_held_out"][1]) < 1.1


@pytest.mark.slow
def test_metrics_fragment_cost_times_a_pair_of_fits_and_the_evaluations_inside():
    out = run_script("metrics_fragment_cost.py", "--repeats", "1", "--max_steps", "3", "--num_samples", "100")
    rows = re.findall(r"pair 0 (without|with)\s*: (\d+) batches, wall ([\d.]+) s, CPU [\d.]+ s, (\d+) evaluations ([\d.]+) s", out)
    assert [(kind, int(batches), int(evals)) for kind, batches, _, evals, _ in rows] == [("without", 3, 0), ("with", 3, 1)]
    with_run = json.loads(out.strip().splitlines()[-1])["runs"][1]
    assert with_run["evaluations"] == 1 and with_run["evaluate_s"] > 0, "the evaluation at fit's end was timed"
    assert re.search(r"with / without - 1 \(wall\), per pair: [+-][\d.]+%", out)
