"""The training DataLoader of every datamodule: one that a mid-epoch checkpoint can resume exactly.

Lightning saves the state of a data loader that has ``state_dict``/``load_state_dict`` in each
checkpoint (``loops.fit_loop.combined_loader``) and loads it before the resumed epoch's first
batch; torchdata's ``StatefulDataLoader`` is such a loader. Its sampler here is torchdata's
``StatefulDistributedSampler``: the order of an epoch is a permutation drawn from (seed, epoch)
alone, as with the ``DistributedSampler`` Lightning adds under DDP, and its state is the number
of samples served. So a resumed run serves the rest of the epoch in the same order, the next
epochs follow from the epoch number, and one process and N processes shuffle by the same rule.
The loader's own generator makes its per-epoch draw (the worker base seed), so loading data never
draws from the global random state that the latents come from.
"""

import os
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import StatefulDistributedSampler


def data_seed() -> int:
    """The shuffling seed: ``seed_everything``'s (Lightning's ``PL_GLOBAL_SEED``, as for its own
    ``DistributedSampler``), the same on every rank and again when the run is resumed."""
    return int(os.environ.get("PL_GLOBAL_SEED", 0))


def replicas(trainer: Any) -> tuple[int, int]:
    """(number of ranks, this rank) that the batches are split over; (1, 0) without a Trainer."""
    kwargs = getattr(trainer, "distributed_sampler_kwargs", None) if trainer is not None else None
    return (kwargs["num_replicas"], kwargs["rank"]) if kwargs else (1, 0)


class EpochSampler(StatefulDistributedSampler):
    """torchdata's ``StatefulDistributedSampler`` that reads the epoch from the Trainer when an
    epoch's first index is drawn. Lightning calls ``set_epoch(epoch_progress.processed)``, which
    is one ahead of ``trainer.current_epoch`` for the rest of a step-limited run (``max_steps``)
    resumed from an epoch-end checkpoint (the resumed loop ends the saved epoch a second time):
    every later epoch would be served in another order than the uninterrupted run's."""

    def __init__(self, dataset: Dataset, trainer: Any = None, **kwargs: Any) -> None:
        super().__init__(dataset, **kwargs)
        self.trainer = trainer

    def __iter__(self) -> Iterator[int]:
        if self.trainer is not None:
            self.set_epoch(self.trainer.current_epoch)
        yield from super().__iter__()


def resumable_loader(
    dataset: Dataset, batch_size: int, drop_last: bool, num_workers: int, trainer: Any = None,
    sampler_class: type[EpochSampler] = EpochSampler,
) -> StatefulDataLoader:
    """Shuffled batches of ``dataset`` for this rank, resumable mid-epoch (see the module doc).
    ``sampler_class``: an ``EpochSampler`` subclass that maps the indices it serves (the stacked
    digits' draws new items every epoch through it)."""
    num_replicas, rank = replicas(trainer)
    seed = data_seed()
    sampler = sampler_class(dataset, trainer, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
    return StatefulDataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )
