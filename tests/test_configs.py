"""Every experiment config in configs/ parses and runs one fast_dev_run batch through the CLI.

Configs added later are picked up by the glob. Fragment folders (configs/trainer/, ...) are not
globbed, and W&B sweep files are not fit configs. A config whose data is not on disk must fail at
setup with a message naming where it looked; it then runs with a random datamodule of the same
sample shape in place of its data.
"""

import importlib
from pathlib import Path

import pytest
import yaml

from gan_lightning.cli import cli_main

CONFIG_DIR = Path(__file__).parents[1] / "configs"


def is_fit_config(path: Path) -> bool:
    """A W&B sweep (method + parameters) or a file named *sweep* is not a fit config."""
    cfg = yaml.safe_load(path.read_text()) or {}
    return "sweep" not in path.stem and not {"method", "parameters"} <= set(cfg)


FIT_CONFIGS = sorted(p for p in CONFIG_DIR.glob("*.yaml") if is_fit_config(p))


def build_datamodule(data_cfg: dict):
    module, _, name = data_cfg["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**data_cfg.get("init_args", {}))


def test_the_image_configs_are_all_found():
    names = {p.stem for p in FIT_CONFIGS}
    expected = {"digits_dcgan", "mnist_mlp", "mnist_lsgan", "mnist_dcgan", "ebgan_mnist", "dcgan_celeba", "dcgan_cifar10", "dcgan_folder"}
    assert expected <= names


@pytest.mark.parametrize("config", FIT_CONFIGS, ids=lambda p: p.stem)
def test_config_runs_fast_dev_run(config: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the configs' relative data and run folders land here
    cfg = yaml.safe_load(config.read_text())
    args = ["fit", "--config", str(config), "--trainer.fast_dev_run", "true", "--trainer.accelerator", "cpu",
            "--trainer.enable_progress_bar", "false"]  # fmt: skip
    datamodule = build_datamodule(cfg["data"])
    try:
        datamodule.setup("fit")
    except FileNotFoundError as err:
        message = str(err)
        root = str(getattr(datamodule, "root", ""))
        assert root and root in message, f"the message should say where it looked: {message}"
        assert "download" in message or "root" in message, f"the message should say how to get the data: {message}"
        shape = list(datamodule.sample_shape)
        args += ["--data", "tests.helpers.RandomDataModule", "--data.init_args.shape", str(shape),
                 "--data.init_args.batch_size", "8"]  # fmt: skip
    cli = cli_main(args)
    assert cli.trainer.global_step > 0
    assert cli.trainer.state.finished
