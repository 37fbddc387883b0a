"""Every experiment config in configs/ parses and runs one fast_dev_run batch through the CLI
(the seed systems' configs, which have offline data fragments, are trained for real instead in
tests/test_seed_configs_learn.py).

Configs added later are picked up by the glob. Fragment folders (configs/trainer/, ...) are not
globbed, and W&B sweep files are not fit configs. A config whose data is not on disk must fail at
setup with a message naming where it looked; it then runs with a random datamodule of the same
sample shape in place of its data.
"""

import importlib
from pathlib import Path

import pytest
import torch
import yaml

from gan_lightning.cli import cli_main
from tests.test_seed_configs_learn import CASES

CONFIG_DIR = Path(__file__).parents[1] / "configs"


def is_fit_config(path: Path) -> bool:
    """base.yaml (read before every config), a W&B sweep or a file named *sweep* is not an experiment."""
    cfg = yaml.safe_load(path.read_text()) or {}
    return path.stem != "base" and "sweep" not in path.stem and not {"method", "parameters"} <= set(cfg)


FIT_CONFIGS = sorted(p for p in CONFIG_DIR.glob("*.yaml") if is_fit_config(p))
LEARNING_TESTED = {Path(files[0]).stem for files, _, _ in CASES.values()}  # trained for real there


def build_datamodule(data_cfg: dict):
    module, _, name = data_cfg["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**data_cfg.get("init_args", {}))


def flatten(cfg: dict, prefix: str = "") -> dict[str, object]:
    """{"trainer.max_epochs": 60, ...}: the leaves of a nested config."""
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.parametrize("config", FIT_CONFIGS, ids=lambda p: p.stem)
def test_experiment_configs_hold_only_their_delta_from_base(config: Path):
    base = flatten(yaml.safe_load((CONFIG_DIR / "base.yaml").read_text()))
    exp = flatten(yaml.safe_load(config.read_text()))
    repeated = {k: v for k, v in exp.items() if k in base and base[k] == v}
    assert not repeated, f"{config.name} repeats what configs/base.yaml already sets: {repeated}"
    assert "trainer.callbacks" not in exp, "extend base.yaml's callbacks with `callbacks+:`, do not replace them"
    assert exp.get("trainer.logger.init_args.save_dir") == f"runs/{config.stem}", "runs land in runs/<config name>/"


def test_the_data_sets_the_networks_image_size_and_channels_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(CONFIG_DIR / "dcgan_celeba.yaml")  # RGB 64 px networks, by their defaults
    cli = cli_main(["fit", "--config", config, "--config", str(CONFIG_DIR / "data" / "digits28.yaml"),
                    "--trainer.fast_dev_run", "1", "--trainer.enable_progress_bar", "false"])  # fmt: skip
    assert cli.model.netG(torch.randn(2, 100)).shape == (2, 1, 28, 28)
    assert cli.model.hparams.netD["init_args"]["image_size"] == 28  # the checkpoint rebuilds the same D
    with pytest.raises(SystemExit, match="set once, on the data"):
        cli_main(["fit", "--config", config, "--model.netD.init_args.image_size", "32",
                  "--data.init_args.image_size", "48", "--trainer.fast_dev_run", "1"])  # fmt: skip


def test_a_loss_class_in_yaml_brings_its_hyperparameter_to_the_d_loss(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = cli_main(["fit", "--config", str(CONFIG_DIR / "ebgan_mnist.yaml"), "--config",
                    str(CONFIG_DIR / "data" / "digits28.yaml"), "--trainer.fast_dev_run", "1",
                    "--trainer.enable_progress_bar", "false"])  # fmt: skip
    assert cli.model.objective.margin == 0.1
    energies = torch.tensor([0.02, 0.04])  # below the margin: [0.1 - e]^+ counts
    assert cli.model.objective.d_loss(d_real=energies, d_fake=energies).item() == pytest.approx(0.03 + 0.07)


@pytest.mark.parametrize("config", [p for p in FIT_CONFIGS if p.stem not in LEARNING_TESTED], ids=lambda p: p.stem)
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
        channels, image_size = datamodule.sample_shape[0], datamodule.sample_shape[-1]
        args += ["--data", "tests.helpers.RandomDataModule", f"--data.init_args.channels={channels}",
                 f"--data.init_args.image_size={image_size}", "--data.init_args.batch_size=8"]  # fmt: skip
    cli = cli_main(args)
    assert cli.trainer.global_step > 0
    assert cli.trainer.state.finished
