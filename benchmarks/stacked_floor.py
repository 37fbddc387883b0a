"""The Stacked MNIST metric's real-data floor: what a perfect generator would score.

Real stacked digits (gan_lightning.data.stacked, three independent uniform draws of a split's
digits, seed ``REFERENCE_SEED``) take the place of generated samples; the shipped classifier reads
each channel, and modes and KL to uniform are computed as for a generator (docs/stacked_digits.md)
at PacGAN's sample counts: 25,600 (Table 3) and 26,000 (Table 2). Also printed: how often the
classifier reads the whole triplet right, and the KL a perfect classifier would still show from
sampling alone (~999 / (2 n)). ``--histograms DIR`` writes each row's 10 x 100 triplet histogram
(``SPLIT_N.png``, as the callback draws it). docs/stacked_digits.md prints the table:

    python benchmarks/stacked_floor.py
"""

import argparse
from pathlib import Path

import torch

from gan_lightning.data.digits import load_digits_split
from gan_lightning.data.stacked import REFERENCE_SEED, StackedDigits
from gan_lightning.metrics.classifier import load_digit_classifier
from gan_lightning.metrics.stacked import classify_triplets, histogram_image, stacked_stats, triplet_counts
from gan_lightning.visualize import save_png

COUNTS = (25_600, 26_000)


def floor(
    split: str, counts: tuple[int, ...] = COUNTS, classifier: torch.nn.Module | None = None, histograms: str | None = None
) -> list[dict]:
    """One row per sample count: modes and KL of the classifier's triplets, and of the true ones."""
    digits, labels = load_digits_split(split)
    images, truth = StackedDigits(digits, labels, max(counts), REFERENCE_SEED).all()
    predicted = classify_triplets(images, classifier or load_digit_classifier())
    rows = []
    for n in counts:
        counts = triplet_counts(predicted[:n])
        read, true = stacked_stats(counts), stacked_stats(triplet_counts(truth[:n]))
        if histograms:
            save_png(histogram_image(counts), Path(histograms) / f"{split}_{n}.png")
        accuracy = float((predicted[:n] == truth[:n]).double().mean())
        rows.append({"split": split, "num_samples": n, "modes": read.modes, "kl": read.kl,
                     "true_modes": true.modes, "true_kl": true.kl, "triplet_accuracy": accuracy})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", default="train,val,test", help="comma-separated digit splits to stack")
    parser.add_argument("--counts", default=",".join(map(str, COUNTS)), help="comma-separated sample counts")
    parser.add_argument("--histograms", help="a folder for each row's triplet histogram (SPLIT_N.png)")
    args = parser.parse_args(argv)
    counts = tuple(int(c) for c in args.counts.split(","))
    classifier = load_digit_classifier()
    rows = [row for split in args.splits.split(",") for row in floor(split, counts, classifier, args.histograms)]
    print("| split (digits stacked) | samples | modes | KL | true triplets: modes | true triplets: KL | triplets read right |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['split']} | {r['num_samples']:,} | {r['modes']} | {r['kl']:.3f} | {r['true_modes']} | "
              f"{r['true_kl']:.3f} | {100 * r['triplet_accuracy']:.1f}% |")
    return rows


if __name__ == "__main__":
    main()
