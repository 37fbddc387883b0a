"""The GPU check, prepared to run in one go on a GPU (not run yet; its stage limits add up to 9.5 minutes).

Stages, each a subprocess with its own time limit (a stage that fails or times out is reported
and the next one runs; the limits add up to 9.5 minutes, the expected total is about 6):

1. ``benchmarks/step_overhead.py --device cuda`` on DCGAN 64 px: fp32, bf16-mixed,
   bf16-mixed + torch.compile, bf16-mixed + channels_last (raw PyTorch loop vs Lightning).
2. Two minutes (``max_time``) of ``configs/digits_dcgan.yaml`` on the GPU in bf16-mixed.
3. ``gan-lightning evaluate`` of that run's last.ckpt with Inception FID, from a weights file made
   here with *random* weights (torch-fidelity's FeatureExtractorInceptionV3 layout; no download):
   it measures the network's speed, not real FID values.
4. SyncBatchNorm on one device: the same config under configs/trainer/ddp.yaml
   (SeparateDDPStrategy, NCCL, one process) with ``sync_batchnorm: true``, 45 seconds.

It prints one markdown table (device name, date, each stage's numbers) and writes it, with every
stage's log, to ``--out``.

    python benchmarks/gpu_check.py                         # on a machine with a GPU
    python benchmarks/gpu_check.py --device cpu --quick    # the same stages, tiny, on a CPU (~3 min)

Without a visible GPU the default run stops at once with an error that says so.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "configs" / "digits_dcgan.yaml"
DDP_CONFIG = ROOT / "configs" / "trainer" / "ddp.yaml"


def make_random_inception(path: Path) -> Path:
    """Save torch-fidelity's Inception-v3 (the FID network torchmetrics uses) with random weights,
    in the file layout ``inception_weights_path`` takes, without downloading the real ones."""
    import torch
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    torch.manual_seed(0)
    with mock.patch.object(fe, "load_state_dict_from_url", return_value={}), mock.patch.object(
        fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None
    ):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(net.state_dict(), path)
    return path


def run(name: str, cmd: list[str], out: Path, timeout: float) -> tuple[bool, float, str]:
    """Run one stage; (ok, seconds, combined output). The output also goes to ``out/name.log``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore", "WANDB_MODE": "offline"}
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        text, ok = done.stdout + done.stderr, done.returncode == 0
        if not ok:
            text += f"\n[exit code {done.returncode}]"
    except subprocess.TimeoutExpired as err:  # keep what it printed: step_overhead prints each row as it goes
        text = "".join(x.decode() if isinstance(x, bytes) else (x or "") for x in (err.stdout, err.stderr))
        text += f"\n[timed out after {timeout:.0f} s]"
        ok = False
    seconds = time.perf_counter() - start
    (out / f"{name}.log").write_text(" ".join(cmd) + "\n\n" + text)
    print(f"[{name}] {'ok' if ok else 'FAILED'} in {seconds:.0f} s (log: {out / f'{name}.log'})", flush=True)
    return ok, seconds, text


def last_lines(text: str, n: int = 3) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-n:])[-400:]


def fit_stats(run_dir: Path) -> str:
    """Batches, epochs and training batches per second of a finished `gan-lightning fit`, from its
    last checkpoint (the training time is that of the Timer callback ``max_time`` adds, if any)."""
    import torch

    ckpts = sorted(run_dir.rglob("last.ckpt"))
    if not ckpts:
        return "no last.ckpt"
    ckpt = torch.load(ckpts[-1], map_location="cpu", weights_only=False)
    batches = ckpt["global_step"]  # counts batches (gan_lightning.batch_count), not D and G steps
    text = f"{batches} batches, {ckpt['epoch'] + 1} epochs"
    timer = next((v for k, v in ckpt.get("callbacks", {}).items() if k.startswith("Timer")), None)
    train_s = (timer or {}).get("time_elapsed", {}).get("train")
    if train_s:
        text += f", {batches / train_s:.1f} batches/s in training ({train_s:.0f} s)"
    return text


def fit_cmd(py: str, run_dir: Path, accelerator: str, limit: list[str], *extra: str) -> list[str]:
    """`gan-lightning fit` of the digits config on ``accelerator`` in bf16-mixed, into ``run_dir``."""
    return [py, "-m", "gan_lightning.cli", "fit", "--config", str(CONFIG), *extra,
            "--trainer.accelerator", accelerator, "--trainer.precision", "bf16-mixed",
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(run_dir),
            "--trainer.logger.init_args.save_dir", str(run_dir), *limit]


def max_time(seconds: int) -> list[str]:
    """Trainer args for a run of ``seconds`` (max_time; max_epochs stays the config's)."""
    return ["--trainer.max_time", f"00:00:{seconds // 60:02d}:{seconds % 60:02d}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--quick", action="store_true", help="tiny settings (a few steps per stage): checks the script")
    parser.add_argument("--out", default="runs/gpu_check", help="folder for the table, logs and runs")
    parser.add_argument("--fit_seconds", type=int, default=120, help="max_time of the digits run")
    parser.add_argument("--eval_samples", type=int, default=5000, help="generated samples for Inception FID")
    args = parser.parse_args()

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "gpu_check: error: no CUDA GPU is visible (torch.cuda.is_available() is False; "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}, torch {torch.__version__}, "
            f"CUDA build {torch.version.cuda}). Run it on a machine with a GPU, or check the script itself "
            "with: python benchmarks/gpu_check.py --device cpu --quick",
            file=sys.stderr,
        )
        return 2
    out = (ROOT / args.out).resolve() if not Path(args.out).is_absolute() else Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    accelerator = "gpu" if args.device == "cuda" else "cpu"
    quick = args.quick
    rows: list[tuple[str, str, str, str, str]] = []  # stage, setting, result, seconds, status
    overall = time.perf_counter()

    # 1. step overhead, DCGAN 64
    variants = ["fp32", "bf16", "bf16-channels_last"] + ([] if quick else ["bf16-compile"])
    steps = ["--steps", "2", "--warmup", "1", "--repeats", "1"] if quick else ["--steps", "100", "--warmup", "20", "--repeats", "1"]
    cmd = [py, "benchmarks/step_overhead.py", "--device", args.device, "--cases", "dcgan64", "--variants", *variants, *steps]
    ok, sec, text = run("step_overhead", cmd, out, timeout=200 if not quick else 240)
    table_lines = [line for line in text.splitlines() if line.startswith("dcgan64")]
    for line in table_lines:
        parts = line.split()
        if len(parts) >= 11 and parts[1] in variants:
            rows.append(("step_overhead dcgan64", parts[1], f"raw {float(parts[2]) * 1e3:.2f} ms/it, Lightning "
                         f"{float(parts[3]) * 1e3:.2f} ms/it (x{parts[4]}), Lightning {parts[7]} img/s, memory x{parts[10]}",
                         "", "ok"))
        elif "images per second" in line:
            rows.append(("step_overhead dcgan64", "bf16+compile / raw fp32", line.split("=")[-1].strip() + "x img/s", "", "ok"))
    rows.append(("step_overhead dcgan64", " ".join(variants), "" if ok else last_lines(text), f"{sec:.0f}", "ok" if ok else "FAILED"))

    # 2. the default experiment on the device, bf16
    fit_dir = out / "digits_bf16"
    limit = ["--trainer.max_steps", "20"] if quick else max_time(args.fit_seconds)
    ok, sec, text = run("digits_bf16", fit_cmd(py, fit_dir, accelerator, limit), out, timeout=args.fit_seconds + 60)
    rows.append(("digits_dcgan.yaml bf16-mixed", " ".join(limit[-2:]).replace("--trainer.", ""),
                 fit_stats(fit_dir) if ok else last_lines(text), f"{sec:.0f}", "ok" if ok else "FAILED"))

    # 3. evaluate with Inception FID (random weights: speed only)
    ckpts = sorted(fit_dir.rglob("last.ckpt"))
    weights = make_random_inception(out / "inception_random_weights.pth")
    n = 32 if quick else args.eval_samples
    if ckpts:
        cmd = [py, "-m", "gan_lightning.cli", "evaluate", "--ckpt_path", str(ckpts[-1]), "--extractor", "inception",
               "--inception_weights_path", str(weights), "--num_samples", str(n), "--metrics", "fid",
               "--device", args.device, "--cache_dir", str(out / "fid_cache"), "--batch_size", "16" if quick else "500"]
        ok, sec, text = run("evaluate_inception", cmd, out, timeout=100 if not quick else 240)
        found = [line for line in text.splitlines() if line.startswith("{")]
        result = (f"{n} fake + {json.loads(found[-1]).get('num_real')} real images through Inception: "
                  f"{2 * n / sec:.0f} img/s over the whole command") if ok and found else last_lines(text)
    else:
        ok, sec, result = False, 0.0, "no checkpoint from stage 2"
    rows.append(("evaluate, Inception FID (random weights)", f"num_samples {n}", result, f"{sec:.0f}", "ok" if ok else "FAILED"))

    # 4. SyncBatchNorm on one device, through SeparateDDPStrategy
    sync_dir = out / "digits_syncbn"
    sync = args.device == "cuda"  # SyncBatchNorm refuses CPU tensors: the CPU check runs the same path without it
    limit = ["--trainer.max_steps", "20"] if quick else max_time(45)
    cmd = fit_cmd(py, sync_dir, accelerator, limit, "--config", str(DDP_CONFIG), "--trainer.devices", "1",
                  "--trainer.sync_batchnorm", str(sync).lower())
    ok, sec, text = run("syncbn_one_device", cmd, out, timeout=90 if not quick else 200)
    result = fit_stats(sync_dir) if ok else last_lines(text)
    if ok and not sync:
        result += " (SyncBatchNorm needs a GPU: this CPU run checks the strategy path without it)"
    rows.append(("SyncBatchNorm, 1 device, SeparateDDPStrategy", " ".join(limit[-2:]).replace("--trainer.", ""),
                 result, f"{sec:.0f}", "ok" if ok else "FAILED"))

    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"GPU check on **{device_name}**, {today}, torch {torch.__version__}"
        f"{' (quick: tiny settings, not numbers to quote)' if quick else ''}; total {time.perf_counter() - overall:.0f} s",
        "",
        "| stage | setting | result | s | status |",
        "|---|---|---|---:|---|",
        *(f"| {' | '.join(cell.replace('|', '/') for cell in row)} |" for row in rows),
    ]
    table = "\n".join(lines)
    print("\n" + table)
    (out / "gpu_check.md").write_text(table + "\n")
    return 0 if all(row[4] == "ok" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
