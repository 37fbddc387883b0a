"""PacGAN's Table 1 for this project: the plain GAN and each remedy on the ring and the grid.

Every run is ``gan-lightning fit`` on a config (``configs/{ring8,grid25}_plain.yaml`` plus one
remedy's overrides, or the recommended ``configs/{ring8,grid25}.yaml``) through the project's
LightningCLI, one after the other in this process with ``--threads`` torch threads (1 by
default), without loggers, checkpoints or diagnostics callbacks (they are not part of the
method). After training, 2,500 points from the sampling generator (the EMA G when configured)
are scored with PacGAN's definitions. The table gives mean +- standard error over seeds and
each run's CPU (process) time; wall time depends on what else the machine runs.

    python benchmarks/modes2d.py                           # everything, 3/3/1 seeds
    python benchmarks/modes2d.py --data ring --remedies plain recommended --seeds 3
    python benchmarks/modes2d.py --remedies recommended --threads 2   # wall time on 2 cores
"""

import argparse
import math
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from gan_lightning.cli import cli_main
from gan_lightning.metrics.modes import mode_stats

CONFIGS = Path(__file__).parents[1] / "configs"
DATA = {"ring": "ring8", "grid": "grid25"}
# Each remedy alone on top of the plain config, as config overrides.
REMEDIES: dict[str, list[str]] = {
    "plain": [],
    "pack2": ["--model.netD.init_args.pack", "2"],
    "minibatch_std": ["--model.netD.init_args.minibatch_std", "true"],
    "spectral_norm": ["--model.spectral_norm", "true"],
    "wgan_gp": ["--model.loss", "wasserstein", "--model.gp_weight", "10"],
    "r1": ["--model.r1_weight", "1.0"],
    "mode_seeking": ["--model.mode_seeking_weight", "1.0"],
    "ema": ["--model.ema_decay", "0.999"],
    "recommended": [],
}


def run(data: str, remedy: str, seed: int, max_batches: int | None, num_samples: int = 2500) -> dict[str, float]:
    """Train one config and score it; returns the mode metrics and the CPU and wall seconds."""
    name = DATA[data] if remedy == "recommended" else f"{DATA[data]}_plain"
    args = ["fit", "--config", str(CONFIGS / f"{name}.yaml"), *REMEDIES[remedy]]
    args += ["--seed_everything", str(seed), "--data.init_args.seed", str(seed)]
    args += ["--trainer.logger", "false", "--trainer.enable_checkpointing", "false"]
    args += ["--trainer.callbacks", "[]", "--trainer.enable_progress_bar", "false"]
    if max_batches is not None:  # Lightning counts D and G optimizer steps
        args += ["--trainer.max_steps", str(2 * max_batches)]
    with tempfile.TemporaryDirectory() as tmp:
        cpu, wall = time.process_time(), time.perf_counter()
        cli = cli_main([*args, "--trainer.default_root_dir", tmp])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    samples = cli.model.sample(num_samples, torch.Generator().manual_seed(seed)).flatten(1)
    stats = mode_stats(samples, cli.datamodule.modes, cli.datamodule.std)
    return {**stats._asdict(), "hq_percent": 100 * stats.hq_fraction, "cpu_s": cpu, "wall_s": wall}


def mean_se(values: list[float], digits: int) -> str:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values) / math.sqrt(len(values)):.{digits}f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", choices=list(DATA), default=list(DATA))
    parser.add_argument("--remedies", nargs="+", choices=list(REMEDIES), default=list(REMEDIES))
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the plain and recommended configs")
    parser.add_argument("--remedy_seeds", type=int, default=1, help="seeds of each single remedy")
    parser.add_argument("--first_seed", type=int, default=0, help="seeds run from here (to split the work)")
    parser.add_argument("--max_batches", type=int, default=None, help="override the configs' training length")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch threads per run (1: CPU time is one core's work; 2: wall time on 2 cores)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # our argv is not the CLI's
    print("| data | config | seeds | modes | high quality (%) | reverse KL | CPU s / run | wall s / run |")
    print("|---|---|---|---|---|---|---|---|")
    for data in args.data:
        for remedy in args.remedies:
            n = args.seeds if remedy in ("plain", "recommended") else args.remedy_seeds
            rows = [run(data, remedy, seed, args.max_batches) for seed in range(args.first_seed, args.first_seed + n)]
            col = {k: [r[k] for r in rows] for k in rows[0]}
            print(
                f"| {DATA[data]} | {remedy} | {n} | {mean_se(col['modes_covered'], 1)} | "
                f"{mean_se(col['hq_percent'], 1)} | {mean_se(col['reverse_kl'], 3)} | "
                f"{statistics.fmean(col['cpu_s']):.0f} | {statistics.fmean(col['wall_s']):.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
