"""Lightning's GAN step against the raw PyTorch seed loop: seconds per iteration and peak memory.

For each case, the raw loop (pytorch/examples dcgan, written minimally below: same networks, init,
optimizers, batch, data and loss, BCE-with-logits on logits) and ``Trainer.fit`` of the real
``GAN`` module run the same number of iterations, each in a fresh subprocess (so that peak RSS is
its own), alternating which goes first, ``--repeats`` times. The table gives median wall seconds
per iteration after ``--warmup`` iterations, the ratio Lightning / raw of wall and of process CPU
time (steadier than wall time on a shared machine), and peak memory (RSS on CPU,
``torch.cuda.max_memory_allocated`` on a GPU). Other processes slow both sides alike; read the
ratios, and the load average printed beside them.

Lightning runs as ``gan-lightning fit`` does: TQDM progress bar refreshed every 20 batches, a
CSVLogger with ``log_every_n_steps: 50``, the module's step values logged on the logger's
batches. Turned off: checkpointing, the SampleGrid callback and the model summary, because the
raw loop writes no files.

    python benchmarks/step_overhead.py                        # CPU, a few minutes on 2 cores
    python benchmarks/step_overhead.py --steps 200 --repeats 5
    python benchmarks/step_overhead.py --device cuda --variants fp32 bf16 bf16-compile bf16-channels_last --steps 200
"""

import argparse
import functools
import importlib
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
import yaml
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

CONFIGS = Path(__file__).parents[1] / "configs"
CASES = ("dcgan64", "digits32", "mlp28", "gaussian2d")
# variant: (precision, torch.compile, channels_last memory format)
VARIANTS = {
    "fp32": ("32-true", False, False),
    "bf16": ("bf16-mixed", False, False),
    "bf16-compile": ("bf16-mixed", True, False),
    "bf16-channels_last": ("bf16-mixed", False, True),
}


def _build(spec: dict) -> nn.Module:
    module, _, name = spec["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**spec.get("init_args", {}))


def case_setup(case: str) -> tuple[nn.Module, nn.Module, dict, Tensor, int]:
    """(netG, netD, the GAN's other config options, the data tensor, batch size) of a case."""
    from gan_lightning.data import GaussianDataModule, load_shipped_digits
    from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator

    if case == "dcgan64":  # pytorch/examples defaults; random images stand in for CelebA
        model = {"weight_init": "dcgan", "optimizer_G": {"init_args": {"lr": 2e-4, "betas": [0.5, 0.999]}}}
        model["optimizer_D"] = model["optimizer_G"]
        data = torch.rand(64 * 40, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
        nets = DCGANGenerator(100, 3, 64, 64), DCGANDiscriminator(3, 64, 64)
        return *nets, model, data, 64
    config = {"digits32": "digits_dcgan", "mlp28": "mnist_mlp", "gaussian2d": "gaussian2d"}[case]
    cfg = yaml.safe_load((CONFIGS / f"{config}.yaml").read_text())
    model = cfg["model"]
    for remedy in ("ema_decay", "r1_weight"):  # the seed loop has neither: both sides run the plain step
        model.pop(remedy, None)
    batch = cfg["data"]["init_args"]["batch_size"]
    if case == "gaussian2d":
        data = GaussianDataModule(**cfg["data"]["init_args"]).make_data()
    else:  # mnist_mlp reads torchvision's MNIST; the shipped digits at 28 px have the same shape
        data = load_shipped_digits(28 if case == "mlp28" else 32)[0]
    netG, netD = (_build(_sized_for(model.pop(name), tuple(data.shape[1:]))) for name in ("netG", "netD"))
    return netG, netD, model, data, batch


def _sized_for(spec: dict, shape: tuple[int, ...]) -> dict:
    """A network spec with its image size / channels (or in/out shape) set from the data's sample
    shape, as ``gan-lightning fit`` sets them (the configs leave them to the data)."""
    from gan_lightning.cli import SHAPE_KEYS

    module, _, name = spec["class_path"].rpartition(".")
    params = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    sized = {key: from_shape(shape) for key, from_shape in SHAPE_KEYS.items() if key in params}
    return {**spec, "init_args": {**spec.get("init_args", {}), **sized}}


def _optimizer(spec: dict) -> Callable:
    return functools.partial(torch.optim.Adam, **spec.get("init_args", {}))


def run_raw(
    case: str, steps: int, warmup: int, device: str, precision: str, compile_: bool, channels_last: bool = False
) -> tuple[float, float]:
    """The seed loop; (wall, CPU) seconds per iteration over the iterations after ``warmup``."""
    from gan_lightning.networks.init import dcgan_init

    netG, netD, model, data, batch = case_setup(case)
    if model.get("weight_init") == "dcgan":
        netG.apply(dcgan_init)
        netD.apply(dcgan_init)
    netG, netD = netG.to(device), netD.to(device)
    if channels_last:
        netG, netD = netG.to(memory_format=torch.channels_last), netD.to(memory_format=torch.channels_last)
    optG = _optimizer(model.get("optimizer_G", {}))(netG.parameters())
    optD = _optimizer(model.get("optimizer_D", {}))(netD.parameters())
    decay = model.get("lr_decay_start", 1.0)
    total = steps + warmup
    schedulers = [
        torch.optim.lr_scheduler.LambdaLR(o, lambda i: min(1.0, max(0.0, (1 - i / total) / (1 - decay))))
        for o in (optG, optD)
        if decay < 1.0
    ]
    if compile_:
        netG.compile()
        netD.compile()
    std = model.get("latent_std", 1.0)
    loader = DataLoader(TensorDataset(data), batch_size=batch, shuffle=True, drop_last=True)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16-mixed")
    it, start, cpu_start = 0, 0.0, 0.0
    while it < total:
        for (real,) in loader:
            real = real.to(device, non_blocking=True)
            if channels_last and real.dim() == 4:  # as the GAN module does
                real = real.contiguous(memory_format=torch.channels_last)
            with autocast:
                fake = netG(torch.randn(real.shape[0], netG.latent_dim, device=device) * std)
                optD.zero_grad(set_to_none=True)
                out_real, out_fake = netD(real).view(-1), netD(fake.detach()).view(-1)
                errD = F.binary_cross_entropy_with_logits(out_real, torch.ones_like(out_real)) + (
                    F.binary_cross_entropy_with_logits(out_fake, torch.zeros_like(out_fake))
                )
            errD.backward()
            optD.step()
            with autocast:
                optG.zero_grad(set_to_none=True)
                out = netD(fake).view(-1)
                errG = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
            errG.backward()
            optG.step()
            for s in schedulers:
                s.step()
            it += 1
            if it == warmup:
                _sync(device)
                start, cpu_start = time.perf_counter(), time.process_time()
            if it == total:
                break
    _sync(device)
    return (time.perf_counter() - start) / steps, (time.process_time() - cpu_start) / steps


def run_lightning(
    case: str, steps: int, warmup: int, device: str, precision: str, compile_: bool, channels_last: bool = False
) -> tuple[float, float]:
    """``Trainer.fit`` of the GAN module; (wall, CPU) seconds per iteration after ``warmup``."""
    from lightning.pytorch import Callback, Trainer
    from lightning.pytorch.callbacks import TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger

    from gan_lightning.cli import PROGRESS_BAR_REFRESH
    from gan_lightning.data import TensorDataModule
    from gan_lightning.module import GAN

    netG, netD, model, data, batch = case_setup(case)
    model["optimizer_G"] = _optimizer(model.get("optimizer_G", {}))
    model["optimizer_D"] = _optimizer(model.get("optimizer_D", {}))
    if compile_:
        model["compile"] = True
    if channels_last:
        model["channels_last"] = True
    gan = GAN(netG, netD, **model)
    dm = TensorDataModule(batch_size=batch)
    dm.make_data = lambda: data  # the same in-memory path as the shipped datamodules
    times: list[tuple[float, float]] = []

    class Timer(Callback):
        def on_train_batch_end(self, trainer: Trainer, *args: Any) -> None:
            if trainer.fit_loop.total_batch_idx + 1 in (warmup, warmup + steps):
                _sync(device)
                times.append((time.perf_counter(), time.process_time()))

    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            accelerator=device,
            devices=1,
            precision=precision,
            max_steps=2 * (warmup + steps),  # Lightning counts both optimizers' steps
            logger=CSVLogger(tmp, name=""),
            log_every_n_steps=50,
            callbacks=[Timer(), TQDMProgressBar(refresh_rate=PROGRESS_BAR_REFRESH)],  # as `gan-lightning fit`
            enable_checkpointing=False,
            enable_model_summary=False,
        )
        trainer.fit(gan, dm)
    return (times[1][0] - times[0][0]) / steps, (times[1][1] - times[0][1]) / steps


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def worker(args: argparse.Namespace) -> None:
    """One measurement in this fresh process; prints one JSON line."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    precision, compile_, channels_last = VARIANTS[args.variant]
    run = run_raw if args.impl == "raw" else run_lightning
    sec, cpu = run(args.case, args.steps, args.warmup, args.device, precision, compile_, channels_last)
    if args.device == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"sec": sec, "cpu": cpu, "peak_mb": peak_mb}))


def measure(args: argparse.Namespace, case: str, variant: str, impl: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--case", case, "--variant", variant, "--impl", impl]
    cmd += ["--steps", str(args.steps), "--warmup", str(args.warmup), "--device", args.device]
    cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise RuntimeError(f"{case}/{variant}/{impl} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--variants", nargs="+", default=["fp32"], choices=list(VARIANTS))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=None, help="timed iterations (default: per case)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per run (1: stable timings on a busy machine)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="fp32", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    # Short CPU defaults: DCGAN 64 takes seconds per iteration on 2 cores, the toy a millisecond.
    cpu_steps = {"dcgan64": (4, 1), "digits32": (20, 3), "mlp28": (150, 10), "gaussian2d": (300, 20)}
    if args.device == "cuda":
        print(f"device: {torch.cuda.get_device_name()}")
    head = f"{'case':<11}{'variant':<19}{'raw s/it':>10}{'L s/it':>10}{'ratio':>7}{'cpu ratio':>10}"
    head += f"{'raw img/s':>10}{'L img/s':>9}"
    print(head + f"{'raw MB':>8}{'L MB':>8}{'mem':>6}  load avg", flush=True)
    for case in args.cases:
        steps, warmup = cpu_steps[case] if args.device == "cpu" else (200, 20)
        run_args = argparse.Namespace(**{**vars(args), "steps": args.steps or steps, "warmup": args.warmup or warmup})
        batch = case_setup(case)[4]
        images_per_s: dict[str, dict[str, float]] = {}
        for variant in args.variants:
            res: dict[str, list[dict]] = {"raw": [], "lightning": []}
            for rep in range(args.repeats):  # alternate which goes first
                for impl in ("raw", "lightning") if rep % 2 == 0 else ("lightning", "raw"):
                    res[impl].append(measure(run_args, case, variant, impl))
            sec = {k: statistics.median(r["sec"] for r in v) for k, v in res.items()}
            images_per_s[variant] = {k: batch / v for k, v in sec.items()}
            cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in res.items()}
            mem = {k: statistics.median(r["peak_mb"] for r in v) for k, v in res.items()}
            print(
                f"{case:<11}{variant:<19}{sec['raw']:>10.4f}{sec['lightning']:>10.4f}"
                f"{sec['lightning'] / sec['raw']:>7.3f}{cpu['lightning'] / cpu['raw']:>10.3f}{batch / sec['raw']:>10.0f}{batch / sec['lightning']:>9.0f}"
                f"{mem['raw']:>8.0f}{mem['lightning']:>8.0f}{mem['lightning'] / mem['raw']:>6.3f}"
                f"  {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        if "fp32" in images_per_s and "bf16-compile" in images_per_s:  # the GPU target: >= 2
            speedup = images_per_s["bf16-compile"]["lightning"] / images_per_s["fp32"]["raw"]
            print(f"{case}: Lightning bf16 + compile / raw fp32 images per second = {speedup:.2f}")


if __name__ == "__main__":
    main()
