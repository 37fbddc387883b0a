"""PacGAN's Table 1 for this project: the plain GAN and each remedy, at equal budgets, on the ring and the grid.

Every run is ``gan-lightning fit`` on ``configs/{ring8,grid25}.yaml`` (the plain GAN) plus one
variant's overrides (``VARIANTS``), through the project's LightningCLI, one after the other in
this process with ``--threads`` torch threads (1 by default), without loggers, checkpoints or
diagnostics callbacks (they are not part of the method). Each row differs from ``plain`` by one
remedy, set as its paper sets it; ``pack2`` is the recommended ``configs/remedies/pack2.yaml``.
``--max_batches`` shortens every run alike (``trainer.max_steps`` counts batches).

After training, 2,500 points from the raw G and 2,500 from the EMA G of the same run, drawn
from the same latents, are scored with PacGAN's definitions (in data space: a standardised
grid's samples are mapped back). The table gives mean +- standard error over seeds and each
run's CPU (process) time; wall time depends on what else the machine runs.

    python benchmarks/modes2d.py --seeds 3          # every variant on both, the configs' 36,000 batches
    python benchmarks/modes2d.py --variants plain pack2 pack4 minibatch_std sn_hinge wgan_gp r1 mode_seeking \
        --seeds 3 --max_batches 6000                # the README's table
    python benchmarks/modes2d.py --data grid --variants plain pack2 --max_batches 6000 --raw_scale  # grid as it is
"""

import argparse
import json
import math
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from gan_lightning.cli import cli_main
from gan_lightning.metrics.modes import mode_stats
from gan_lightning.module import GAN

CONFIGS = Path(__file__).parents[1] / "configs"
DATA = {"ring": "ring8", "grid": "grid25"}


def term(name: str, weight: float) -> str:
    """A one-term list for ``--model.d_terms`` / ``--model.g_terms``."""
    return json.dumps([{"class_path": f"gan_lightning.terms.{name}", "init_args": {"weight": weight}}])


# One remedy each on top of the plain GAN, as config overrides, with its published recipe.
VARIANTS: dict[str, list[str]] = {
    "plain": [],
    "pack2": ["--model.netD.init_args.pack", "2"],  # the recommended configs/{ring8,grid25}.yaml
    "pack4": ["--model.netD.init_args.pack", "4"],  # PacGAN's other degree on these benchmarks
    "minibatch_std": ["--model.netD.init_args.minibatch_std", "true"],
    # Miyato et al. 2018: spectral norm on every D layer, hinge loss, n_dis 1 with Adam 2e-4
    # betas (0.5, 0.999), which is the plain twin's optimizer.
    "sn_hinge": ["--model.network_setup.spectral_norm", "true", "--model.loss", "hinge"],
    # ... and their other setting (their ResNets): n_dis 5, Adam 2e-4 betas (0, 0.9).
    "sn_hinge_ndis5": [
        "--model.network_setup.spectral_norm", "true", "--model.loss", "hinge", "--model.n_critic", "5",
        "--model.optimizer_G.init_args.betas", "[0.0, 0.9]", "--model.optimizer_D.init_args.betas", "[0.0, 0.9]",
    ],  # fmt: skip
    # Gulrajani et al. 2017: lambda 10, n_critic 5, Adam 1e-4 betas (0.5, 0.9) for both.
    "wgan_gp": [
        "--model.loss", "wasserstein", "--model.d_terms", term("GradientPenalty", 10.0), "--model.n_critic", "5",
        "--model.optimizer_G.init_args.lr", "1e-4", "--model.optimizer_G.init_args.betas", "[0.5, 0.9]",
        "--model.optimizer_D.init_args.lr", "1e-4", "--model.optimizer_D.init_args.betas", "[0.5, 0.9]",
    ],  # fmt: skip
    # Mescheder et al. 2018: R1 with gamma 10, their choice for data of unit scale (images in
    # [-1, 1]); the ring (std 0.71 a coordinate) and the standardised grid are of that scale.
    "r1": ["--model.d_terms", term("R1", 10.0)],
    "mode_seeking": ["--model.g_terms", term("ModeSeeking", 1.0)],  # Mao et al. 2019: lambda_ms 1
    # PacGAN's own plain setting: Adam 1e-4, constant rates, no EMA, 10,000 batches.
    "pacgan_plain": [
        "--model.optimizer_G.init_args.lr", "1e-4", "--model.optimizer_D.init_args.lr", "1e-4",
        "--model.lr_decay_start", "1.0", "--model.ema_decay", "null", "--trainer.max_steps", "10000",
    ],  # fmt: skip
}
METRICS = ("modes_covered", "hq_percent", "reverse_kl")


def score(model: GAN, generator: str, seed: int, modes: torch.Tensor, std: float, n: int = 2500) -> dict[str, float]:
    """PacGAN's metrics of ``n`` points from the raw or the EMA G (through ``GAN.sample``, so in data space)."""
    ema = model.netG_ema
    if generator == "ema" and ema is None:
        return {}
    if generator == "raw":
        model.netG_ema = None  # sample from netG, the same path otherwise
    try:
        samples = model.sample(n, torch.Generator().manual_seed(seed)).flatten(1)
    finally:
        model.netG_ema = ema
    stats = mode_stats(samples, modes, std)
    return {"modes_covered": stats.modes_covered, "hq_percent": 100 * stats.hq_fraction, "reverse_kl": stats.reverse_kl}


def run(data: str, variant: str, seed: int, max_batches: int | None, raw_scale: bool) -> dict[str, dict[str, float]]:
    """Train one variant and score its raw and EMA G; returns {"raw": ..., "ema": ..., "time": ...}."""
    overrides = VARIANTS[variant]
    args = ["fit", "--config", str(CONFIGS / f"{DATA[data]}.yaml"), *overrides]
    args += ["--seed_everything", str(seed), "--data.init_args.seed", str(seed)]
    args += ["--trainer.logger", "false", "--trainer.enable_checkpointing", "false"]
    args += ["--trainer.callbacks", "[]", "--trainer.enable_progress_bar", "false"]
    if raw_scale:
        args += ["--data.init_args.standardize", "false"]
    if max_batches is not None:
        args += ["--trainer.max_steps", str(max_batches)]
    with tempfile.TemporaryDirectory() as tmp:
        cpu, wall = time.process_time(), time.perf_counter()
        cli = cli_main([*args, "--trainer.default_root_dir", tmp])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    modes, std = cli.datamodule.modes, cli.datamodule.std
    return {
        "raw": score(cli.model, "raw", seed, modes, std),
        "ema": score(cli.model, "ema", seed, modes, std),
        "time": {"cpu_s": cpu, "wall_s": wall, "batches": cli.trainer.fit_loop.total_batch_idx + 1},
    }


def mean_se(values: list[float], digits: int) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values) / math.sqrt(len(values)):.{digits}f}"


def table_row(data: str, name: str, rows: list[dict[str, dict[str, float]]]) -> str:
    """One markdown row: the raw G's and the EMA G's metrics, mean +- s.e. over the runs."""
    cells = [DATA[data], name, str(len(rows)), f"{rows[0]['time']['batches']:.0f}"]
    for generator in ("raw", "ema"):
        for key, digits in zip(METRICS, (1, 1, 3)):
            cells.append(mean_se([r[generator][key] for r in rows if r[generator]], digits))
    cells.append(f"{statistics.fmean(r['time']['cpu_s'] for r in rows):.0f}")
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", choices=list(DATA), default=list(DATA))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first_seed", type=int, default=0, help="seeds run from here (to split the work)")
    parser.add_argument("--max_batches", type=int, default=None, help="every run's training length in batches")
    parser.add_argument("--raw_scale", action="store_true", help="serve the data as it is (standardize: false)")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch threads per run (1: CPU time is one core's work; 2: wall time on 2 cores)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # our argv is not the CLI's
    print("| data | variant | seeds | batches | modes, raw G | HQ %, raw G | reverse KL, raw G "
          "| modes, EMA G | HQ %, EMA G | reverse KL, EMA G | CPU s / run |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for data in args.data:
        for variant in args.variants:
            seeds = range(args.first_seed, args.first_seed + args.seeds)
            rows = [run(data, variant, seed, args.max_batches, args.raw_scale) for seed in seeds]
            print(table_row(data, variant + (", raw scale" if args.raw_scale else ""), rows), flush=True)


if __name__ == "__main__":
    main()
