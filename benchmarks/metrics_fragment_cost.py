"""What configs/callbacks/metrics.yaml costs on the default experiment: its whole fit timed with and
without the fragment, runs interleaved, each in a fresh process, plus the seconds spent inside the
evaluations and best-FID checkpoints of each run with it.

    python benchmarks/metrics_fragment_cost.py                 # 3 pairs, 4,650 batches each
    python benchmarks/metrics_fragment_cost.py --repeats 1 --max_steps 930 --num_samples 1000

Each run is `gan-lightning fit --config configs/digits_dcgan.yaml [--config configs/callbacks/metrics.yaml]`
as a user runs it (checkpoints, sample grids, CSV logger into a temporary folder; no progress
bar), with the real features extracted afresh (an empty feature cache). Other processes on the
machine slow both kinds of run: compare the ratios, and read the load averages printed beside them.
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

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "digits_dcgan.yaml"
FRAGMENT = ROOT / "configs" / "callbacks" / "metrics.yaml"


def one_run(with_fragment: bool, max_steps: int | None, num_samples: int | None) -> dict:
    """One fit in this process: wall and CPU seconds, and the seconds inside the fragment's callbacks."""
    from gan_lightning.callbacks.best_metric import BestMetricCheckpoint
    from gan_lightning.callbacks.metrics import MetricsCallback
    from gan_lightning.cli import cli_main

    with tempfile.TemporaryDirectory() as tmp:
        args = ["--config", str(CONFIG), "--trainer.default_root_dir", tmp, "--trainer.logger.init_args.save_dir", tmp,
                "--trainer.enable_progress_bar", "false"]  # fmt: skip
        if max_steps is not None:
            args += ["--trainer.max_steps", str(max_steps)]
        if with_fragment:
            args += ["--config", str(FRAGMENT), "--trainer.callbacks.cache_dir", str(Path(tmp) / "features")]
            if num_samples is not None:
                args += ["--trainer.callbacks.num_samples", str(num_samples)]
        cli = cli_main(args, run=False)
        inside = {"evaluate": 0.0, "checkpoint": 0.0}
        for cb in cli.trainer.callbacks:  # time what the fragment adds, from inside the run
            for cls, method, key in ((MetricsCallback, "evaluate", "evaluate"),
                                     (BestMetricCheckpoint, "save_if_just_evaluated", "checkpoint")):  # fmt: skip
                if isinstance(cb, cls):
                    setattr(cb, method, timed(getattr(cb, method), inside, key))
        load_before = os.getloadavg()
        wall, cpu = time.perf_counter(), time.process_time()
        cli.trainer.fit(cli.model, cli.datamodule)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        evaluations = sum(len(cb.history) for cb in cli.trainer.callbacks if isinstance(cb, MetricsCallback))
    return {"fragment": with_fragment, "batches": cli.trainer.global_step, "wall_s": wall, "cpu_s": cpu,
            "evaluations": evaluations, "evaluate_s": inside["evaluate"], "checkpoint_s": inside["checkpoint"],
            "load_before": load_before, "load_after": os.getloadavg()}  # fmt: skip


def timed(fn, totals: dict, key: str):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs (without, with), interleaved")
    parser.add_argument("--max_steps", type=int, help="default: the experiment's 4,650 batches")
    parser.add_argument("--num_samples", type=int, help="samples per evaluation (default: the fragment's 5,000)")
    parser.add_argument("--one", choices=["without", "with"], help=argparse.SUPPRESS)  # a single run, for the driver
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one == "with", args.max_steps, args.num_samples)))
        return
    runs = []
    for i in range(args.repeats):
        for kind in ("without", "with"):
            cmd = [sys.executable, __file__, "--one", kind]
            for name in ("max_steps", "num_samples"):
                cmd += [] if getattr(args, name) is None else [f"--{name}", str(getattr(args, name))]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            r = runs[-1]
            print(f"pair {i} {kind:7s}: {r['batches']} batches, wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, "
                  f"{r['evaluations']} evaluations {r['evaluate_s']:.3f} s + best-FID checkpoints {r['checkpoint_s']:.3f} s; "
                  f"load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}", flush=True)  # fmt: skip
    pairs = list(zip(runs[0::2], runs[1::2]))
    extra = [w["wall_s"] / wo["wall_s"] - 1 for wo, w in pairs]
    inside = [(w["evaluate_s"] + w["checkpoint_s"]) / (w["wall_s"] - w["evaluate_s"] - w["checkpoint_s"]) for _, w in pairs]
    print(f"with / without - 1 (wall), per pair: {', '.join(f'{x:+.1%}' for x in extra)}; median {statistics.median(extra):+.1%}")
    print(f"fragment's own seconds / the rest of the run, per run with it: {', '.join(f'{x:.1%}' for x in inside)}; "
          f"median {statistics.median(inside):.1%}")
    print(json.dumps({"runs": runs}))


if __name__ == "__main__":
    main()
