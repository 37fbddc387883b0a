"""Load a GAN checkpoint with errors that say what is wrong with the file."""

from pathlib import Path

import torch

from gan_lightning.module import GAN


def read_checkpoint(path: str | Path) -> dict:
    """torch.load a checkpoint onto the CPU with ``weights_only=True``, or explain why not."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}: check the path (runs keep theirs under checkpoints/).")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle garbage, unsafe globals: all one message
        raise ValueError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {str(err).splitlines()[0]}). "
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


def load_gan(path: str | Path) -> GAN:
    """Rebuild the GAN from the config stored in its checkpoint, on the CPU, in eval mode."""
    read_checkpoint(path)
    model = GAN.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    return model.eval()
