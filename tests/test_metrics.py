"""FID/KID with the shipped digit classifier, its class metrics, the real-feature cache, the
Inception path without network, and the errors for data an extractor cannot take (the rest of
the protocol: tests/test_eval_protocol.py)."""

import urllib.error
import warnings

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from gan_lightning.data.digits import load_shipped_digits, split_indices
from gan_lightning.metrics.classifier import class_coverage, class_histogram, load_digit_classifier
from gan_lightning.metrics.evaluator import EvalData, GANEvaluator
from gan_lightning.metrics.fid import InceptionExtractor, build_extractor, fid_kid
from gan_lightning.metrics.modes import kl_to_uniform
from gan_lightning.metrics.protocol import EvalProtocol
from gan_lightning.module import GAN
from gan_lightning.networks import MLPDiscriminator, MLPGenerator


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    return load_shipped_digits(32)


@pytest.fixture(scope="module")
def classifier():
    return load_digit_classifier()


@pytest.fixture(scope="module")
def features(digits, classifier) -> dict[str, torch.Tensor]:
    """Features of two random halves of the digits, of noise, and of the 1s alone."""
    images, labels = digits
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    noise = torch.rand(1000, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        return {
            "a": classifier(images[perm[:2500]]),
            "b": classifier(images[perm[2500:]]),
            "noise": classifier(noise),
            "ones": classifier(images[labels == 1]),
        }


def test_fid_and_kid_order_real_halves_one_digit_and_noise(features):
    kid = dict(kid_subsets=10, kid_subset_size=400)  # the default 100 x 1000 takes ~10 s on 2 cores
    halves = fid_kid(features["a"], features["b"], **kid)
    ones = fid_kid(features["a"], features["ones"], **kid)
    noise = fid_kid(features["a"], features["noise"], **kid)
    assert halves["fid"] < 0.5 and abs(halves["kid"]) < 0.01
    assert 5 < ones["fid"] < noise["fid"] / 10
    assert 10 * max(halves["kid"], 0.01) < ones["kid"] < noise["kid"] / 10
    assert noise["fid"] > 100


def test_shipped_classifier_accuracy_and_class_metrics(digits, classifier):
    images, labels = digits
    test = split_indices(labels)["test"]  # the classifier never saw these
    probs = classifier.predict_proba(images[test])
    assert (probs.argmax(1) == labels[test]).float().mean() > 0.95
    assert classifier.num_features == 128 and classifier.test_accuracy > 0.95
    one_class = probs[labels[test] == 7]
    assert torch.isclose(class_histogram(probs).sum(), torch.tensor(1.0))
    assert class_coverage(probs) == 1.0 and class_coverage(one_class) < 0.25  # a stray misread may count
    assert kl_to_uniform(class_histogram(probs)) < 0.05 < 1.5 < kl_to_uniform(class_histogram(one_class))


class CountingDataset(Dataset):
    """Counts every real image read, to prove the cache is used."""

    def __init__(self, images: torch.Tensor) -> None:
        self.data = TensorDataset(images)
        self.reads = 0

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        self.reads += 1
        return self.data[i]


def digit_gan() -> GAN:
    torch.manual_seed(0)
    netG = MLPGenerator(latent_dim=8, out_shape=[1, 32, 32], output_activation="tanh")
    return GAN(netG, MLPDiscriminator(in_shape=[1, 32, 32], hidden=[8])).eval()


def test_real_features_are_computed_once_and_cached_on_disk(digits, tmp_path):
    data = EvalData("digits1000", CountingDataset(digits[0][:1000]), "test", train=None)
    gan = digit_gan()
    protocol = EvalProtocol(num_samples=300, metrics=("fid", "kid"), kid_subset_size=100, kid_subsets=5)
    first = GANEvaluator(protocol, cache_dir=str(tmp_path))
    values = first.evaluate(gan, data)
    assert data.reference.reads == 300 and len(list(tmp_path.glob("real_digits1000_test_digits-*_300_seed0.pt"))) == 1
    assert first.evaluate(gan, data) == values  # memory: same latents, same subsets
    second = GANEvaluator(protocol, cache_dir=str(tmp_path))
    assert second.evaluate(gan, data) == values  # disk
    assert data.reference.reads == 300
    assert set(values) == {"val/fid_digits_test300_gen300", "val/kid_digits_test300_gen300", "val/kid_std_digits_test300_gen300"}
    GANEvaluator(EvalProtocol(num_samples=200, metrics=("fid",)), cache_dir=str(tmp_path)).evaluate(gan, data)
    assert data.reference.reads == 500  # another sample count is another protocol


def test_inception_download_failure_names_the_offline_extractor(monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match="extractor='digits'.*inception_weights_path"):
        build_extractor("inception")


def test_inception_extractor_builds_and_maps_grey_digits_to_2048_features(monkeypatch, digits):
    """The real architecture with random weights (the TF-ported weights cannot be downloaded here)."""
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: {})
    monkeypatch.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
    extractor = build_extractor("inception")
    assert isinstance(extractor, InceptionExtractor) and extractor.num_features == 2048
    with torch.no_grad():
        out = extractor(digits[0][:2])
    assert out.shape == (2, 2048) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="1- or 3-channel"):
        extractor.check_input((2,))


def test_extractor_rejects_images_it_cannot_take(classifier):
    with pytest.raises(ValueError, match="1-channel.*extractor='inception'"):
        classifier(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="side 16..128"):
        classifier.check_input((1, 8, 8))
    evaluator = GANEvaluator(EvalProtocol(num_samples=100), cache_dir=None)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        evaluator.check_data((2,))


def test_too_few_samples_for_a_full_rank_covariance_warns_with_the_minimum(features):
    with pytest.warns(UserWarning, match="at least 129 samples"):
        fid_kid(features["a"][:100], features["b"][:100], metrics=("fid",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fid_kid(features["a"][:200], features["b"][:200], metrics=("fid",))


def test_loading_the_digit_classifier_leaves_the_training_random_stream_alone():
    # the metrics callback loads it mid-run: its layers' throwaway random init used to shift
    # every later draw of the training (data order, latents), so tracking FID changed the run
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load_digit_classifier()
    assert torch.equal(torch.rand(3), expected)
