"""W&B offline, through the config fragment: the run's history holds the losses and a sample grid."""

import json
import struct
import time
from pathlib import Path

import numpy as np
from PIL import Image
from wandb.proto import wandb_internal_pb2

from gan_lightning.cli import cli_main

CONFIGS = Path(__file__).parents[1] / "configs"
BLOCK, HEADER = 32768, 7  # the .wandb file is a LevelDB-style log of protobuf Records


def read_records(path: Path) -> list[wandb_internal_pb2.Record]:
    """Every Record of an offline run's ``run-*.wandb`` file (wandb ships no Python reader)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # block trailer padding
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        chunk, pos = data[pos + HEADER : pos + HEADER + length], pos + HEADER + length
        if kind in (1, 2):  # full, first
            pending = chunk
        elif kind in (3, 4):  # middle, last
            pending += chunk
        if kind in (1, 4):
            records.append(wandb_internal_pb2.Record.FromString(pending))
    return records


def nested(items) -> dict:
    """History items as a dict; an image's fields come as nested keys (samples/filenames, ...)."""
    row: dict = {}
    for item in items:
        *parents, leaf = list(item.nested_key) or [item.key]
        node = row
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = json.loads(item.value_json)
    return row


def test_wandb_offline_run_holds_losses_grid_and_config(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cli_main([
        "fit", "--config", str(CONFIGS / "gaussian2d.yaml"), "--config", str(CONFIGS / "logger" / "wandb.yaml"),
        "--trainer.logger.init_args.save_dir", str(tmp_path), "--trainer.logger.init_args.group", "tests",
        "--trainer.max_epochs", "1", "--trainer.log_every_n_steps", "1", "--trainer.enable_progress_bar", "false",
        "--data.init_args.num_samples", "64",
        "--trainer.callbacks+=gan_lightning.callbacks.samples.SampleGrid", "--trainer.callbacks.every_n_batches", "4",
    ])
    import wandb

    wandb.finish()
    (run_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    records = read_records(run_file)
    deadline = time.monotonic() + 30  # wandb's service process may still be writing after finish() under load
    while not any(r.WhichOneof("record_type") == "history" for r in records) and time.monotonic() < deadline:
        time.sleep(0.5)
        records = read_records(run_file)
    history = [nested(r.history.item) for r in records if r.WhichOneof("record_type") == "history"]
    losses = [row for row in history if "loss_D" in row and "loss_G" in row]
    assert len(losses) == 8 and all(np.isfinite([row["loss_D"], row["loss_G"]]).all() for row in losses)
    grids = [row["samples"] for row in history if "samples" in row]
    assert grids and grids[0]["_type"] == "images/separated"
    (image_path,) = grids[0]["filenames"]
    image = np.asarray(Image.open(run_file.parent / "files" / image_path))
    assert image.dtype == np.uint8 and image.shape[0] > 100 and image.std() > 0  # drawn, not black
    config = {k: v for r in records if r.WhichOneof("record_type") == "config" for k, v in nested(r.config.update).items()}
    assert config["trainer"]["max_epochs"] == 1 and config["data"]["init_args"]["num_samples"] == 64
    assert config["model"]["init_args"]["optimizer_D"]["init_args"]["lr"] == 0.05
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    assert run.project == "gan-lightning" and run.run_group == "tests"
