"""Our Stacked MNIST rows beside PacGAN's (Lin et al. 2018, Tables 2 and 3).

Reads the JSON that ``benchmarks/seeds.py`` writes (``--out``) for each row and prints modes and KL
as mean ± standard error over our seeds, each seed's numbers, the batches trained as a fraction of
the paper's budget, and the paper's numbers for the same row (± as printed in its tables). A row is
``LABEL=PATH[,PATH...]`` where LABEL names a paper row (e.g. ``quarter:DCGAN``,
``quarter:PacDCGAN4``, ``half:DCGAN``, ``table2:DCGAN``) or the project's recipe (``quarter:recipe``,
no paper numbers), and several paths (one seeds.py run per seed) are read as one row:

    python benchmarks/stacked_table.py quarter:DCGAN=runs/stacked/quarter_dcgan.json \\
        quarter:PacDCGAN4=runs/stacked/quarter_pack4_s0.json,runs/stacked/quarter_pack4_s1.json
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from seeds import mean_se  # noqa: E402

# (modes, modes ±, KL, KL ±) as PacGAN prints them; None where it prints no spread.
PAPER = {
    "quarter": {  # Table 3, D = 1/4 G (Unrolled GAN's setting), 500,000 batches, 25,600 samples
        "DCGAN": (78.5, 17.6, 5.21, 0.19),
        "PacDCGAN2": (484.5, 33.0, 2.61, 0.22),
        "PacDCGAN3": (601.3, 32.2, 2.00, 0.17),
        "PacDCGAN4": (667.4, 29.0, 1.81, 0.15),
        "Unrolled GAN (10 steps)": (327.2, 74.7, 4.66, 0.46),
    },
    "half": {  # Table 3, D = 1/2 G
        "DCGAN": (487.7, 34.6, 2.24, 0.15),
        "PacDCGAN3": (866.6, 12.1, 0.90, 0.04),
    },
    "table2": {  # Table 2 (VEEGAN's setting), 128,000 images x 50 epochs of batch 64, 26,000 samples
        "DCGAN": (99.0, None, 3.40, None),
        "PacDCGAN2": (1000.0, 0.0, 0.06, 0.003),
        "PacDCGAN4": (1000.0, 0.0, 0.07, 0.005),
    },
}
BUDGET = {"quarter": 500_000, "half": 500_000, "table2": 100_000}  # batches the paper trains
OURS = "recipe"  # configs/stacked/recipe.yaml: a row of ours with no paper row beside it


def paper_cell(value: float, spread: float | None, digits: int) -> str:
    return f"{value:.{digits}f}" if spread is None else f"{value:.{digits}f} ± {spread:.{digits + 1 if spread < 0.01 else digits}f}"


def overrides_steps(overrides: list[str]) -> int | None:
    for i, arg in enumerate(overrides):
        if arg == "--trainer.max_steps":
            return int(overrides[i + 1])
        if arg.startswith("--trainer.max_steps="):
            return int(arg.split("=", 1)[1])
    return None


def row(label: str, path: str) -> str:
    setting, _, method = label.partition(":")
    if setting not in PAPER or (method not in PAPER[setting] and method != OURS):
        known = ", ".join([*(f"{s}:{m}" for s in PAPER for m in PAPER[s]), *(f"{s}:{OURS}" for s in PAPER)])
        raise SystemExit(f"stacked_table: unknown row {label!r}; one of {known}")
    summaries = [json.loads(Path(p).read_text()) for p in path.split(",")]
    runs = [run for summary in summaries for run in summary["runs"]]
    lengths = {overrides_steps(summary["overrides"]) for summary in summaries}
    if len(lengths) > 1:
        raise SystemExit(f"stacked_table: the files of row {label!r} trained different lengths; a row is one setting.")
    (steps,) = lengths
    fraction = f"{steps:,} ({100 * steps / BUDGET[setting]:.2g}%)" if steps else "config's max_steps"
    modes, kls = [r["stacked_modes"] for r in runs], [r["stacked_kl"] for r in runs]
    per_seed = ", ".join(f"{m} / {k:.2f}" for m, k in zip(modes, kls))
    cpu = statistics.fmean(r["cpu_s"] for r in runs)
    if method == OURS:
        paper = "not in the paper | not in the paper"
    else:
        pm, pms, pk, pks = PAPER[setting][method]
        paper = f"{paper_cell(pm, pms, 1)} | {paper_cell(pk, pks, 2)}"
    return (f"| {setting} | {method} | {fraction} | {len(runs)} | {mean_se(modes, 1)} | {mean_se(kls, 2)} | {per_seed} "
            f"| {cpu:.0f} | {paper} |")


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", help="LABEL=PATH[,PATH...]: a paper row (or SETTING:recipe) and the seeds.py JSON(s) of ours")
    args = parser.parse_args(argv)
    lines = [
        "| setting | row | batches (of the paper's) | seeds | modes (ours) | KL (ours) | each seed: modes / KL "
        "| CPU s a run | modes (paper) | KL (paper) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for spec in args.rows:
        label, _, path = spec.partition("=")
        lines.append(row(label, path))
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
