"""configs/sweep.yaml drives `gan-lightning fit`: its command, with the agent's ${args}, parses."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def agent_args(parameters: dict) -> list[str]:
    """What `wandb agent` puts for ${args}: --name=value, one value from each parameter."""
    args = []
    for name, spec in parameters.items():
        value = spec["values"][-1] if "values" in spec else spec["max"]
        args.append(f"--{name}={value}")
    return args


def test_sweep_command_parses_with_the_agents_arguments():
    sweep = yaml.safe_load((ROOT / "configs" / "sweep.yaml").read_text())
    command = []
    for part in sweep["command"]:
        command += {"${env}": [], "${interpreter}": [sys.executable], "${program}": [sweep["program"]],
                    "${args}": agent_args(sweep["parameters"])}.get(part, [part])
    printed = subprocess.run([*command, "--print_config"], cwd=ROOT, capture_output=True, text=True)
    assert printed.returncode == 0, printed.stderr
    config = yaml.safe_load(printed.stdout)
    assert config["model"]["optimizer_G"]["init_args"]["lr"] == 0.001
    assert config["model"]["loss"] == "hinge" and config["data"]["init_args"]["batch_size"] == 128
    assert config["trainer"]["logger"]["class_path"].endswith("WandbLogger")
    callbacks = [c["class_path"] for c in config["trainer"]["callbacks"]]
    assert "gan_lightning.callbacks.metrics.MetricsCallback" in callbacks
    assert sweep["metric"]["name"].startswith("val/fid_")
