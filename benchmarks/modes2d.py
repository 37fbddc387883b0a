"""Mode collapse on 2-D mixtures, in three settings, scored with PacGAN's metrics beside the papers' numbers.

Settings (``--setting``), each a pair of configs (ring, grid) and its variants (``SETTINGS``):

- ``pacgan``: PacGAN's own setting (``configs/pacgan_{ring,grid}.yaml``: its networks with the
  maxout D, Adam 1e-4 (0.8, 0.999), batch 100, 100,000 points, 400,000 batches); the variants
  are its Table 1's rows: ``gan`` and ``pacgan2``-``pacgan4`` (``configs/pacgan/pack{2,3,4}.yaml``:
  D sees 100 packs of m samples a batch, as PacGAN's code feeds it), and ``recipe``, the project's recommended recipe
  (``configs/{ring8,grid25}.yaml`` + ``configs/remedies/r1.yaml``) at the same length.
- ``project``: the project's plain GAN (``configs/{ring8,grid25}.yaml``: 36,000 batches, EMA G,
  lr decay) and one remedy at a time on it (``r1`` is the recommended recipe).
- ``wgan_toy``: WGAN-GP's toy script (``configs/wgangp_toy{8,25}.yaml``: its networks, lambda
  0.1, batch 256, 5 critic steps, Adam 1e-4 (0.5, 0.9), its 8 and 25 Gaussians divided by
  1.414 and 2.828); ``own`` is that, ``pacgan_data`` the same recipe on PacGAN's ring and grid.

Every run is ``gan-lightning fit`` through the project's LightningCLI, one after the other in
this process with ``--threads`` torch threads (1 by default), without loggers, checkpoints or
diagnostics callbacks (they are not part of the method). ``--max_batches`` sets every run's
``trainer.max_steps``, which counts batches (one D step each; a G step every n_critic-th), and
the "batches" cell gives it with its fraction of the paper's budget (PacGAN: 400 epochs of
1,000 batches; WGAN-GP's script: 100,000 G steps = 500,000 batches).

After training, 2,500 points from the raw G, and from the EMA G where the config keeps one, drawn
from the same latents, are scored with PacGAN's definitions in data space (a mode is covered by a
point within 3 of the data's standard deviations of it; ``gan_lightning.metrics.modes``). The
table gives mean +- standard error over seeds, the paper's row where there is one (PacGAN's
Table 1: mean +- s.e. over its 10 runs), and each run's CPU (process) time; wall time depends on
what else the machine runs. ``--score_every N`` also scores the raw G every N batches (the
scoring draws from its own random generator, so the run is the same) and prints that trajectory.
``--out FILE`` appends each run as a JSON line; ``--tables FILE...`` prints the tables of saved
runs (seeds run in separate processes, merged).

    python benchmarks/modes2d.py --setting pacgan --seeds 3 --max_batches 4000 --score_every 1000
    python benchmarks/modes2d.py --setting project --variants pack2 --seeds 3   # the recipe, its 36,000 batches
    python benchmarks/modes2d.py --setting wgan_toy --seeds 3 --max_batches 2500 --score_every 500
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from lightning.pytorch import Callback

sys.path.insert(0, str(Path(__file__).parent))

from seeds import mean_se  # noqa: E402

from gan_lightning.cli import cli_main  # noqa: E402
from gan_lightning.metrics.modes import mode_stats  # noqa: E402
from gan_lightning.module import GAN  # noqa: E402

CONFIGS = Path(__file__).parents[1] / "configs"
METRICS = ("modes_covered", "hq_percent", "reverse_kl")
DIGITS = (1, 1, 3)


def term(name: str, weight: float) -> str:
    """A one-term list for ``--model.d_terms`` / ``--model.g_terms``."""
    return json.dumps([{"class_path": f"gan_lightning.terms.{name}", "init_args": {"weight": weight}}])


def pack(m: int) -> list[str]:
    """PacGAN's packing as its code feeds D: 100 packs of m samples a batch (batch 100 m),
    ``configs/pacgan/pack{m}.yaml`` on PacGAN's batch of 100."""
    return ["--config", str(CONFIGS / f"pacgan/pack{m}.yaml")]


# PacGAN's Table 1 (Lin et al. 2018; fjxmlzn/PacGAN synthetic_data_experiments/results/Table1.png):
# modes, high-quality %, reverse KL, mean +- s.e. over 10 runs of 400,000 batches.
PACGAN_TABLE1: dict[tuple[str, str], tuple[str, str, str]] = {
    ("ring", "GAN"): ("6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09"),
    ("ring", "PacGAN2"): ("7.9 ± 0.1", "95.6 ± 2.0", "0.07 ± 0.03"),
    ("ring", "PacGAN3"): ("7.8 ± 0.1", "97.7 ± 0.3", "0.10 ± 0.02"),
    ("ring", "PacGAN4"): ("7.8 ± 0.1", "95.9 ± 1.4", "0.07 ± 0.02"),
    ("grid", "GAN"): ("17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07"),
    ("grid", "PacGAN2"): ("23.8 ± 0.7", "91.3 ± 0.8", "0.13 ± 0.04"),
    ("grid", "PacGAN3"): ("24.6 ± 0.4", "94.2 ± 0.4", "0.06 ± 0.02"),
    ("grid", "PacGAN4"): ("24.8 ± 0.2", "93.6 ± 0.6", "0.04 ± 0.01"),
}


@dataclass(frozen=True)
class Variant:
    """Overrides on the setting's config (the same on both data sets, or per data set), another
    config pair instead of the setting's (``configs``), and the paper's row to print beside it."""

    args: list[str] | dict[str, list[str]] = field(default_factory=list)
    configs: dict[str, list[str]] | None = None
    paper: str | None = None

    def arguments(self, data: str, setting: "Setting") -> list[str]:
        configs = (self.configs or setting.configs)[data]
        args = self.args[data] if isinstance(self.args, dict) else self.args
        return [arg for config in configs for arg in ("--config", str(CONFIGS / config))] + list(args)


@dataclass(frozen=True)
class Setting:
    configs: dict[str, list[str]]  # data -> config files, relative to configs/
    variants: dict[str, Variant]
    paper_batches: int  # the paper's training length in batches (the "of the paper's" fraction)
    paper_name: str


RECIPE = {"ring": ["ring8.yaml", "remedies/r1.yaml"], "grid": ["grid25.yaml", "remedies/r1.yaml"]}
SETTINGS: dict[str, Setting] = {
    "pacgan": Setting(
        configs={"ring": ["pacgan_ring.yaml"], "grid": ["pacgan_grid.yaml"]},
        variants={
            "gan": Variant(paper="GAN"),
            "pacgan2": Variant(pack(2), paper="PacGAN2"),
            "pacgan3": Variant(pack(3), paper="PacGAN3"),
            "pacgan4": Variant(pack(4), paper="PacGAN4"),
            # the project's recommended recipe (its networks, Adam 2e-4, EMA G, lr decay, the
            # standardised grid, R1 with gamma 10), at the same length as the rows above; not a
            # row of PacGAN's table
            "recipe": Variant(configs=RECIPE),
        },
        paper_batches=400_000, paper_name="PacGAN",
    ),
    "project": Setting(
        configs={"ring": ["ring8.yaml"], "grid": ["grid25.yaml"]},
        variants={
            "plain": Variant(paper="GAN"),
            "pack2": Variant(["--config", str(CONFIGS / "remedies/pack2.yaml")], paper="PacGAN2"),
            "pack4": Variant(["--model.netD.init_args.pack", "4"], paper="PacGAN4"),
            "minibatch_std": Variant(["--model.netD.init_args.minibatch_std", "true"]),
            # Miyato et al. 2018: spectral norm on every D layer, hinge loss, n_dis 1 with Adam
            # 2e-4 betas (0.5, 0.999), which is the plain config's optimizer.
            "sn_hinge": Variant(["--model.network_setup.spectral_norm", "true", "--model.loss", "hinge"]),
            # ... and their other setting (their ResNets): n_dis 5, Adam 2e-4 betas (0, 0.9).
            "sn_hinge_ndis5": Variant([
                "--model.network_setup.spectral_norm", "true", "--model.loss", "hinge", "--model.n_critic", "5",
                "--model.optimizer_G.init_args.betas", "[0.0, 0.9]", "--model.optimizer_D.init_args.betas", "[0.0, 0.9]",
            ]),  # fmt: skip
            # Gulrajani et al. 2017's image recipe: lambda 10, n_critic 5, Adam 1e-4 (0.5, 0.9);
            # their toy recipe is --setting wgan_toy.
            "wgan_gp": Variant([
                "--model.loss", "wasserstein", "--model.d_terms", term("GradientPenalty", 10.0), "--model.n_critic", "5",
                "--model.optimizer_G.init_args.lr", "1e-4", "--model.optimizer_G.init_args.betas", "[0.5, 0.9]",
                "--model.optimizer_D.init_args.lr", "1e-4", "--model.optimizer_D.init_args.betas", "[0.5, 0.9]",
            ]),  # fmt: skip
            # Mescheder et al. 2018: R1 with gamma 10, their choice for data of unit scale; the recipe.
            "r1": Variant(["--config", str(CONFIGS / "remedies/r1.yaml")]),
            "mode_seeking": Variant(["--model.g_terms", term("ModeSeeking", 1.0)]),  # Mao et al. 2019: lambda_ms 1
        },
        paper_batches=400_000, paper_name="PacGAN",
    ),
    "wgan_toy": Setting(
        configs={"ring": ["wgangp_toy8.yaml"], "grid": ["wgangp_toy25.yaml"]},
        variants={
            "own": Variant(),
            # PacGAN's data: its ring is the 8 Gaussians 1.414 times smaller, its grid the 25
            # Gaussians 2.828 times larger (not divided).
            "pacgan_data": Variant({
                "ring": ["--data.init_args.radius", "1.0", "--data.init_args.std", "0.01", "--data.init_args.divide_by", "1.0"],
                "grid": ["--data.init_args.divide_by", "1.0"],
            }),  # fmt: skip
        },
        paper_batches=500_000, paper_name="WGAN-GP's gan_toy.py",
    ),
}


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


class Trajectory(Callback):
    """Scores the raw G every ``every`` batches (its own latents: the run is unchanged)."""

    def __init__(self, every: int, seed: int) -> None:
        self.every, self.seed, self.points = every, seed, []  # a point: {"batches", *METRICS}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        done = trainer.global_step
        if done % self.every == 0:
            dm = trainer.datamodule
            self.points.append({"batches": done, **score(pl_module, "raw", self.seed, dm.modes, dm.std)})


def run(setting: str, data: str, variant: str, seed: int, max_batches: int | None, raw_scale: bool = False,
        score_every: int | None = None) -> dict:
    """Train one variant and score its raw and EMA G: {"raw", "ema", "time", "trajectory", ...}."""
    args = ["fit", *SETTINGS[setting].variants[variant].arguments(data, SETTINGS[setting])]
    args += ["--seed_everything", str(seed), "--data.init_args.seed", str(seed)]
    args += ["--trainer.logger", "false", "--trainer.enable_checkpointing", "false"]
    callbacks = [{"class_path": "benchmarks.modes2d.Trajectory", "init_args": {"every": score_every, "seed": seed}}]
    args += ["--trainer.callbacks", json.dumps(callbacks if score_every else []), "--trainer.enable_progress_bar", "false"]
    if raw_scale:
        args += ["--data.init_args.standardize", "false"]
    if max_batches is not None:
        args += ["--trainer.max_steps", str(max_batches)]
    with tempfile.TemporaryDirectory() as tmp:
        cpu, wall = time.process_time(), time.perf_counter()
        cli = cli_main([*args, "--trainer.default_root_dir", tmp])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    modes, std = cli.datamodule.modes, cli.datamodule.std
    trajectory = next((c for c in cli.trainer.callbacks if type(c).__name__ == "Trajectory"), None)
    return {
        "setting": setting, "data": data, "variant": variant + (", raw scale" if raw_scale else ""), "seed": seed,
        "raw": score(cli.model, "raw", seed, modes, std),
        "ema": score(cli.model, "ema", seed, modes, std),
        "time": {"cpu_s": cpu, "wall_s": wall, "batches": cli.trainer.global_step, "threads": torch.get_num_threads()},
        "trajectory": trajectory.points if trajectory else [],
    }  # fmt: skip


HEADER = ("| setting | data | variant | seeds | batches (of the paper's) | modes, raw G | HQ %, raw G | reverse KL, raw G "
          "| modes, EMA G | HQ %, EMA G | reverse KL, EMA G | paper: modes | paper: HQ % | paper: reverse KL | CPU s / run |")


def table_row(rows: list[dict]) -> str:
    """One markdown row: the raw and EMA G's metrics (mean +- s.e. over the runs), the paper's."""
    first = rows[0]
    setting = SETTINGS[first["setting"]]
    batches = first["time"]["batches"]
    cells = [first["setting"], first["data"], first["variant"], str(len(rows)),
             f"{batches:,} ({100 * batches / setting.paper_batches:.3g}%)"]  # fmt: skip
    for generator in ("raw", "ema"):
        for key, digits in zip(METRICS, DIGITS):
            cells.append(mean_se([r[generator][key] for r in rows if r[generator]], digits))
    paper = setting.variants.get(first["variant"].split(",")[0], Variant()).paper
    cells += list(PACGAN_TABLE1.get((first["data"], paper), ("-", "-", "-")))
    cells.append(f"{statistics.fmean(r['time']['cpu_s'] for r in rows):.0f}")
    return "| " + " | ".join(cells) + " |"


def trajectory_rows(rows: list[dict]) -> list[str]:
    """The raw G's metrics at each scored batch, mean +- s.e. over the runs that reached it."""
    by_batch = defaultdict(list)
    for r in rows:
        for point in r["trajectory"]:
            by_batch[point["batches"]].append(point)
    first = rows[0]
    out = []
    for batches in sorted(by_batch):
        points = by_batch[batches]
        cells = [first["setting"], first["data"], first["variant"], str(len(points)), f"{batches:,}"]
        cells += [mean_se([p[key] for p in points], digits) for key, digits in zip(METRICS, DIGITS)]
        out.append("| " + " | ".join(cells) + " |")
    return out


def print_tables(runs: list[dict]) -> None:
    """The table of ``runs`` grouped by (setting, data, variant, batches), then the trajectories."""
    groups = defaultdict(list)
    for r in runs:
        groups[(r["setting"], r["data"], r["variant"], r["time"]["batches"])].append(r)
    print(HEADER)
    print("|" + "---|" * HEADER.count(" | ") + "---|")
    for rows in groups.values():
        print(table_row(rows))
    lines = [line for rows in groups.values() for line in trajectory_rows(rows)]
    if lines:
        print("\n| setting | data | variant | seeds | after batches | modes, raw G | HQ %, raw G | reverse KL, raw G |")
        print("|---|---|---|---|---|---|---|---|")
        print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=list(SETTINGS), default="project")
    parser.add_argument("--data", nargs="+", choices=["ring", "grid"], default=["ring", "grid"])
    parser.add_argument("--variants", nargs="+", default=None, help="the setting's variants (default: all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first_seed", type=int, default=0, help="seeds run from here (to split the work)")
    parser.add_argument("--max_batches", type=int, default=None, help="every run's training length in batches")
    parser.add_argument("--raw_scale", action="store_true", help="serve the data as it is (standardize: false)")
    parser.add_argument("--score_every", type=int, default=None, help="also score the raw G every N batches")
    parser.add_argument("--out", type=Path, default=None, help="append each run to this file as a JSON line")
    parser.add_argument("--tables", type=Path, nargs="+", default=None, help="print the tables of saved runs and exit")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch threads per run (1: CPU time is one core's work; 2: wall time on 2 cores)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.tables:
        print_tables([json.loads(line) for path in args.tables for line in path.read_text().splitlines() if line])
        return
    variants = args.variants or list(SETTINGS[args.setting].variants)
    unknown = set(variants) - set(SETTINGS[args.setting].variants)
    if unknown:
        parser.error(f"--setting {args.setting} has no variant {sorted(unknown)}; it has {list(SETTINGS[args.setting].variants)}")
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # our argv is not the CLI's
    runs = []
    for data in args.data:
        for variant in variants:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                result = run(args.setting, data, variant, seed, args.max_batches, args.raw_scale, args.score_every)
                runs.append(result)
                if args.out:
                    with args.out.open("a") as f:
                        f.write(json.dumps(result) + "\n")
    print_tables(runs)


if __name__ == "__main__":
    main()
