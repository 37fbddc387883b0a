"""Step time of 2-process DDP: G and D in separate wrappers (SeparateDDPStrategy, the default of
configs/trainer/ddp.yaml) against one wrapper with the unused-parameter search
(``ddp_find_unused_parameters_true``, the strategy before it).

Each measurement is a fresh ``Trainer.fit`` on 2 processes (CPU: gloo, 1 thread each; CUDA: NCCL,
one GPU each) started by Lightning's subprocess launcher, which re-runs this script for rank 1;
the strategies alternate which goes first, ``--repeats`` times. The table gives the median wall
seconds per batch on rank 0 after ``--warmup`` batches, the ratio separate / one wrapper, and the
load average (other processes slow both alike: read the ratio).

    python benchmarks/ddp_step.py                                   # CPU, ~2 minutes on 2 cores
    python benchmarks/ddp_step.py --cases digits32 --steps 100 --repeats 5
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

STRATEGIES = ("separate", "one_wrapper")


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

    strategy = SeparateDDPStrategy() if args.strategy == "separate" else "ddp_find_unused_parameters_true"
    trainer = Trainer(
        accelerator=args.accelerator, devices=2, strategy=strategy, max_steps=2 * (args.warmup + args.steps),
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
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=None, help="timed batches (default: per case)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed batches first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--timeout", type=int, default=600, help="seconds before a hung measurement fails")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", choices=STRATEGIES, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    defaults = {"dcgan64": (3, 1), "digits32": (30, 5), "mlp28": (100, 10), "gaussian2d": (300, 30)}
    print(f"{'case':<11}{'separate s/it':>14}{'one wrapper s/it':>18}{'ratio':>7}  load avg", flush=True)
    for case in args.cases:
        steps, warmup = defaults[case] if args.accelerator == "cpu" else (200, 20)
        run = argparse.Namespace(**{**vars(args), "steps": args.steps or steps, "warmup": args.warmup or warmup})
        res: dict[str, list[float]] = {s: [] for s in STRATEGIES}
        for rep in range(args.repeats):
            for strategy in STRATEGIES if rep % 2 == 0 else STRATEGIES[::-1]:
                res[strategy].append(measure(run, case, strategy))
        sec = {k: statistics.median(v) for k, v in res.items()}
        print(
            f"{case:<11}{sec['separate']:>14.5f}{sec['one_wrapper']:>18.5f}"
            f"{sec['separate'] / sec['one_wrapper']:>7.3f}  {os.getloadavg()[0]:.1f}"
            f"  (runs: {', '.join(f'{k} ' + ' '.join(f'{x:.4f}' for x in v) for k, v in res.items())})",
            flush=True,
        )


if __name__ == "__main__":
    main()
