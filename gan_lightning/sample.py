"""``gan-lightning sample``: samples, latent walks and truncated samples from a checkpoint.

    gan-lightning sample --ckpt_path last.ckpt --output grid.png
    gan-lightning sample --ckpt_path last.ckpt --output walk.png --interpolate 8 --rows 6
    gan-lightning sample --ckpt_path last.ckpt --output best.png --truncation 0.7

A conditional model (``model.num_classes``) draws one row per class by default (every row with
the same latents, so a column is one z in every class), or only class K with ``--class K``;
``--interpolate`` then walks one row per class (or --rows walks of class K).
"""

import argparse
import functools
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gan_lightning.conditioning import fixed_class_grid
from gan_lightning.latent import interpolate, truncated_normal
from gan_lightning.module import GAN
from gan_lightning.visualize import samples_to_image, save_png


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gan-lightning sample", description="Draw samples from a trained generator (on the CPU)."
    )
    parser.add_argument("--ckpt_path", required=True, help="checkpoint written by `gan-lightning fit`")
    parser.add_argument(
        "--num_samples", type=int, default=64,
        help="how many samples to draw (not used with --interpolate); a class grid has num_samples // num_classes a row",
    )  # fmt: skip
    parser.add_argument(
        "--output", required=True, help=".npy (array in data space), .pt (tensor) or .png (grid/scatter)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent draws")
    parser.add_argument("--batch_size", type=int, default=1024, help="samples per generator call")
    parser.add_argument(
        "--interpolate", type=int, metavar="N",
        help="instead of independent samples, --rows walks between pairs of latents in N steps "
        "(ends included; spherical for a normal z, straight for a uniform one); a .png shows one walk per row",
    )  # fmt: skip
    parser.add_argument("--rows", type=int, default=8, help="how many walks --interpolate draws")
    parser.add_argument(
        "--truncation", type=float, metavar="PSI",
        help="truncation trick (normal z only): redraw latent entries beyond PSI standard deviations; "
        "smaller PSI gives more typical, less varied samples",
    )  # fmt: skip
    parser.add_argument(
        "--class", type=int, dest="class_index", metavar="K",
        help="conditional models: samples (or walks) of class K only; by default one row per class",
    )  # fmt: skip
    return parser


def draw_latents(model: GAN, n: int, generator: torch.Generator, psi: float | None) -> Tensor:
    """n latents as the model draws them, or truncated at ``psi`` standard deviations."""
    if psi is None:
        return model.draw_latent(n, generator)
    if model.latent.distribution != "normal":
        raise ValueError(
            f"--truncation needs a normal latent, but this model draws z from a "
            f"{model.latent.distribution} distribution (model.latent.distribution: {model.latent.distribution}), "
            "whose entries are already bounded. Leave --truncation out."
        )
    return truncated_normal(n, model.latent_dim, psi, model.latent.std, generator)


def walk_latents(model: GAN, rows: int, steps: int, generator: torch.Generator, psi: float | None) -> Tensor:
    """(rows * steps, latent_dim): row by row, ``steps`` points between two fresh latents."""
    ends = draw_latents(model, 2 * rows, generator, psi)
    path = interpolate(ends[:rows], ends[rows:], steps, spherical=model.latent.distribution == "normal")
    return path.reshape(rows * steps, model.latent_dim)


def latents_and_labels(
    model: GAN, args: argparse.Namespace, generator: torch.Generator
) -> tuple[Tensor, Tensor | None, int]:
    """(z, labels, images per row): independent samples or walks, of class K with --class K, one
    row per class for a conditional model without it; labels None for an unconditional model."""
    psi, k, steps = args.truncation, args.class_index, args.interpolate
    if model.num_classes is None or k is not None:
        if steps is None:
            z, per_row = draw_latents(model, args.num_samples, generator, psi), 8
        else:
            z, per_row = walk_latents(model, args.rows, steps, generator, psi), steps
        return z, None if k is None else torch.full((len(z),), k), per_row
    if steps is None:  # the class grid
        draw = functools.partial(draw_latents, model, psi=psi)
        z, labels = fixed_class_grid(draw, args.num_samples, model.num_classes, generator)
        return z, labels, len(z) // model.num_classes
    z = walk_latents(model, model.num_classes, steps, generator, psi)
    return z, torch.arange(model.num_classes).repeat_interleave(steps), steps


def check_class(model: GAN, k: int | None) -> None:
    """A ValueError naming the fix if --class K does not fit the model."""
    if k is None:
        return
    if model.num_classes is None:
        raise ValueError(
            f"--class {k} needs a conditional model (model.num_classes), but this one is unconditional. Leave --class out."
        )
    if not 0 <= k < model.num_classes:
        raise ValueError(f"--class {k} is not a class of this model: it has classes 0..{model.num_classes - 1}.")


def save(samples: Tensor, output: Path, nrow: int) -> None:
    """Write samples as .npy, .pt or a .png picture (a grid of ``nrow`` columns, or a scatter)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".npy":
        np.save(output, samples.numpy())
    elif output.suffix == ".pt":
        torch.save(samples, output)
    else:
        save_png(samples_to_image(samples, nrow), output)


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse settings that cannot work, naming the fix, before the checkpoint is read."""
    output = Path(args.output)
    if output.suffix not in (".npy", ".pt", ".png"):
        parser.error(f"--output must end in .npy, .pt or .png, got {output.name!r}")
    if args.num_samples < 1:
        parser.error(f"--num_samples must be >= 1, got {args.num_samples}")
    if args.interpolate is not None and (args.interpolate < 2 or args.rows < 1):
        parser.error(f"--interpolate needs >= 2 steps and --rows >= 1, got {args.interpolate} and {args.rows}")
    if args.truncation is not None and args.truncation <= 0:
        parser.error(f"--truncation PSI must be > 0 (entries are kept within PSI standard deviations), got {args.truncation}")


def sample_main(argv: list[str]) -> Path:
    """``gan-lightning sample``: draw samples (or latent walks) from a checkpoint and write them to a file.

    Walks written as .npy/.pt have shape (rows, steps, *sample_shape).
    """
    from gan_lightning.checkpoint import load_gan

    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    output = Path(args.output)
    try:
        model = load_gan(args.ckpt_path)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"gan-lightning sample: error: {err}\n")
    generator = torch.Generator().manual_seed(args.seed)
    try:
        check_class(model, args.class_index)
        z, labels, per_row = latents_and_labels(model, args, generator)
    except ValueError as err:
        parser.exit(2, f"gan-lightning sample: error: {err}\n")
    samples = model.generate(z, args.batch_size, labels)
    rows = len(samples) // per_row
    if args.interpolate is None:
        save(samples, output, nrow=per_row)
        what = f" of class {args.class_index}" if args.class_index is not None else (
            f" ({per_row} per class, one row per class)" if labels is not None else "")  # fmt: skip
        print(f"wrote {len(samples)} samples{what} of shape {tuple(samples.shape[1:])} to {output}")
        return output
    if output.suffix == ".png" and samples.dim() != 4:
        parser.exit(2, f"gan-lightning sample: error: --interpolate draws walks as images, but this model "
                       f"makes samples of shape {tuple(samples.shape[1:])}: write .npy or .pt instead.\n")  # fmt: skip
    if output.suffix != ".png":
        samples = samples.view(rows, args.interpolate, *samples.shape[1:])
    save(samples, output, nrow=args.interpolate)
    print(f"wrote {rows} walks of {args.interpolate} steps to {output}")
    return output
