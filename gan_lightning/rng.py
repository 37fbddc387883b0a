"""Random states of torch, numpy and Python, in a form that a ``weights_only=True`` load accepts.

Lightning does not store random states in checkpoints, so a resumed run would draw other latents
than the uninterrupted one. numpy's state holds an ndarray, which ``torch.load(weights_only=True)``
refuses, so it is stored as a tensor.
"""

import random
from typing import Any

import numpy as np
import torch


def collect_rng_states() -> dict[str, Any]:
    """The current global random states (CUDA's too when CUDA is initialised)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Set the global random states saved by :func:`collect_rng_states`."""
    torch.set_rng_state(states["torch"])
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def offset_seed_by_rank(rank: int, world_size: int) -> None:
    """Under DDP, give each rank its own random stream, so that ranks draw different latents:
    ``seed_everything`` seeds every rank alike, and every rank would make the same fakes. The
    offset base is drawn from the shared (possibly restored) state, so runs stay reproducible."""
    if world_size > 1:
        base = int(torch.randint(0, 2**31 - 1, (1,)).item())
        torch.manual_seed(base + rank)
