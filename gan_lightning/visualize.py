"""Turn samples into uint8 images (loggers such as W&B show float images as black)."""

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid


def image_grid(images: torch.Tensor, nrow: int = 8) -> np.ndarray:
    """A (H, W, C) uint8 grid of images in [-1, 1] (C is 1 or 3)."""
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    return (grid * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def scatter_image(real: torch.Tensor | None, fake: torch.Tensor, size_inches: float = 4.0) -> np.ndarray:
    """A (H, W, 3) uint8 scatter plot of 2-D real (grey) and generated (red) points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(size_inches, size_inches), dpi=100)
    if real is not None:
        r = real.detach().cpu().numpy()
        ax.scatter(r[:, 0], r[:, 1], s=3, c="0.6", label="real")
    f = fake.detach().cpu().numpy()
    ax.scatter(f[:, 0], f[:, 1], s=3, c="tab:red", alpha=0.6, label="generated")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    buf.seek(0)
    return np.array(Image.open(buf).convert("RGB"))


def samples_to_image(samples: torch.Tensor, nrow: int = 8) -> np.ndarray:
    """A uint8 picture of samples: a grid for images (N, C, H, W), a scatter for 2-D points."""
    if samples.dim() == 4:
        return image_grid(samples, nrow)
    if samples.dim() == 2 and samples.shape[1] == 2:
        return scatter_image(None, samples)
    raise ValueError(
        f"Cannot draw samples of shape {tuple(samples.shape[1:])} as a picture: expected images "
        "(C, H, W) or 2-D points. Write .npy or .pt instead."
    )


def run_dir(trainer: "Trainer") -> str:  # noqa: F821
    """The run's directory without ``trainer.log_dir``'s broadcast, which would hang on rank 0 alone."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    for logger in trainer.loggers:
        if isinstance(logger, (CSVLogger, TensorBoardLogger)):
            return logger.log_dir
    return trainer.default_root_dir


def log_or_save_image(trainer: "Trainer", key: str, image: np.ndarray, batch: int) -> Path | None:  # noqa: F821
    """Send a uint8 (H, W, C) image to every W&B / TensorBoard logger at logged step ``batch``
    (the batch index the losses are logged at); without such a logger, write it as
    ``<run dir>/<key>/batch_XXXXXXX.png`` and return that path."""
    from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

    shown = False
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key, [image], step=batch)
            shown = True
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, batch, dataformats="HWC")
            shown = True
    if shown:
        return None
    return save_png(image, Path(run_dir(trainer)) / key / f"batch_{batch:07d}.png")


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 (H, W, C) picture (C 1 or 3) as a PNG, creating its folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
    return path
