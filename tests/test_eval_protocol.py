"""The evaluation protocol's pieces: the fixed digits split, precision/recall/density/coverage on
a hand-computed example, the memorisation ratio of copying and generalising "generators", and
the protocol's round trip through a checkpoint's callback state."""

import pytest
import torch
from torch import Tensor, nn

from gan_lightning.data.digits import ShippedDigitsDataModule, load_shipped_digits, split_indices
from gan_lightning.metrics.evaluator import GANEvaluator, eval_data
from gan_lightning.metrics.prdc import density_coverage, kth_neighbour_distance, memorisation_ratio, precision_recall
from gan_lightning.metrics.protocol import EvalProtocol, metric_name
from gan_lightning.module import GAN
from gan_lightning.networks import MLPDiscriminator


def test_digits_split_is_balanced_disjoint_and_seeded():
    _, labels = load_shipped_digits()
    split = split_indices(labels)
    train, val, test = split["train"], split["val"], split["test"]
    assert (len(train), len(val), len(test)) == (3500, 500, 1000)
    assert torch.bincount(labels[train]).tolist() == [350] * 10
    assert torch.bincount(labels[val]).tolist() == [50] * 10
    assert torch.bincount(labels[test]).tolist() == [100] * 10
    assert not set(train.tolist()) & set(test.tolist()) and not set(val.tolist()) & (set(train.tolist()) | set(test.tolist()))
    assert torch.equal(split_indices(labels)["test"], test)  # the same indices every time
    assert test[:5].tolist() == [7, 11, 20, 24, 29]  # and the same as when the protocol was fixed
    assert not torch.equal(split_indices(labels, seed=1)["test"], test)


def test_datamodule_trains_on_train_and_refers_to_val_or_test():
    dm = ShippedDigitsDataModule(image_size=28)
    dm.setup("fit")
    assert dm.data.shape == (3500, 1, 28, 28)
    data = eval_data(dm)  # choosing settings: the validation digits
    assert (data.reference_split, len(data.reference), data.train_split, len(data.train)) == ("val", 500, "train", 3500)
    data = eval_data(ShippedDigitsDataModule(image_size=28, reference="test"))  # reporting: the test digits
    assert (data.reference_split, len(data.reference)) == ("test", 1000)
    everything = eval_data(ShippedDigitsDataModule(image_size=28, split="all"))
    assert everything.reference_split == "all" and everything.train is None and "no held-out" in everything.note
    with pytest.raises(ValueError, match="split must be"):
        ShippedDigitsDataModule(split="validation")
    with pytest.raises(ValueError, match="reference must be 'val'"):
        ShippedDigitsDataModule(reference="train")


def column(*values: float) -> Tensor:
    return torch.tensor(values, dtype=torch.float64).unsqueeze(1)


def test_prdc_on_a_hand_computed_example():
    # 1-D features. k=1: real radii [1, 1, 1, 1, 7] (10's nearest real is 3); fake radii [1, 1, 18.5]
    real, fake = column(0, 1, 2, 3, 10), column(0.5, 1.5, 20)
    assert kth_neighbour_distance(real, 1).tolist() == [1, 1, 1, 1, 7]
    assert kth_neighbour_distance(real, 2).tolist() == [2, 1, 1, 2, 8]
    # precision: 0.5 and 1.5 lie in real balls, 20 is 10 from 10 (> 7): 2/3.
    # recall: every real lies in a fake ball, the outlier 20's ball (radius 18.5) takes 3 and 10: 1.
    assert precision_recall(real, fake, k=1) == pytest.approx({"precision": 2 / 3, "recall": 1.0})
    # density: 0.5 is in the balls of 0 and 1, 1.5 in those of 1 and 2, 20 in none: 4 / (k=1 * 3 fakes).
    # coverage: the balls of 0, 1, 2 hold a fake, those of 3 and 10 do not: 3/5 (the outlier cannot help).
    assert density_coverage(real, fake, k=1) == pytest.approx({"density": 4 / 3, "coverage": 0.6})
    with pytest.raises(ValueError, match="with k=3 need more than 3"):
        precision_recall(real[:3], fake, k=3)


class Lookup(nn.Module):
    """A "generator" that returns stored images, chosen by z: copies a data set."""

    latent_dim = 4

    def __init__(self, images: Tensor) -> None:
        super().__init__()
        self.register_buffer("images", images)

    def forward(self, z: Tensor) -> Tensor:
        return self.images[(z[:, 0].abs() * 1e4).long() % len(self.images)]


@pytest.fixture(scope="module")
def digits_data():
    return eval_data(ShippedDigitsDataModule(image_size=32))


def memorisation_of(images: Tensor, data) -> float:
    gan = GAN(Lookup(images), MLPDiscriminator(in_shape=[1, 32, 32], hidden=[8])).eval()
    evaluator = GANEvaluator(EvalProtocol(num_samples=1000, metrics=("memorisation",)), cache_dir=None)
    (value,) = evaluator.evaluate(gan, data).values()
    return value


def test_memorisation_ratio_is_zero_for_a_copier_and_one_for_unseen_digits(digits_data):
    train = digits_data.train.tensors[0]
    test = digits_data.reference.tensors[0]
    assert memorisation_of(train, digits_data) < 1e-3  # 0 up to batched-extraction rounding
    assert 0.9 < memorisation_of(test, digits_data) < 1.1
    assert memorisation_ratio(column(0, 5), column(0, 1), column(2, 3)) == pytest.approx(2 / 1.5)  # medians 2, 1.5


def test_protocol_round_trips_and_names_carry_it():
    protocol = EvalProtocol(num_samples=300, metrics=["fid", "prdc"], seed=3)
    assert EvalProtocol.from_dict(protocol.to_dict()) == protocol
    assert EvalProtocol.from_dict({"num_samples": 300, "obsolete": 1}, seed=None).num_samples == 300
    assert EvalProtocol.from_dict(protocol.to_dict(), num_samples=600).num_samples == 600
    assert metric_name("fid", "digits", "test", 1000, 5000) == "val/fid_digits_test1k_gen5k"
    assert metric_name("precision", "inception", "test", 10000, 10000) == "val/precision_inception_test10k_gen10k"
    assert metric_name("fid", "digits", "train", 2500, 2500) == "val/fid_digits_train2500_gen2500"
    with pytest.raises(ValueError, match="subset of"):
        EvalProtocol(metrics=["fid", "is"])
