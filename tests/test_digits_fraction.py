"""ShippedDigitsDataModule(fraction=...): a seeded, class-balanced subset for small-data runs."""

import pytest
import torch

from gan_lightning.data import ShippedDigitsDataModule, load_shipped_digits
from gan_lightning.data.digits import balanced_subset


def test_fraction_keeps_the_same_balanced_subset_every_time():
    images, labels = load_shipped_digits(28)
    a, b = ShippedDigitsDataModule(28, fraction=0.1), ShippedDigitsDataModule(28, fraction=0.1)
    a.setup("fit"), b.setup("fit")
    assert a.data.shape == (500, 1, 28, 28) and torch.equal(a.data, b.data)
    index = balanced_subset(labels, 0.1)
    assert torch.equal(a.data, images[index])
    assert torch.bincount(labels[index]).tolist() == [50] * 10  # 500 per class in the 5,000
    assert len(index.unique()) == 500


def test_fraction_one_keeps_everything_and_a_bad_fraction_says_the_range():
    full = ShippedDigitsDataModule(28)
    full.setup("fit")
    assert full.data.shape[0] == 5000
    with pytest.raises(ValueError, match=r"in \(0, 1\]; got 1.5"):
        ShippedDigitsDataModule(fraction=1.5)
