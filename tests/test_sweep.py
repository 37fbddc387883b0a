"""configs/sweep.yaml drives `gan-lightning fit`: its command, with the agent's ${args}, parses."""

from pathlib import Path

import pytest
import yaml

from gan_lightning.cli import cli_main
from gan_lightning.metrics.protocol import EvalProtocol, metric_name

ROOT = Path(__file__).parents[1]


def agent_args(parameters: dict) -> list[str]:
    """What `wandb agent` puts for ${args}: --name=value, one value from each parameter."""
    args = []
    for name, spec in parameters.items():
        value = spec["values"][-1] if "values" in spec else spec["max"]
        args.append(f"--{name}={value}")
    return args


def test_sweep_command_parses_with_the_agents_arguments(capsys, monkeypatch):
    sweep = yaml.safe_load((ROOT / "configs" / "sweep.yaml").read_text())
    assert sweep["command"][:3] == ["${env}", "${interpreter}", "${program}"]
    assert (ROOT / sweep["program"]).is_file()  # `python gan_lightning/cli.py` is `gan-lightning`
    args = [a for part in sweep["command"][3:] for a in (agent_args(sweep["parameters"]) if part == "${args}" else [part])]
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
    assert sweep["metric"]["name"] == metric_name("fid", "digits", "test", 1000, EvalProtocol().num_samples)
