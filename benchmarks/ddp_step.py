"""Step time of 2-process DDP: G and D in separate wrappers (SeparateDDPStrategy, the default of
configs/trainer/ddp.yaml) against one wrapper with the unused-parameter search
(``ddp_find_unused_parameters_true``, the strategy before it).

Each measurement is a fresh ``Trainer.fit`` on 2 processes (CPU: gloo, 1 thread each; CUDA: NCCL,
one GPU each) started by Lightning's subprocess launcher, which re-runs this script for rank 1.
The strategies are interleaved: each repeat runs one of each, the order alternating between
repeats, so that a change of machine load falls on both. Per case it prints the median wall
seconds per batch on rank 0 after ``--warmup`` batches, the ratio of the medians (separate / one
wrapper), the median of the per-repeat ratios with their range, and the load average before and
after. ``separate_sync_netG`` (optional) is SeparateDDPStrategy with netG's buffers broadcast
before each G forward (DDP's default), to measure what that broadcast costs.

    python benchmarks/ddp_step.py                                   # CPU, 5 repeats, ~6 minutes on 2 cores
    python benchmarks/ddp_step.py --cases digits32 --steps 100 --repeats 7
    python benchmarks/ddp_step.py --strategies separate one_wrapper separate_sync_netG
    python benchmarks/ddp_step.py --accelerator cuda --cases dcgan64 --steps 200   # needs 2 GPUs
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parents[1]))
from benchmarks.step_overhead import CASES, _optimizer, case_setup  # noqa: E402

STRATEGIES = ("separate", "one_wrapper", "separate_sync_netG")


def worker(args: argparse.Namespace) -> None:
    """One 2-process fit; rank 0 writes {"sec": wall seconds per batch} to ``args.out``."""
    from lightning.pytorch import Callback, Trainer, seed_everything

    from gan_lightning.data import TensorDataModule
    from gan_lightning.module import GAN
    from gan_lightning.strategies import SeparateDDPStrategy

    torch.set_num_threads(args.threads)
    seed_everything(0)
    netG, netD, model, data, batch = case_setup(args.case)
    model["optimizer_G"] = _optimizer(model.get("optimizer_G", {}))
    model["optimizer_D"] = _optimizer(model.get("optimizer_D", {}))
    gan = GAN(netG, netD, **model)
    dm = TensorDataModule(batch_size=batch)
    dm.make_data = lambda: data
    times: list[float] = []

    class Timer(Callback):
        def on_train_batch_end(self, trainer: Trainer, *rest: Any) -> None:
            if trainer.fit_loop.total_batch_idx + 1 in (args.warmup, args.warmup + args.steps):
                if args.accelerator == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter())

    strategy = {
        "separate": lambda: SeparateDDPStrategy(),
        "separate_sync_netG": lambda: SeparateDDPStrategy(sync_buffers={"netG": True}),
        "one_wrapper": lambda: "ddp_find_unused_parameters_true",
    }[args.strategy]()
    trainer = Trainer(
        accelerator=args.accelerator, devices=2, strategy=strategy, max_steps=args.warmup + args.steps,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        log_every_n_steps=50, callbacks=[Timer()],
    )
    trainer.fit(gan, dm)
    if trainer.global_rank == 0:
        Path(args.out).write_text(json.dumps({"sec": (times[1] - times[0]) / args.steps}))


def measure(args: argparse.Namespace, case: str, strategy: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--worker", "--case", case, "--strategy", strategy, "--out", str(out)]
        cmd += ["--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads)]
        cmd += ["--accelerator", args.accelerator]
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(Path(__file__).parents[1])}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"{case}/{strategy} failed:\n{done.stderr[-3000:]}")
        return json.loads(out.read_text())["sec"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["digits32", "gaussian2d"], choices=CASES)
    parser.add_argument("--strategies", nargs="+", default=["separate", "one_wrapper"], choices=STRATEGIES,
                        help="arms, interleaved; the ratios are to one_wrapper")
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=None, help="timed batches (default: per case)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed batches first")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each strategy per case, interleaved")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--timeout", type=int, default=600, help="seconds before a hung measurement fails")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", choices=STRATEGIES, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if "one_wrapper" not in args.strategies:
        parser.error("--strategies needs one_wrapper, the baseline of the ratios")
    defaults = {"dcgan64": (3, 1), "digits32": (30, 5), "mlp28": (100, 10), "gaussian2d": (300, 30)}
    others = [s for s in args.strategies if s != "one_wrapper"]
    print(f"{'case':<11}{'arm':<20}{'s/it (median)':>14}{'ratio of medians':>18}{'median ratio [range]':>26}  load avg",
          flush=True)
    for case in args.cases:
        steps, warmup = defaults[case] if args.accelerator == "cpu" else (200, 20)
        run = argparse.Namespace(**{**vars(args), "steps": args.steps or steps, "warmup": args.warmup or warmup})
        res: dict[str, list[float]] = {s: [] for s in args.strategies}
        load_before = os.getloadavg()[0]
        for rep in range(args.repeats):
            for strategy in args.strategies if rep % 2 == 0 else args.strategies[::-1]:
                res[strategy].append(measure(run, case, strategy))
        load = f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}"
        base = res["one_wrapper"]
        print(f"{case:<11}{'one_wrapper':<20}{statistics.median(base):>14.5f}{'':>18}{'':>26}  {load}", flush=True)
        for arm in others:
            pairs = [a / b for a, b in zip(res[arm], base)]
            print(
                f"{case:<11}{arm:<20}{statistics.median(res[arm]):>14.5f}"
                f"{statistics.median(res[arm]) / statistics.median(base):>18.3f}"
                f"{f'{statistics.median(pairs):.3f} [{min(pairs):.3f}, {max(pairs):.3f}]':>26}  {load}",
                flush=True,
            )
        print("  runs (s/it): " + "; ".join(f"{k} " + " ".join(f"{x:.4f}" for x in v) for k, v in res.items()), flush=True)


if __name__ == "__main__":
    main()
