"""benchmarks/gpu_check.py, the GPU check, is known to work before it runs on a GPU."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def run_check(*args: str, timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_without_a_gpu_it_stops_at_once_and_says_how_to_check_it_on_a_cpu():
    done = run_check(timeout=60)
    assert done.returncode == 2
    assert "no CUDA GPU is visible" in done.stderr and "--device cpu --quick" in done.stderr


@pytest.mark.slow
def test_quick_cpu_run_goes_through_every_stage_and_prints_one_table(tmp_path):
    """The same stages as on a GPU, on tiny settings (about 3 minutes on 2 cores)."""
    done = run_check("--device", "cpu", "--quick", "--out", str(tmp_path), timeout=1800)  # a hang guard, not a time target
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = (tmp_path / "gpu_check.md").read_text()
    assert table.startswith("GPU check on **CPU") and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", table)
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| stage")]
    stages = [row.split(" | ")[0].lstrip("| ") for row in rows]
    assert stages.count("step_overhead dcgan64") == 4  # fp32, bf16, bf16-channels_last, and the stage row
    assert {"digits_dcgan.yaml bf16-mixed", "evaluate, Inception FID (random weights)",
            "SyncBatchNorm, 1 device, SeparateDDPStrategy"} <= set(stages)
    assert all(row.rstrip(" |").endswith("ok") for row in rows), table
    assert "20 batches, 1 epochs" in table  # max_steps counts batches (gan_lightning.batch_count)
