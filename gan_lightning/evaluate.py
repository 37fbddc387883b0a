"""``gan-lightning evaluate``: the evaluation protocol on a checkpoint's generator, as one JSON line.

The data and the protocol are rebuilt from the checkpoint: the datamodule from the config the
CLI stored in it, the protocol (``EvalProtocol``: extractor, sample count, metrics, seed) from
the MetricsCallback's saved state when the run had one, else the defaults with the data's
extractor (``default_extractor``: the digit classifier for 1-channel digits, Inception-v3 for
colour and FashionMNIST); command-line options override it. Inception needs its weights file:
downloaded once into torch's hub cache, or given with ``--inception_weights_path`` (offline).
Generated samples are compared with the datamodule's held-out split (the shipped digits'
``test``) when it has one. Metrics the data cannot support (of 2-D points, say) are left out
with a note. ``--nn_png`` also draws each of a few samples beside its nearest training image.
"""

import argparse
import importlib
import json
import math
from pathlib import Path

import torch
from lightning.pytorch import LightningDataModule
from PIL import Image

from gan_lightning.checkpoint import load_gan, read_checkpoint
from gan_lightning.metrics.evaluator import (
    DEFAULT_CACHE_DIR, EvalData, GANEvaluator, default_extractor, eval_data, seeded_subset,
)
from gan_lightning.metrics.protocol import METRICS, EvalProtocol
from gan_lightning.module import GAN
from gan_lightning.visualize import image_grid


def saved_protocol(ckpt: dict) -> dict:
    """The MetricsCallback's state in the checkpoint ({} if the run had none)."""
    for key, state in ckpt.get("callbacks", {}).items():
        if key.startswith("MetricsCallback") and isinstance(state, dict):
            return state
    return {}


def rebuild_datamodule(ckpt_path: str | Path, ckpt: dict) -> LightningDataModule:
    """The datamodule of the run, from the config LightningCLI saved in the checkpoint."""
    if "_instantiator" not in ckpt.get("datamodule_hyper_parameters", {}):
        raise ValueError(
            f"{ckpt_path} holds no datamodule config (it was not trained with `gan-lightning fit`), "
            "so the real data to compare with is unknown."
        )
    # Lightning rebuilds only classes already imported (it refuses to import what a checkpoint
    # names); this project's own datamodules are trusted, so import the one the run used.
    class_path = ckpt["datamodule_hyper_parameters"].get("_class_path", "")
    if class_path.startswith("gan_lightning."):
        importlib.import_module(class_path.rsplit(".", 1)[0])
    return LightningDataModule.load_from_checkpoint(ckpt_path, map_location="cpu", weights_only=True)


def parse_args(argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="gan-lightning evaluate",
        description="FID/KID, precision/recall/density/coverage and memorisation of a checkpoint's "
        "generator against held-out data, as one JSON line.",
    )
    parser.add_argument("--ckpt_path", required=True, help="checkpoint written by `gan-lightning fit`")
    parser.add_argument("--num_samples", type=int, help="generated samples (default: the run's, else 5000)")
    parser.add_argument("--metrics", help=f"comma-separated subset of {','.join(METRICS)} (default: the run's, else all)")
    parser.add_argument("--extractor", choices=["digits", "inception"], help="default: the run's, else by channels")
    parser.add_argument(
        "--inception_weights_path",
        help="a local copy of torch-fidelity's weights-inception-2015-12-05-6726825d.pth: nothing is downloaded "
        "(docs/real_data.md says where to get it)",
    )
    parser.add_argument("--batch_size", type=int, default=500, help="images per generator / extractor call")
    parser.add_argument("--cache_dir", default=DEFAULT_CACHE_DIR, help="where real features are cached")
    parser.add_argument("--seed", type=int, help="seed of latents, real subsets and KID subsets (default: the run's, else 0)")
    parser.add_argument("--nn_png", help="also write a PNG of generated samples (left) beside their nearest training images")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.metrics is not None:
        args.metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
        if not args.metrics or set(args.metrics) - set(METRICS):
            parser.error(f"--metrics must be a comma-separated subset of {','.join(METRICS)}, got {list(args.metrics)}")
    if args.num_samples is not None and args.num_samples < 2:
        parser.error(f"--num_samples must be >= 2, got {args.num_samples}")
    return parser, args


@torch.no_grad()
def nearest_neighbour_png(evaluator: GANEvaluator, gan: GAN, data: EvalData, path: str | Path, n: int = 8) -> Path:
    """Write pairs (generated, nearest training image in extractor feature space), two pairs a row,
    enlarged to at least 64 px per image."""
    train = evaluator.train_features(data)
    index = seeded_subset(len(data.train), len(train), evaluator.protocol.seed)  # the rows of ``train``
    fake = gan.sample(n, torch.Generator().manual_seed(evaluator.protocol.seed)).cpu()
    nearest = torch.cdist(evaluator.extract(fake).cpu().double(), train.double()).argmin(dim=1)
    real = [data.train[int(index[i])] for i in nearest]
    real = torch.stack([r[0] if isinstance(r, (list, tuple)) else r for r in real])
    pairs = torch.stack([fake, real], dim=1).flatten(0, 1)  # fake_0, real_0, fake_1, real_1, ...
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = Image.fromarray(image_grid(pairs, nrow=4))
    scale = max(1, 64 // fake.shape[-1])  # small digits: enlarged, pixels kept sharp
    grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST).save(path)
    return path


def evaluate_main(argv: list[str]) -> dict:
    """Print the metrics of ``--ckpt_path`` as one JSON line and write them beside it."""
    parser, args = parse_args(argv)
    try:
        ckpt = read_checkpoint(args.ckpt_path)
        model = load_gan(args.ckpt_path).to(args.device)
        datamodule = rebuild_datamodule(args.ckpt_path, ckpt)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"gan-lightning evaluate: error: {err}\n")
    shape = tuple(datamodule.sample_shape)
    saved = saved_protocol(ckpt)
    extractor = args.extractor or saved.get("extractor") or default_extractor(datamodule)
    result: dict = {"ckpt_path": str(args.ckpt_path), "global_step": ckpt.get("global_step"), "data": type(datamodule).__name__}
    notes: list[str] = []
    if len(shape) != 3:
        notes.append(f"FID/KID/PRDC/memorisation left out: they need images and this data has samples of shape {shape}.")
        if args.nn_png:
            notes.append("--nn_png left out: it needs images.")
    else:
        try:  # an extractor that cannot be built (Inception offline) or cannot take these images
            protocol = EvalProtocol.from_dict(
                saved, extractor=extractor, num_samples=args.num_samples, metrics=args.metrics, seed=args.seed,
                inception_weights_path=args.inception_weights_path,
            )
            evaluator = GANEvaluator(protocol, args.batch_size, args.cache_dir)
            evaluator.check_data(shape)
        except (RuntimeError, ValueError) as err:
            parser.exit(2, f"gan-lightning evaluate: error: {err}\n")
        data = eval_data(datamodule)
        result.update(protocol=protocol.to_dict(), reference_split=data.reference_split,
                      num_reference=min(protocol.num_samples, len(data.reference)))
        result.update(evaluator.evaluate(model, data))
        if data.note:
            notes.append(data.note)
        if len(data.reference) < protocol.num_samples:
            notes.append(f"the {data.reference_split} split has {len(data.reference)} samples: FID/KID use all of them "
                         f"against {protocol.num_samples} generated; PRDC uses {len(data.reference)} of each.")
        if args.nn_png:
            if data.train is None:
                notes.append("--nn_png left out: no training data distinct from the reference.")
            else:
                result["nn_png"] = str(nearest_neighbour_png(evaluator, model, data, args.nn_png))
    result["notes"] = notes
    line = json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in result.items()})
    print(line)
    out = Path(args.ckpt_path).with_suffix(".metrics.json")
    out.write_text(line + "\n")
    return result
