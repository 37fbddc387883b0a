"""What a perfect generator would score: real digits in place of generated ones, per reference split.

For the shipped digits and the shipped classifier's features, the protocol's metrics with train
digits as the "generated" samples, against the ``val`` (500) and the ``test`` (1,000) digits, at
the counts the protocol uses (all train digits for FID/KID, as many as the references for
precision/recall/density/coverage), and the memorisation ratio of held-out digits. docs/metrics.md
prints the table:

    python benchmarks/real_floor.py
"""

import argparse

import torch

from gan_lightning.data.digits import load_digits_split
from gan_lightning.metrics.fid import build_extractor, fid_kid
from gan_lightning.metrics.prdc import density_coverage, memorisation_ratio, precision_recall


@torch.no_grad()
def features(split: str, image_size: int = 32) -> torch.Tensor:
    extractor = build_extractor("digits").eval()
    images = load_digits_split(split, image_size)[0]
    return torch.cat([extractor(chunk) for chunk in images.split(500)])


def floor(reference: torch.Tensor, train: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """The metrics of train digits against ``reference``: FID/KID with all of them, PRDC with as
    many train digits (seeded subset) as references."""
    subset = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[: len(reference)]]
    return {
        **fid_kid(reference, train, ("fid", "kid"), seed=seed),
        "fid_equal_counts": fid_kid(reference, subset, ("fid",))["fid"],
        **precision_recall(reference, subset),
        **density_coverage(reference, subset),
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    train, val, test = features("train"), features("val"), features("test")
    rows = {"val": floor(val, train), "test": floor(test, train)}
    half = len(test) // 2
    rows["test"]["memorisation_of_held_out"] = memorisation_ratio(test[:half], train, test[half:])
    print("| metric | against val (500) | against test (1,000) |\n|---|---|---|")
    for key in rows["test"]:
        print(f"| {key} | {rows['val'].get(key, float('nan')):.4g} | {rows['test'][key]:.4g} |")
    return rows


if __name__ == "__main__":
    main()
