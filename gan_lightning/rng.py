"""Random states of torch, numpy and Python, in a form that a ``weights_only=True`` load accepts.

Lightning does not store random states in checkpoints, so a resumed run would draw other latents
than the uninterrupted one. numpy's state holds an ndarray, which ``torch.load(weights_only=True)``
refuses, so it is stored as a tensor. Under DDP each rank draws its own latents from its own
stream, so a checkpoint keeps every rank's states (``RANK_STATES_KEY``), and each rank of the
resumed run takes up its own.
"""

import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.utilities.rank_zero import rank_zero_warn

STATES_KEY = "rng_states"  # rank 0's states (what checkpoints held before RANK_STATES_KEY)
RANK_STATES_KEY = "rng_states_by_rank"  # every rank's, in rank order
_PENDING = "_rng_states_to_resume"  # in the module's __dict__ from on_load_checkpoint to on_train_start


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


def checkpoint_rng_states(world_size: int) -> dict[str, Any]:
    """The checkpoint entries: rank 0's states and every rank's. Under DDP this gathers from every
    rank, so every rank must call it at the same point, as each does when a checkpoint is saved."""
    states = collect_rng_states()
    by_rank: list[Any] = [states]
    if world_size > 1 and dist.is_available() and dist.is_initialized():
        by_rank = [None] * world_size
        dist.all_gather_object(by_rank, states)
    return {STATES_KEY: by_rank[0], RANK_STATES_KEY: by_rank}


def keep_for_resume(module: torch.nn.Module, checkpoint: dict[str, Any]) -> None:
    """Hold the checkpoint's random states until training starts (``start_rank_streams``): set
    earlier, they would be moved by whatever draws between loading and the first batch."""
    module.__dict__[_PENDING] = {k: checkpoint[k] for k in (STATES_KEY, RANK_STATES_KEY) if k in checkpoint}


def start_rank_streams(module: torch.nn.Module, rank: int, world_size: int) -> None:
    """At the start of training: a run resumed on as many ranks as it was saved from continues
    each rank's own saved stream (the run that was never stopped); any other run gives each rank
    its own stream offset from the shared (restored, or seeded) state."""
    pending = module.__dict__.pop(_PENDING, None) or {}
    by_rank = pending.get(RANK_STATES_KEY)
    if by_rank is not None and len(by_rank) == world_size:
        restore_rng_states(by_rank[rank])
        return
    if STATES_KEY in pending:
        restore_rng_states(pending[STATES_KEY])
    if STATES_KEY in pending and (by_rank is not None or world_size > 1):
        rank_zero_warn(
            f"The checkpoint holds the random states of {len(by_rank) if by_rank else 'an unknown number of'} "
            f"rank(s) and this run has {world_size}: the ranks' latents continue from rank 0's state, not exactly "
            "as the run that was saved would have drawn them."
        )
    offset_seed_by_rank(rank, world_size)
