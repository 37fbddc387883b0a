"""The default experiment (configs/digits_dcgan.yaml) against a plain PyTorch loop.

Both train the same 32 px DCGAN (same networks, init, optimizers, batch and the 4,000 train
digits) for the same number of epochs, one after the other in this process's session; the script prints each
one's wall time and iterations per second and their ratio, and writes both final grids. Other
processes on the machine slow both runs, so compare the ratio, not the absolute numbers.

    python benchmarks/digits_dcgan.py --epochs 60 --out runs/benchmark_digits
"""

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from gan_lightning.callbacks.samples import SampleGrid
from gan_lightning.cli import cli_main
from gan_lightning.data.digits import load_digits_split
from gan_lightning.networks.init import dcgan_init
from gan_lightning.networks import DCGANDiscriminator, DCGANGenerator
from gan_lightning.visualize import image_grid

CONFIG = Path(__file__).parents[1] / "configs" / "digits_dcgan.yaml"


def plain_loop(epochs: int, out: Path, max_seconds: float, seed: int = 0) -> tuple[float, int]:
    """The pytorch/examples dcgan loop on the config's settings, stopped after ``epochs`` or
    ``max_seconds`` (the config's ``max_time``) like the Trainer; returns (seconds, iterations)."""
    cfg = yaml.safe_load(CONFIG.read_text())["model"]
    g_args, d_args = cfg["netG"]["init_args"], cfg["netD"]["init_args"]
    opt_args = cfg["optimizer_G"]["init_args"]
    torch.manual_seed(seed)
    netG, netD = DCGANGenerator(**g_args), DCGANDiscriminator(**d_args)
    netG.apply(dcgan_init)
    netD.apply(dcgan_init)
    optG = torch.optim.Adam(netG.parameters(), lr=opt_args["lr"], betas=tuple(opt_args["betas"]))
    optD = torch.optim.Adam(netD.parameters(), lr=opt_args["lr"], betas=tuple(opt_args["betas"]))
    data = DataLoader(TensorDataset(load_digits_split("train", g_args["image_size"])[0]), batch_size=64, shuffle=True, drop_last=True)
    fixed = torch.randn(64, g_args["latent_dim"], generator=torch.Generator().manual_seed(1234))
    iterations, start = 0, time.perf_counter()
    for _ in range(epochs):
        if time.perf_counter() - start > max_seconds:
            break
        for (real,) in data:
            fake = netG(torch.randn(real.shape[0], netG.latent_dim))
            optD.zero_grad()
            d_real, d_fake = netD(real), netD(fake.detach())
            loss_D = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy_with_logits(
                d_fake, torch.zeros_like(d_fake)
            )
            loss_D.backward()
            optD.step()
            optG.zero_grad()
            d_fake = netD(fake)
            F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake)).backward()
            optG.step()
            iterations += 1
    seconds = time.perf_counter() - start
    netG.eval()
    with torch.no_grad():
        Image.fromarray(image_grid(netG(fixed))).save(out / "plain_grid.png")
    return seconds, iterations


def lightning_run(epochs: int, out: Path) -> tuple[float, int]:
    """``gan-lightning fit --config configs/digits_dcgan.yaml``; returns (seconds, iterations)."""
    start = time.perf_counter()
    cli = cli_main([
        "fit", "--config", str(CONFIG), "--trainer.max_epochs", str(epochs),
        "--trainer.default_root_dir", str(out), "--trainer.logger.init_args.save_dir", str(out),
        "--trainer.enable_progress_bar", "false",
        "--model.r1_weight", "0", "--model.ema_decay", "null",  # the plain loop has neither R1 nor an EMA G
    ])  # fmt: skip
    seconds = time.perf_counter() - start
    Image.fromarray(SampleGrid().draw(cli.model)).save(out / "lightning_grid.png")
    return seconds, cli.trainer.fit_loop.total_batch_idx + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--out", default="runs/benchmark_digits")
    parser.add_argument("--only", choices=["plain", "lightning"], help="run one side (to run both at once)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.only != "lightning":
        max_time = yaml.safe_load(CONFIG.read_text())["trainer"]["max_time"]
        max_seconds = sum(int(v) * f for v, f in zip(max_time.split(":"), (86400, 3600, 60, 1)))
        p_sec, p_it = plain_loop(args.epochs, out, max_seconds)
        print(f"plain PyTorch: {p_it} iterations in {p_sec:.1f} s = {p_it / p_sec:.2f} it/s", flush=True)
    if args.only != "plain":
        l_sec, l_it = lightning_run(args.epochs, out)
        print(f"gan-lightning: {l_it} iterations in {l_sec:.1f} s (with start-up) = {l_it / l_sec:.2f} it/s")
    if args.only is None:
        print(f"speed ratio gan-lightning / plain: {(l_it / l_sec) / (p_it / p_sec):.2f}")


if __name__ == "__main__":
    main()
