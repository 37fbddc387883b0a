"""Load a GAN checkpoint with errors that say what is wrong with the file."""

import importlib
import pickle
from pathlib import Path

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from gan_lightning.callbacks.interrupt import INTERRUPTED_NAME
from gan_lightning.module import GAN


def read_checkpoint(path: str | Path) -> dict:
    """torch.load a checkpoint onto the CPU with ``weights_only=True``, or explain why not."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}: check the path (runs keep theirs under checkpoints/).")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle garbage, unsafe globals: all one message
        # torch's weights_only refusal suggests weights_only=False, which is not the fix here.
        detail = "not a torch zip file, or it holds objects other than tensors" if isinstance(
            err, pickle.UnpicklingError) else str(err).splitlines()[0]
        raise ValueError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {detail}). "
            "It may be truncated by an interrupted save: use an earlier checkpoint or last.ckpt."
        ) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a Lightning checkpoint (it has no 'state_dict').")
    keys = ckpt["state_dict"].keys()
    if not any(k.startswith("netG.") for k in keys) or "_instantiator" not in ckpt.get("hyper_parameters", {}):
        raise ValueError(
            f"{path} is not a gan-lightning GAN checkpoint (no netG weights or no CLI config in it); "
            "only checkpoints written by `gan-lightning fit` can be loaded here."
        )
    return ckpt


def import_class(path: str) -> type:
    """The class a ``class_path`` ("package.module.Name") names, its module imported first."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def load_gan(path: str | Path) -> GAN:
    """Rebuild the GAN from the config stored in its checkpoint, on the CPU, in eval mode.

    A checkpoint of a ``GAN`` subclass (``model: {class_path: my_project.MyGAN}``) is rebuilt as
    that subclass: its module is imported first, as the CLI did when it trained it.
    """
    hparams = read_checkpoint(path)["hyper_parameters"]
    cls: type[GAN] = GAN
    if class_path := hparams.get("_class_path"):
        cls = import_class(class_path)
        if not (isinstance(cls, type) and issubclass(cls, GAN)):
            raise ValueError(f"{path} names {class_path} as its model, which is not a gan_lightning GAN.")
    return cls.load_from_checkpoint(path, map_location="cpu", weights_only=True).eval()


def find_resume_checkpoint(trainer: Trainer) -> Path | None:
    """The newest last.ckpt or interrupted.ckpt of this experiment, in any of its version folders.

    Lightning's own ``ckpt_path="last"`` only looks in the new run's folder (``version_N+1``), which
    is empty, so it would silently start over; this looks where earlier runs of the same config wrote.
    """
    roots = {Path(cb.dirpath) for cb in trainer.checkpoint_callbacks if isinstance(cb, ModelCheckpoint) and cb.dirpath}
    if trainer.loggers:
        logger = trainer.loggers[0]
        roots.add(Path(logger.save_dir or trainer.default_root_dir) / str(logger.name or ""))
    else:
        roots.add(Path(trainer.default_root_dir))
    found = [p for root in roots if root.is_dir() for name in ("last.ckpt", INTERRUPTED_NAME) for p in root.rglob(name)]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def check_resumable(path: str | Path, model: GAN) -> None:
    """Raise a ValueError naming the first difference if the checkpoint was not written for ``model``."""
    saved = read_checkpoint(path)["state_dict"]
    current = model.state_dict()
    for key in sorted(saved.keys() | current.keys()):
        if key not in current or key not in saved:
            where = "only in the checkpoint" if key not in current else "missing from the checkpoint"
            problem = f"{key} is {where}"
        elif saved[key].shape != current[key].shape:
            problem = f"{key} has shape {tuple(saved[key].shape)} there but {tuple(current[key].shape)} here"
        else:
            continue
        raise ValueError(
            f"{path} was written for a different model than this config ({problem}). "
            "Resume with the config it was trained with (config.yaml in its run folder)."
        )
