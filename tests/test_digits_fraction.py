"""ShippedDigitsDataModule(fraction=...): a seeded, class-balanced subset for small-data runs."""

import pytest
import torch

from gan_lightning.data import ShippedDigitsDataModule
from gan_lightning.data.digits import balanced_subset, load_digits_split


def test_fraction_keeps_the_same_balanced_subset_every_time():
    images, labels = load_digits_split("train", 28)
    a, b = ShippedDigitsDataModule(28, fraction=0.1), ShippedDigitsDataModule(28, fraction=0.1)
    a.setup("fit"), b.setup("fit")
    assert a.data.shape == (350, 1, 28, 28) and torch.equal(a.data, b.data)  # 10% of the train split
    index = balanced_subset(labels, 0.1)
    assert torch.equal(a.data, images[index])
    assert torch.bincount(labels[index]).tolist() == [35] * 10  # 350 per class in the 3,500
    assert len(index.unique()) == 350


def test_fraction_one_keeps_everything_and_a_bad_fraction_says_the_range():
    full = ShippedDigitsDataModule(28)
    full.setup("fit")
    assert full.data.shape[0] == 3500
    with pytest.raises(ValueError, match=r"in \(0, 1\]; got 1.5"):
        ShippedDigitsDataModule(fraction=1.5)
