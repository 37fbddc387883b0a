"""Any config over several training seeds: mean ± standard error of the data's metrics.

Each run is ``gan-lightning fit --config CONFIG [overrides] --seed_everything SEED`` through the
project's LightningCLI, without loggers, checkpoints or the config's callbacks (diagnostics are
not part of the method), in a temporary folder. The data stays fixed across seeds (pass e.g.
``--data.init_args.seed`` yourself to vary it too). The final (EMA) generator is then scored with
the metrics its data supports:

- images: the evaluation protocol of docs/metrics.md (FID, KID, precision, recall, density,
  coverage, memorisation against the held-out split; ``--num_samples`` generated samples); the
  shipped digits' held-out split is ``val`` (choosing settings) unless ``--data.init_args.reference
  test`` is given, and ``--score_test`` scores the final G against ``test`` as well;
  for digits also the share of samples the shipped classifier puts in the rarest class
  (``min_class_percent``) and the number of classes under 5%%, and, for a conditional GAN,
  the per-class accuracy (worst class and mean: samples asked for class K classified as K);
- Stacked MNIST (``num_triplets``): modes covered and KL to uniform of the digit triplets
  (docs/stacked_digits.md; the data's ``num_reference`` samples, 25,600 in Table 3's configs and
  26,000 in Table 2's, unless ``--num_samples``), and, once, the same two
  numbers for real stacked digits of the reference split at that count (the metric's floor);
  with ``--grids`` each run's 10 x 100 triplet histogram (seedN_histogram.png);
- 2-D mixtures with ``modes``/``std`` (ring, grid): PacGAN's modes covered, high-quality %%
  and reverse KL on 2,500 points, as benchmarks/modes2d.py;
- the 2-D Gaussian (``true_mean``/``true_covariance``): |mean - b| and |cov - AᵀA| / |AᵀA| on
  5,000 points, as notebooks/01.

With ``--track_every N`` an image run is also scored (FID only) every N batches while it trains,
and the table adds the best FID seen, the batch it was seen at, and the final FID over the best
(does the run end at its best, or train past it?).

It prints one row per metric (mean ± standard error over seeds) plus each run's training CPU
(process) seconds and wall seconds, and writes every run's numbers to ``--out`` (JSON).

    python benchmarks/seeds.py configs/digits_dcgan.yaml --seeds 3                  # one after another, all cores
    python benchmarks/seeds.py configs/ring8.yaml --seeds 4 --parallel 2 --threads 1  # 2 runs at once, 1 thread each
    python benchmarks/seeds.py configs/digits_dcgan.yaml --seeds 2 --trainer.max_steps 40 --num_samples 1000
"""

import argparse
import json
import math
import statistics
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from gan_lightning.callbacks.metrics import MetricsCallback
from gan_lightning.callbacks.samples import SampleGrid
from gan_lightning.cli import cli_main
from gan_lightning.metrics.class_accuracy import class_accuracy
from gan_lightning.metrics.classifier import class_histogram, load_digit_classifier
from gan_lightning.metrics.evaluator import GANEvaluator, dataset_key, eval_data
from gan_lightning.metrics.modes import mode_stats
from gan_lightning.metrics.protocol import EvalProtocol
from gan_lightning.metrics.stacked import NUM_SAMPLES, classify_triplets, generated_counts, histogram_image
from gan_lightning.metrics.stacked import stacked_stats, triplet_counts
from gan_lightning.module import GAN
from gan_lightning.visualize import save_png


def gaussian_errors(model: GAN, datamodule: object, seed: int, n: int = 5000) -> dict[str, float]:
    """|mean - b| and the relative Frobenius error of the covariance, as in notebooks/01."""
    x = model.sample(n, torch.Generator().manual_seed(seed)).double().cpu()
    true_cov = datamodule.true_covariance.double()
    return {
        "mean_error": float(torch.linalg.norm(x.mean(0) - datamodule.true_mean.double())),
        "cov_error": float(torch.linalg.norm(torch.cov(x.T) - true_cov) / torch.linalg.norm(true_cov)),
    }


def digit_class_stats(model: GAN, seed: int, n: int) -> dict[str, float]:
    """How evenly an (unconditional or conditional) GAN makes the ten digits, by the shipped classifier."""
    classifier = load_digit_classifier()
    shares = class_histogram(classifier.predict_proba(model.sample(n, torch.Generator().manual_seed(seed)).cpu()))
    stats = {"min_class_percent": 100 * float(shares.min()), "classes_under_5pct": float((shares < 0.05).sum()),
             "class_percent": [round(100 * float(s), 2) for s in shares]}  # digits 0-9; in the JSON, not the table
    if model.num_classes is not None:
        accuracy = class_accuracy(model, classifier, samples_per_class=n // model.num_classes, seed=seed)
        stats |= {"class_accuracy_min": float(accuracy.min()), "class_accuracy_mean": float(accuracy.mean())}
    return stats


def score(model: GAN, datamodule: object, seed: int, args: argparse.Namespace) -> dict[str, float]:
    """The metrics the datamodule's data supports (see the module docstring)."""
    shape = tuple(datamodule.sample_shape)
    if getattr(datamodule, "num_triplets", None):
        num_samples = args.num_samples or getattr(datamodule, "num_reference", NUM_SAMPLES)  # Table 2: 26,000
        counts = generated_counts(model, load_digit_classifier(), num_samples, seed)
        if args.grids:
            save_png(histogram_image(counts), Path(args.grids) / f"seed{seed}_histogram.png")
        stats = stacked_stats(counts)
        return {"stacked_modes": stats.modes, "stacked_kl": stats.kl}
    if len(shape) == 3:
        extractor = args.extractor or ("digits" if shape[0] == 1 else "inception")
        protocol = EvalProtocol(extractor, args.num_samples or 5000, inception_weights_path=args.inception_weights_path)
        evaluator = GANEvaluator(protocol, cache_dir=args.cache_dir)
        metrics = evaluator.evaluate(model, eval_data(datamodule))
        if args.score_test and getattr(datamodule, "reference", "test") != "test":  # the reported numbers too
            datamodule.reference = "test"
            metrics |= evaluator.evaluate(model, eval_data(datamodule))
        if extractor == "digits":
            metrics |= digit_class_stats(model, seed, args.num_samples or 5000)
        return metrics
    if hasattr(datamodule, "modes") and hasattr(datamodule, "std"):
        samples = model.sample(2500, torch.Generator().manual_seed(seed)).flatten(1)
        stats = mode_stats(samples, datamodule.modes, datamodule.std)
        return {"modes_covered": stats.modes_covered, "hq_percent": 100 * stats.hq_fraction, "reverse_kl": stats.reverse_kl}
    if hasattr(datamodule, "true_mean") and hasattr(datamodule, "true_covariance"):
        return gaussian_errors(model, datamodule, seed)
    raise ValueError(
        f"No metrics for {type(datamodule).__name__} with samples of shape {shape}: seeds.py scores images, "
        "2-D mixtures with `modes` and `std`, and data with `true_mean` and `true_covariance`."
    )


def run(config: str, overrides: list[str], seed: int, args: argparse.Namespace) -> dict[str, float]:
    """Train one seed and score it; returns the metrics and the training CPU and wall seconds."""
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # our argv is not the CLI's
    callbacks = []  # the config's diagnostics are not part of the method; --track_every adds an FID tracker
    if args.track_every:
        callbacks.append({"class_path": "gan_lightning.callbacks.metrics.MetricsCallback", "init_args": {
            "metrics": ["fid"], "every_n_epochs": None, "every_n_batches": args.track_every,
            "num_samples": args.num_samples or 5000, "cache_dir": args.cache_dir}})  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        cli_args = ["fit", "--config", config, *overrides, "--seed_everything", str(seed),
                    "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
                    "--trainer.callbacks", json.dumps(callbacks),
                    "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", tmp]
        cpu, wall = time.process_time(), time.perf_counter()
        cli = cli_main(cli_args)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall  # includes the tracking's FIDs
    if args.grids:  # the final G(fixed_noise), as the README's picture
        save_png(SampleGrid().draw(cli.model), Path(args.grids) / f"seed{seed}.png")  # a conditional GAN's: a class a row
    start = time.perf_counter()
    metrics = score(cli.model, cli.datamodule, seed, args)
    if args.track_every:
        metrics |= fid_curve(cli.trainer.callbacks)
    return {"seed": seed, **metrics, "cpu_s": cpu, "wall_s": wall, "eval_wall_s": time.perf_counter() - start}


def fid_curve(callbacks: list) -> dict[str, float]:
    """Best FID seen while training, its batch, the final FID over the best, and the whole curve
    as [batch, FID] pairs (in the JSON; the printed table skips lists)."""
    (history,) = [c.history for c in callbacks if isinstance(c, MetricsCallback)]
    name = next(k for k in history[-1] if k.startswith("val/fid_"))
    best = min(history, key=lambda h: h[name])
    return {"best_fid_seen": best[name], "best_fid_batch": best["batch"], "final_over_best_fid": history[-1][name] / best[name],
            "fid_curve": [[h["batch"], h[name]] for h in history]}


def real_stacked_stats(config: str, overrides: list[str], num_samples: int | None, cache_dir: str) -> dict[str, float]:
    """Modes and KL of ``num_samples`` (default: the data's ``num_reference``) real stacked digits of the config's reference split: what a
    perfect G would score at that count (the datamodule built as the runs build it, not trained).
    Kept as JSON under ``cache_dir``, like the real features of the image metrics."""
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    cli = cli_main(["--config", config, *overrides, "--trainer.logger", "false", "--trainer.callbacks", "[]",
                    "--trainer.enable_checkpointing", "false"], run=False)  # fmt: skip
    dm = cli.datamodule
    num_samples = num_samples or dm.num_reference
    dm.num_reference = max(dm.num_reference, num_samples)
    cache = Path(cache_dir).expanduser() / f"stacked_real_{dataset_key(dm)}_{dm.reference_split()}_{num_samples}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    images, _ = dm.reference_dataset().all()
    stats = stacked_stats(triplet_counts(classify_triplets(images[:num_samples], load_digit_classifier())))
    real = {"split": dm.reference_split(), "num_samples": num_samples, "stacked_modes": stats.modes, "stacked_kl": stats.kl}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(real) + "\n")
    return real


def print_table(rows: list[dict]) -> None:
    """One markdown row per numeric metric: its mean ± standard error over the runs."""
    print("| metric | mean ± s.e. |\n|---|---|")
    for key in rows[0]:
        if key != "seed" and isinstance(rows[0][key], (int, float)):
            print(f"| {key} | {mean_se([r[key] for r in rows])} |")


def mean_se(values: list[float], digits: int | None = None) -> str:
    """Mean ± standard error over runs (the mean alone for one run, "-" for none): ``digits``
    decimals for both, else 4 significant digits for the mean and 2 for the error."""
    if not values:
        return "-"
    mean = statistics.fmean(values)
    mean_text = f"{mean:.4g}" if digits is None else f"{mean:.{digits}f}"
    if len(values) < 2:
        return mean_text
    se = statistics.stdev(values) / math.sqrt(len(values))
    return f"{mean_text} ± {se:.2g}" if digits is None else f"{mean_text} ± {se:.{digits}f}"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog="Other arguments (--trainer.max_steps 40, ...) go to the config."
    )
    parser.add_argument("config", help="a config of `gan-lightning fit`")
    parser.add_argument("--seeds", type=int, default=3, help="number of training seeds")
    parser.add_argument("--first_seed", type=int, default=0, help="seeds run from here")
    parser.add_argument("--parallel", type=int, default=1, help="runs at once, each in its own process")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: all cores / --parallel)")
    parser.add_argument("--num_samples", type=int, help="generated images per evaluation (5000; Stacked MNIST: the data's num_reference, "
                        f"{NUM_SAMPLES} in Table 3's configs)")
    parser.add_argument("--extractor", choices=["digits", "inception"], help="default: digits for 1 channel")
    parser.add_argument("--inception_weights_path", help="local Inception-v3 weights (no network needed)")
    parser.add_argument("--cache_dir", default="~/.cache/gan_lightning", help="where real features are cached")
    parser.add_argument("--out", default="runs/seeds.json", help="every run's numbers, as JSON")
    parser.add_argument("--track_every", type=int, help="images: also score FID every N batches while training")
    parser.add_argument("--score_test", action="store_true",
                        help="digits: also score the final G against the test split (settings are chosen on val)")
    parser.add_argument("--grids", help="a folder for each run's final grid (seedN.png) or scatter")
    args, overrides = parser.parse_known_args(argv)
    if args.seeds < 1 or args.parallel < 1:
        parser.error(f"--seeds and --parallel must be >= 1, got {args.seeds} and {args.parallel}")
    args.threads = args.threads or max(1, torch.get_num_threads() // args.parallel)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    if args.parallel == 1:
        rows = [run(args.config, overrides, seed, args) for seed in seeds]
    else:  # spawn: no forked torch/Lightning state; every worker sets its own thread count
        with ProcessPoolExecutor(args.parallel, mp_context=get_context("spawn")) as pool:
            rows = list(pool.map(run, *zip(*[(args.config, overrides, seed, args) for seed in seeds])))
    print(f"{args.config} {' '.join(overrides)}: {args.seeds} seeds, {args.parallel} at once, {args.threads} threads each")
    print_table(rows)
    summary = {"config": args.config, "overrides": overrides, "threads": args.threads, "parallel": args.parallel, "runs": rows}
    if "stacked_modes" in rows[0]:
        summary["real"] = real = real_stacked_stats(args.config, overrides, args.num_samples, args.cache_dir)
        print(f"real stacked digits ({real['split']} split, {real['num_samples']} images): "
              f"{real['stacked_modes']} modes, KL {real['stacked_kl']:.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    main()
