"""What each rank keeps for itself, in checkpoints: its random states and its epoch-mean sums.

Under DDP each rank draws its own latents from its own random stream and sums its own losses for
the epoch means, while Lightning writes rank 0's checkpoint only. So saving gathers every rank's
part into the checkpoint, and each rank of a resumed run takes up its own when training starts:
the resumed run draws the latents, and logs the epoch means, of the run that was never stopped.
"""

from typing import Any

import torch
import torch.distributed as dist
from lightning.pytorch.utilities.rank_zero import rank_zero_warn

from gan_lightning.rng import collect_rng_states, offset_seed_by_rank, restore_rng_states
from gan_lightning.step_logging import EpochMeans

STATES_KEY = "rng_states"  # rank 0's random states (all that checkpoints held before RANK_KEY)
RANK_KEY = "rank_states"  # every rank's {"rng": ..., "epoch_means": ...}, in rank order
_PENDING = "_rank_states_to_resume"  # in the module's __dict__ from on_load_checkpoint to on_train_start


def save_rank_states(checkpoint: dict[str, Any], world_size: int, epoch_means: EpochMeans) -> None:
    """Add every rank's part to ``checkpoint``. Under DDP this gathers from every rank, so every
    rank must call it at the same point, as each does when Lightning saves a checkpoint."""
    mine = {"rng": collect_rng_states(), "epoch_means": epoch_means.state_dict()}
    by_rank: list[Any] = [mine]
    if world_size > 1 and dist.is_available() and dist.is_initialized():
        by_rank = [None] * world_size
        dist.all_gather_object(by_rank, mine)
    checkpoint[STATES_KEY] = by_rank[0]["rng"]
    checkpoint[RANK_KEY] = by_rank


def keep_for_resume(module: torch.nn.Module, checkpoint: dict[str, Any]) -> None:
    """Hold the checkpoint's per-rank parts until training starts (``resume_rank_states``):
    restored earlier, the random states would be moved by whatever draws before the first batch."""
    module.__dict__[_PENDING] = {k: checkpoint[k] for k in (STATES_KEY, RANK_KEY) if k in checkpoint}


def resume_rank_states(module: torch.nn.Module, rank: int, world_size: int, epoch_means: EpochMeans) -> None:
    """At the start of training: a run resumed on as many ranks as it was saved from continues
    each rank's own random stream and epoch sums; any other run gives each rank its own stream
    offset from the shared (restored, or seeded) state."""
    pending = module.__dict__.pop(_PENDING, None) or {}
    by_rank = pending.get(RANK_KEY)
    if by_rank is not None and len(by_rank) == world_size:
        restore_rng_states(by_rank[rank]["rng"])
        epoch_means.load_state_dict(by_rank[rank]["epoch_means"], module.device)
        return
    if STATES_KEY in pending:
        restore_rng_states(pending[STATES_KEY])
        if by_rank is not None or world_size > 1:
            rank_zero_warn(
                f"The checkpoint holds the random states of {len(by_rank) if by_rank else 'one'} rank(s) and this run "
                f"has {world_size}: each rank's latents follow from rank 0's state, not as the saved run would have drawn them."
            )
    offset_seed_by_rank(rank, world_size)
