"""Shared test settings: W&B offline, small CPU runs, and the float path of the learning tests.

Learning tests (``@pytest.mark.learning``) train a generator and assert that it moves towards the
data, with margins that must hold on any CPU. A training run is chaotic in the last bits of its
floats: another CPU's kernels (vector width, oneDNN and MKL paths) or thread count give another
trajectory. ``GAN_FLOAT_PATH`` picks the float path of a test run, set here before torch loads:

- ``native`` (default): this CPU's own kernels and thread count (under ``pytest -n N``, each of
  the N test processes gets its share of the cores);
- ``1thread``: one thread (another reduction order);
- ``avx2``: AVX2 kernels in ATen, oneDNN and MKL, one thread: what an AVX2-only CPU computes;
- ``baseline``: no vector ISA beyond ATen's baseline kernels, one thread;
- ``no_mkldnn``: PyTorch's own convolution kernels instead of oneDNN's;
- ``other``: ``avx2`` on an AVX-512 CPU, ``baseline`` on any other; ``.ci/run`` reruns the
  learning tests with it, so that a margin that holds only on one CPU fails on ours first.

To calibrate a margin, ``GAN_TEST_SEED`` replaces a learning test's seed and
``GAN_LEARNING_LOG=FILE`` appends each learning test's measured values to FILE (JSON lines)::

    for p in native avx2 no_mkldnn; do for s in 0 1 2; do
        GAN_FLOAT_PATH=$p GAN_TEST_SEED=$s GAN_LEARNING_LOG=margins.jsonl pytest -m learning; done; done
"""

import json
import os
from pathlib import Path

import pytest


def _resolve(path: str) -> str:
    if path != "other":
        return path
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return "avx2" if "avx512f" in flags else "baseline"


FLOAT_PATH = _resolve(os.environ.get("GAN_FLOAT_PATH", "native"))
_ENV = {  # read by torch, oneDNN and MKL when they load: set before the first `import torch`
    "native": {},
    "1thread": {"OMP_NUM_THREADS": "1"},
    "avx2": {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "baseline": {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
                 "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "no_mkldnn": {},
}
if FLOAT_PATH not in _ENV:
    raise ValueError(f"GAN_FLOAT_PATH={FLOAT_PATH!r}: use one of {', '.join([*_ENV, 'other'])}.")
os.environ.update(_ENV[FLOAT_PATH])  # subprocesses (CLI runs, DDP workers) inherit them
if (workers := os.environ.get("PYTEST_XDIST_WORKER_COUNT")) and "OMP_NUM_THREADS" not in os.environ:
    # `pytest -n N`: N test processes share the cores, each with its share of threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    os.environ["OMP_NUM_THREADS"] = str(max(1, cores // int(workers)))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

import torch  # noqa: E402  (after the float path's environment)

if FLOAT_PATH == "no_mkldnn":
    torch.backends.mkldnn.enabled = False
if "ATEN_CPU_CAPABILITY" in _ENV[FLOAT_PATH]:
    wanted = {"avx2": "AVX2", "default": "DEFAULT"}[_ENV[FLOAT_PATH]["ATEN_CPU_CAPABILITY"]]
    assert torch.backends.cpu.get_cpu_capability() == wanted, "torch was imported before tests/conftest.py"

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs")


@pytest.fixture
def configs_dir() -> str:
    return CONFIGS


def learning_seed(default: int) -> int:
    """A learning test's seed: its calibrated ``default``, or ``GAN_TEST_SEED`` when set."""
    return int(os.environ.get("GAN_TEST_SEED", default))


@pytest.fixture
def record_learning(request):
    """``record(**values)``: appends a learning test's measured values to ``GAN_LEARNING_LOG``
    (with the test, the float path and the thread count), when that is set."""

    def record(**values: float) -> None:
        if path := os.environ.get("GAN_LEARNING_LOG"):
            row = {"test": request.node.nodeid, "float_path": FLOAT_PATH, "threads": torch.get_num_threads(), **values}
            with open(path, "a") as f:
                f.write(json.dumps(row) + "\n")

    return record
