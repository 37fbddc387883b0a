"""``gan-lightning evaluate``: FID/KID of a checkpoint's generator as one JSON line.

The data and the extractor are rebuilt from the checkpoint: the datamodule from the config the
CLI stored in it, the protocol (extractor, sample count) from the MetricsCallback's saved state
when the run had one, else the digit classifier for 1-channel images and Inception for colour.
Metrics the data cannot support (FID/KID of 2-D points, say) are left out with a note.
"""

import argparse
import importlib
import json
import math
from pathlib import Path

import torch
from lightning.pytorch import LightningDataModule

from gan_lightning.checkpoint import load_gan, read_checkpoint
from gan_lightning.metrics.evaluator import DEFAULT_CACHE_DIR, GANEvaluator, data_split, dataset_key, real_dataset
from gan_lightning.metrics.fid import METRICS


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
        description="FID/KID of a checkpoint's generator against its training data, as one JSON line.",
    )
    parser.add_argument("--ckpt_path", required=True, help="checkpoint written by `gan-lightning fit`")
    parser.add_argument("--num_samples", type=int, help="generated samples (default: the run's, else 5000)")
    parser.add_argument("--metrics", default=",".join(METRICS), help="comma-separated subset of fid,kid")
    parser.add_argument("--extractor", choices=["digits", "inception"], help="default: the run's, else by channels")
    parser.add_argument("--inception_weights_path", help="local Inception-v3 weights (no network needed)")
    parser.add_argument("--batch_size", type=int, default=500, help="images per generator / extractor call")
    parser.add_argument("--cache_dir", default=DEFAULT_CACHE_DIR, help="where real features are cached")
    parser.add_argument("--seed", type=int, help="seed of latents, real subset and KID subsets (default: the run's, else 0)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    args.metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not args.metrics or set(args.metrics) - set(METRICS):
        parser.error(f"--metrics must be a comma-separated subset of {','.join(METRICS)}, got {args.metrics}")
    if args.num_samples is not None and args.num_samples < 2:
        parser.error(f"--num_samples must be >= 2, got {args.num_samples}")
    return parser, args


def evaluate_main(argv: list[str]) -> dict:
    """Print the metrics of ``--ckpt_path`` as one JSON line and write them beside it."""
    parser, args = parse_args(argv)
    try:
        ckpt = read_checkpoint(args.ckpt_path)
        model = load_gan(args.ckpt_path).to(args.device)
        datamodule = rebuild_datamodule(args.ckpt_path, ckpt)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"gan-lightning evaluate: error: {err}\n")
    protocol = saved_protocol(ckpt)
    shape = tuple(datamodule.sample_shape)
    extractor = args.extractor or protocol.get("extractor") or ("digits" if shape[:1] == (1,) else "inception")
    result: dict = {
        "ckpt_path": str(args.ckpt_path),
        "global_step": ckpt.get("global_step"),
        "data": type(datamodule).__name__,
        "split": data_split(datamodule),
        "extractor": extractor,
    }
    notes: list[str] = []
    if len(shape) != 3:
        notes.append(f"FID/KID left out: they need images and this data has samples of shape {shape}.")
    else:
        try:  # an extractor that cannot be built (Inception offline) or cannot take these images
            evaluator = GANEvaluator(
                extractor,
                args.num_samples or protocol.get("num_samples", 5000),
                args.metrics,
                args.batch_size,
                args.cache_dir,
                kid_subset_size=protocol.get("kid_subset_size", 1000),
                kid_subsets=protocol.get("kid_subsets", 100),
                seed=protocol.get("seed", 0) if args.seed is None else args.seed,
                inception_weights_path=args.inception_weights_path or protocol.get("inception_weights_path"),
            )
            evaluator.check_data(shape)
        except (RuntimeError, ValueError) as err:
            parser.exit(2, f"gan-lightning evaluate: error: {err}\n")
        dataset = real_dataset(datamodule)
        result["num_samples"] = evaluator.num_samples
        result["num_real"] = min(evaluator.num_samples, len(dataset))
        result.update(evaluator.evaluate(model, dataset, dataset_key(datamodule), result["split"]))
        if result["num_real"] < evaluator.num_samples:
            notes.append(f"the data has only {result['num_real']} samples: real statistics use all of them.")
    result["notes"] = notes
    line = json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in result.items()})
    print(line)
    out = Path(args.ckpt_path).with_suffix(".metrics.json")
    out.write_text(line + "\n")
    return result
