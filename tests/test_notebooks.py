"""The notebooks run top to bottom with tiny parameters injected after their parameters cell.

Each notebook writes its results under ``OUT`` (here a temporary folder); the tests read those
files back, so a notebook that runs but computes nothing useful still fails. The committed
notebooks carry the outputs of a run at their defaults (GitHub shows them).
"""

import json
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient
from PIL import Image

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def run_notebook(name: str, out: Path, **params) -> nbformat.NotebookNode:
    """Execute ``notebooks/name`` in the ``python3`` kernel (this interpreter's) with ``params``.

    Like papermill: a cell assigning the parameters is inserted after the cell tagged
    ``parameters``, so the notebook's own defaults are overridden.
    """
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    (index,) = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", [])]
    unknown = [key for key in [*params, "OUT"] if not re.search(rf"^{key} = ", nb.cells[index].source, re.M)]
    assert not unknown, f"{name}'s parameters cell does not set {unknown}"
    source = "\n".join(f"{key} = {value!r}" for key, value in {**params, "OUT": str(out)}.items())
    injected = nbformat.v4.new_code_cell("# Injected by tests/test_notebooks.py\n" + source)
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    return nb


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_carry_their_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), f"{path.name} has cells that were not run"
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), "run top to bottom, once"
    figures = [o for cell in code for o in cell.outputs if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} shows no figure"
    assert not [o for cell in code for o in cell.outputs if o.get("output_type") == "error"]


def test_notebook_03_as_committed_shows_the_plain_gan_collapsing_and_the_remedy_covering_the_ring():
    nb = nbformat.read(NOTEBOOKS / "03_mode_collapse.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)
    covered = {name: int(n) for name, n in re.findall(r"^(plain|remedy \(r1.yaml\)) +(\d+) of 8 modes", printed, re.M)}
    assert covered["plain"] < 6 and covered["remedy (r1.yaml)"] == 8  # ModeCoverage's threshold: 75% of 8


def png_shape(path: Path) -> tuple[int, ...]:
    image = np.asarray(Image.open(path))
    assert image.std() > 0, f"{path.name} is blank"
    return image.shape


@pytest.mark.slow  # executes the notebook in a kernel
def test_01_gaussian2d(tmp_path):
    nb = run_notebook("01_gaussian2d.ipynb", tmp_path, EPOCHS=1, NUM_POINTS=200, NUM_SAMPLES=500)
    result = json.loads((tmp_path / "result.json").read_text())
    printed = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)
    assert f"|cov - AᵀA| / |AᵀA| = {result['cov_error']:.1%}" in printed  # what it shows is what it saved
    assert result["epochs"] == 1
    # the error the notebook reports is the seed's: |C - AᵀA|_F / |AᵀA|_F of the covariance it printed
    A = np.array([[1.0, 2.0], [-0.1, 0.5]])
    cov = np.array(result["cov"])
    assert cov.shape == (2, 2) and np.allclose(cov, cov.T)
    assert result["cov_error"] == pytest.approx(np.linalg.norm(cov - A.T @ A) / np.linalg.norm(A.T @ A), rel=1e-6)
    assert png_shape(tmp_path / "scatter.png")[:2] == (400, 400)  # 5 x 5 inches at 80 dpi
    metrics = pd.read_csv(next(tmp_path.glob("version_*/metrics.csv")))
    assert metrics["loss_D_epoch"].notna().sum() == 1  # one epoch


@pytest.mark.slow  # executes the notebook in a kernel
def test_02_dcgan_anatomy(tmp_path):
    nb = run_notebook("02_dcgan_anatomy.ipynb", tmp_path, BATCHES=3, BATCH_SIZE=16, LOG_EVERY=1)
    printed = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "def training_step" in printed and "manual_backward" in printed  # the module's source is shown
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["grid_shape"] == [274, 274, 3]  # 64 images of 32 px, 8 per row, 2 px padding
    assert png_shape(tmp_path / "grid.png") == (274, 274, 3)
    assert result["callback_grids"] >= 1
    assert all(0 <= result["last"][k] <= 1 for k in ("D_x", "D_G_z1", "D_G_z2"))
    metrics = pd.read_csv(next(tmp_path.glob("version_*/metrics.csv"))).dropna(subset=["D_x"])
    assert len(metrics) == 3  # logged every batch


@pytest.mark.slow  # executes the notebook in a kernel
def test_03_mode_collapse(tmp_path):
    nb = run_notebook("03_mode_collapse.ipynb", tmp_path, BATCHES=4, EVAL_EVERY=2, MODE_SAMPLES=200, NUM_POINTS=1000)
    result = json.loads((tmp_path / "result.json").read_text())
    assert set(result) == {"plain", "remedy (r1.yaml)"}
    printed = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)
    for name, run in result.items():
        assert sorted({h["batch"] for h in run["history"]}) == [2, 4]  # every 2 batches (and at the end)
        assert all(0 <= h["modes_covered"] <= 8 and 0 <= h["reverse_kl"] <= math.log(8) + 1e-9 for h in run["history"])
        assert run["scatters"] >= 2
        # the end of training the notebook prints is the run's own metrics.csv, and the callback's last evaluation
        logged = pd.read_csv(Path(run["run"]) / "metrics.csv").dropna(subset=["modes_covered"]).iloc[-1]
        for key in ("modes_covered", "hq_fraction", "reverse_kl", "diversity"):
            assert run["final"][key] == pytest.approx(logged[key]) == pytest.approx(run["history"][-1][key])
        assert f"{name:22s} {run['final']['modes_covered']:.0f} of 8 modes" in printed
    # 4 batches leave G far from the ring: the diagnostics must flag the plain run.
    assert "mode collapse" in result["plain"]["fired"]
    assert png_shape(tmp_path / "scatter_over_training.png")[:2] == (360, 720)  # 2 x 4 panels of 3 in at 60 dpi
    history = pd.read_csv(tmp_path / "mode_history.csv")
    assert len(history) == sum(len(run["history"]) for run in result.values()) and history["diversity"].notna().all()


@pytest.mark.slow  # executes the notebook in a kernel
def test_04_compare_runs(tmp_path):
    run_notebook("04_compare_runs.ipynb", tmp_path, LOSSES=["non_saturating", "minimax"], EPOCHS=2, NUM_POINTS=64,
                 LOG_EVERY=2)
    table = pd.read_csv(tmp_path / "comparison.csv", index_col="run")
    assert list(table.index) == ["minimax/version_0", "non_saturating/version_0"]
    assert list(table["loss"]) == ["minimax", "non_saturating"]  # read back from each run's config.yaml
    assert (table["epochs"] == 2).all()
    assert np.isfinite(table[["mean_error", "cov_error", "final_loss_D"]].to_numpy()).all()
    for run, row in table.iterrows():  # the table's loss is each run's own last logged epoch mean
        logged = pd.read_csv(tmp_path / run / "metrics.csv")["loss_D_epoch"].dropna()
        assert row["final_loss_D"] == pytest.approx(logged.iloc[-1])
    assert png_shape(tmp_path / "compare.png")[:2] == (210, 840)  # 14 x 3.5 inches at 60 dpi
