"""configs/sweep.yaml drives `gan-lightning fit`: its command, with the agent's ${args}, parses,
and the metric it ranks by is the name the metrics fragment logs on the default experiment."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from gan_lightning.callbacks.best_metric import BestMetricCheckpoint
from gan_lightning.callbacks.metrics import MetricsCallback
from gan_lightning.cli import cli_main

ROOT = Path(__file__).parents[1]


def agent_args(parameters: dict) -> list[str]:
    """What `wandb agent` puts for ${args}: --name=value, one value from each parameter."""
    args = []
    for name, spec in parameters.items():
        value = spec["values"][-1] if "values" in spec else spec["max"]
        args.append(f"--{name}={value}")
    return args


def sweep_command() -> tuple[dict, list[str]]:
    """The sweep file and its command after `fit`, with ${args} filled as the agent does."""
    sweep = yaml.safe_load((ROOT / "configs" / "sweep.yaml").read_text())
    assert sweep["command"][:3] == ["${env}", "${interpreter}", "${program}"]
    assert (ROOT / sweep["program"]).is_file()  # `python gan_lightning/cli.py` is `gan-lightning`
    args = [a for part in sweep["command"][3:] for a in (agent_args(sweep["parameters"]) if part == "${args}" else [part])]
    return sweep, args


def test_sweep_command_parses_with_the_agents_arguments(capsys, monkeypatch):
    sweep, args = sweep_command()
    monkeypatch.chdir(ROOT)  # the agent runs from the repository root
    with pytest.raises(SystemExit) as exit_info:
        cli_main([*args, "--print_config"])
    assert exit_info.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    model = config["model"]["init_args"]
    assert model["optimizer_G"]["init_args"]["lr"] == 0.001
    assert model["loss"] == "hinge" and config["data"]["init_args"]["batch_size"] == 128
    assert config["trainer"]["logger"]["class_path"].endswith("WandbLogger")
    callbacks = [c["class_path"] for c in config["trainer"]["callbacks"]]
    assert "gan_lightning.callbacks.metrics.MetricsCallback" in callbacks
    assert "gan_lightning.callbacks.best_metric.BestMetricCheckpoint" in callbacks


def test_sweep_ranks_by_the_fid_name_the_fragment_logs_on_the_default_experiment(monkeypatch, tmp_path):
    sweep, args = sweep_command()
    monkeypatch.chdir(ROOT)  # the agent runs from the repository root; nothing is written (no fit)
    cli = cli_main([*args[1:], "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path)], run=False)
    (metrics,) = [c for c in cli.trainer.callbacks if isinstance(c, MetricsCallback)]
    assert any(isinstance(c, BestMetricCheckpoint) for c in cli.trainer.callbacks)
    metrics.setup(SimpleNamespace(datamodule=cli.datamodule, is_global_zero=True), cli.model, "fit")
    assert sweep["metric"] == {"name": metrics.logged_name("fid"), "goal": "minimize"}
