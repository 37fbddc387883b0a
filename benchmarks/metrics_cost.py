"""The cost of one FID/KID evaluation as a fraction of one training epoch of the default experiment.

Builds the default experiment from configs/digits_dcgan.yaml (32 px DCGAN on the 3,500 train digits
of the shipped 5,000), times one training epoch, then times what ``MetricsCallback`` does at each evaluation:
the first one (real features extracted, then cached) and every later one (fakes only), with the
shipped digit classifier and 5k generated samples against the 1,000 test digits. Both timings run in this process, one after the other,
so compare the printed ratios, not the seconds (other processes on the machine slow both).

    python benchmarks/metrics_cost.py                  # CPU, digits extractor, 5k samples
    python benchmarks/metrics_cost.py --inception_gpu  # also 10k samples through Inception on a GPU

``--inception_gpu`` needs a CUDA device and the Inception-v3 weights (downloaded by torch-fidelity,
or ``--inception_weights_path``). The reference is the 1,000 test digits; the 10k are generated.
"""

import argparse
import tempfile
import time

import torch
from lightning.pytorch.cli import LightningCLI

from gan_lightning.cli import cli_main
from gan_lightning.metrics.evaluator import GANEvaluator, eval_data
from gan_lightning.metrics.protocol import EvalProtocol

CONFIG = "configs/digits_dcgan.yaml"


def train_one_epoch(device: str) -> tuple[LightningCLI, float]:
    """The default experiment as ``gan-lightning fit`` builds it, trained for one epoch, writing
    nothing; returns the CLI (model and data) and the epoch's seconds."""
    cli = cli_main(["--config", CONFIG, "--trainer.max_epochs", "1", "--trainer.logger", "false",
                    "--trainer.callbacks", "[]", "--trainer.enable_checkpointing", "false",
                    "--trainer.enable_progress_bar", "false", "--trainer.accelerator", device], run=False)  # fmt: skip
    start = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    return cli, time.perf_counter() - start


def time_evaluations(cli: LightningCLI, evaluator: GANEvaluator) -> tuple[float, float, dict]:
    """Seconds of the first evaluation (real features extracted) and of a second (cached)."""
    data = eval_data(cli.datamodule)
    times = []
    for _ in range(2):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        values = evaluator.evaluate(cli.model, data)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times[0], times[1], values


def report(label: str, epoch: float, first: float, later: float, values: dict) -> None:
    print(f"{label}: epoch {epoch:.1f} s; first evaluation {first:.3f} s = {first / epoch:.2f} epoch; "
          f"each later one {later:.3f} s = {later / epoch:.2f} epoch; {values}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_samples", type=int, default=5000)
    parser.add_argument("--kid_subsets", type=int, default=100)
    parser.add_argument("--inception_gpu", action="store_true", help="also time 10k Inception samples on a GPU")
    parser.add_argument("--inception_weights_path")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as cache:
        cli, epoch = train_one_epoch("cpu")
        for metrics in (("fid",), ("fid", "kid"), ("fid", "kid", "prdc", "memorisation")):
            protocol = EvalProtocol("digits", args.num_samples, metrics, kid_subsets=args.kid_subsets)
            evaluator = GANEvaluator(protocol, cache_dir=cache)
            report(f"CPU, digits, {args.num_samples} samples, {'+'.join(metrics)}", epoch,
                   *time_evaluations(cli, evaluator))
        if args.inception_gpu:
            if not torch.cuda.is_available():
                parser.error("--inception_gpu needs a CUDA device")
            cli, epoch = train_one_epoch("gpu")
            cli.model.to("cuda")
            protocol = EvalProtocol("inception", 10000, inception_weights_path=args.inception_weights_path)
            evaluator = GANEvaluator(protocol, cache_dir=cache)
            report("GPU, inception, 10k samples, all metrics", epoch, *time_evaluations(cli, evaluator))


if __name__ == "__main__":
    main()
