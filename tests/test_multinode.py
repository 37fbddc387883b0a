"""Two nodes of one process each, on this machine, as a cluster user starts them: torchrun with
``--nnodes 2`` and a node rank per node, CPU and gloo, ``configs/trainer/ddp_multinode.yaml``.
The weights equal those of the same run on one node with 2 processes (Lightning's launcher)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.slow  # four processes: tens of seconds

FIT = [
    "-m", "gan_lightning.cli", "fit", "--config", "configs/gaussian2d.yaml",
    "--config", "configs/trainer/ddp_multinode.yaml", "--trainer.accelerator", "cpu",
    "--seed_everything", "0", "--data.init_args.num_samples", "64", "--trainer.max_epochs", "2",
    "--trainer.enable_progress_bar", "false",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_dir(out: Path) -> list[str]:
    return ["--trainer.default_root_dir", str(out), "--trainer.logger.init_args.save_dir", str(out)]


def test_two_nodes_by_torchrun_train_as_one_node_with_two_processes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    port, nodes = free_port(), tmp_path / "nodes"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                "--master_addr", "127.0.0.1", "--master_port", str(port)]
    procs = [
        subprocess.Popen(
            ["timeout", "-k", "10", "300", *torchrun, "--node_rank", str(rank), *FIT, *run_dir(nodes),
             "--trainer.devices", "1", "--trainer.num_nodes", "2"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in (0, 1)
    ]
    logs = [p.communicate()[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(log[-3000:] for log in logs)
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in logs[1]  # node 1 ran rank 1 of the 2

    one_node = tmp_path / "one_node"
    done = subprocess.run(
        ["timeout", "-k", "10", "300", sys.executable, *FIT, *run_dir(one_node), "--trainer.devices", "2",
         "--trainer.num_nodes", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    written = sorted(str(p.relative_to(nodes)) for p in nodes.rglob("*.ckpt"))
    assert written == ["version_0/checkpoints/epoch=1-step=8.ckpt", "version_0/checkpoints/last.ckpt"]  # once
    a = torch.load(nodes / "version_0/checkpoints/last.ckpt", weights_only=True)
    b = torch.load(one_node / "version_0/checkpoints/last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 4 * 2  # 64 points over 2 ranks in batches of 8, 2 epochs
    assert len(a["rank_states"]) == 2
    for key, value in b["state_dict"].items():  # netG, netD, EMA G
        assert torch.equal(value, a["state_dict"][key]), key
