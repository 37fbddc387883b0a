"""pytorch/examples' own dcgan/main.py on the shipped digits, scored as benchmarks/seeds.py scores ours.

The seeds' 64 px DCGAN is that script. To tell this template's training apart from the recipe
and the budget, this runs the script itself (a checkout of https://github.com/pytorch/examples,
its file unchanged) on the shipped train digits and scores its last generator with the project's
protocol: 5,000 samples against ``val500`` and ``test1k``, the rarest class, a grid.

The 3,500 train digits are written in torchvision's MNIST layout, so main.py reads them with its
own ``--dataset mnist`` branch (one channel, Resize to 64, Normalize(0.5, 0.5): what
``configs/data/digits64.yaml`` serves, up to torchvision's PIL resize against ours). Only data
and length are set on its command line, plus the tutorial's batch of 128 (main.py's default is
64) and ``--workers 0`` (one process per run). main.py counts epochs (``--niter``) and keeps the
last, partial batch, as digits64.yaml does: 20 epochs are 20 x 28 = 560 batches on both sides.
The project's side of the table is

    python benchmarks/seeds.py configs/dcgan_celeba.yaml --config configs/data/digits64.yaml \\
        --seeds 3 --threads 1 --score_test

and this side

    git clone https://github.com/pytorch/examples ~/examples
    python benchmarks/examples_dcgan.py ~/examples/dcgan/main.py --niter 20 --seeds 3 --threads 1
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from seeds import print_table, score  # noqa: E402

from gan_lightning.callbacks.samples import SampleGrid  # noqa: E402
from gan_lightning.cli import cli_main  # noqa: E402
from gan_lightning.data.digits import load_digits_split  # noqa: E402
from gan_lightning.visualize import save_png  # noqa: E402

ROOT = Path(__file__).parents[1]
BATCH_SIZE = 128  # the tutorial's (main.py's default is 64)
OUR_CONFIGS = [str(ROOT / "configs" / "dcgan_celeba.yaml"), str(ROOT / "configs" / "data" / "digits64.yaml")]


def write_mnist_layout(root: Path) -> int:
    """The shipped train digits as torchvision's MNIST training files under ``root/MNIST/raw``
    (the test digits as its t10k files, which main.py does not read). Returns the train count."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    counts = {}
    for prefix, split in (("train", "train"), ("t10k", "test")):
        images, labels = load_digits_split(split, 28)
        pixels = ((images[:, 0] + 1) * 127.5).round().to(torch.uint8).numpy()  # exactly the stored bytes
        header = np.array([2051, len(pixels), 28, 28], dtype=">i4").tobytes()
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + pixels.tobytes())
        label_bytes = labels.numpy().astype(np.uint8).tobytes()
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(np.array([2049, len(labels)], dtype=">i4").tobytes() + label_bytes)
        counts[split] = len(labels)
    return counts["train"]


def run_examples(main_py: Path, data: Path, out: Path, niter: int, seed: int, threads: int) -> tuple[Path, float, float, str]:
    """main.py for ``niter`` epochs; returns its last netG file, the run's CPU and wall seconds and
    main.py's last progress line (its losses and D outputs: a run whose D won shows it there)."""
    cmd = [sys.executable, str(main_py), "--dataset", "mnist", "--dataroot", str(data), "--imageSize", "64",
           "--batchSize", str(BATCH_SIZE), "--niter", str(niter), "--manualSeed", str(seed), "--workers", "0", "--outf", str(out)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cpu, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    with open(out / "main.log", "w") as log:
        subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, cwd=out)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime)
    last_step = [line for line in (out / "main.log").read_text().splitlines() if "Loss_D" in line][-1]
    return out / f"netG_epoch_{niter - 1}.pth", cpu_s, time.perf_counter() - wall, last_step


def score_examples_generator(net_g: Path, seed: int, args: argparse.Namespace) -> dict[str, float]:
    """Load main.py's G into the project's DCGANGenerator of dcgan_celeba.yaml (the same layers,
    the same parameter names) and score it as seeds.py scores the project's final G."""
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # our argv is not the CLI's
    no_outputs = ["--trainer.logger", "false", "--trainer.callbacks", "[]", "--trainer.enable_checkpointing", "false"]
    cli = cli_main([arg for config in OUR_CONFIGS for arg in ("--config", config)] + no_outputs, run=False)
    cli.model.netG.load_state_dict(torch.load(net_g, map_location="cpu", weights_only=True))
    if args.grids:
        save_png(SampleGrid().draw(cli.model), Path(args.grids) / f"examples_seed{seed}.png")
    return score(cli.model, cli.datamodule, seed, args)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("main_py", type=Path, help="pytorch/examples' dcgan/main.py")
    parser.add_argument("--niter", type=int, default=20, help="main.py's epochs (28 batches of 128 each here)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (main.py's --manualSeed)")
    parser.add_argument("--first_seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of main.py and of the scoring")
    parser.add_argument("--num_samples", type=int, default=5000, help="generated images per evaluation")
    parser.add_argument("--cache_dir", default="~/.cache/gan_lightning", help="where real features are cached")
    parser.add_argument("--grids", help="a folder for each run's grid of G(fixed noise) (examples_seedN.png)")
    parser.add_argument("--out", default="runs/examples_dcgan.json", help="every run's numbers, as JSON")
    args = parser.parse_args(argv)
    if not args.main_py.is_file():
        parser.error(f"{args.main_py} is not a file: pass the path of dcgan/main.py in a checkout of pytorch/examples.")
    args.extractor, args.inception_weights_path, args.score_test = "digits", None, True  # what score() reads
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        n_train = write_mnist_layout(data)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            out = Path(tmp) / f"seed{seed}"
            out.mkdir()
            net_g, cpu_s, wall_s, last_step = run_examples(args.main_py, data, out, args.niter, seed, args.threads)
            rows.append({"seed": seed, **score_examples_generator(net_g, seed, args), "cpu_s": cpu_s, "wall_s": wall_s,
                         "main_py_last_step": last_step})
    batches = args.niter * -(-n_train // BATCH_SIZE)
    print(f"pytorch/examples dcgan/main.py, {args.niter} epochs ({batches} batches of {BATCH_SIZE}, the last of each epoch partial), "
          f"{args.seeds} seeds, {args.threads} threads")
    print_table(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"main_py": str(args.main_py), "niter": args.niter, "batches": batches, "threads": args.threads, "runs": rows}
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    main()
