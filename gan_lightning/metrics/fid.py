"""FID and KID through torchmetrics, with Inception-v3 or the shipped digit classifier as extractor.

Extraction is ours, the statistics are torchmetrics': each extractor turns data-space images
(N, C, H, W) in [-1, 1] into features once, and those features feed both
``FrechetInceptionDistance`` and ``KernelInceptionDistance`` through a pass-through ``feature``
module. So FID and KID never extract twice, real features can be cached, and under DDP
torchmetrics synchronises the states (sums and covariances for FID, features for KID).

Extractors (the name goes into the logged metric name, e.g. ``val/fid_digits_5k``):

- ``digits``: the shipped digit classifier's 128 pooled features; 1-channel images of side
  16..128, resized to 32 px (bilinear, antialiased) when they are not 32 px. Works offline.
- ``inception``: torchmetrics' Inception-v3 (torch-fidelity's port of the TF FID weights, 2048
  pool features). Images are mapped to uint8, grey is repeated to RGB, and torchmetrics resizes
  to 299 px with bilinear antialiased interpolation (its default since 1.8; the original TF FID
  code did not antialias, so numbers differ slightly from papers that used it).
"""

import math
import urllib.error
import warnings
from typing import Literal

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3
from torchmetrics.image.kid import KernelInceptionDistance

from gan_lightning.metrics.classifier import load_digit_classifier

ExtractorName = Literal["digits", "inception"]
MetricName = Literal["fid", "kid"]
METRICS: tuple[str, ...] = ("fid", "kid")


class InceptionExtractor(nn.Module):
    """torchmetrics' Inception-v3 pool features of data-space images in [-1, 1].

    Args:
        weights_path: a local copy of torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``;
            None downloads it (once, into the torch hub cache).
        antialias: resize to 299 px with antialiasing (torchmetrics' default) or, with False,
            like TF1's bilinear resize of the original FID code.
    """

    num_features = 2048

    def __init__(self, weights_path: str | None = None, antialias: bool = True) -> None:
        super().__init__()
        try:
            self.inception = NoTrainInceptionV3(
                name="inception-v3-compat", features_list=["2048"],
                feature_extractor_weights_path=weights_path, antialias=antialias,
            )
        except (urllib.error.URLError, OSError, RuntimeError) as err:
            where = f"from {weights_path}" if weights_path else "(downloaded from GitHub by torch-fidelity)"
            raise RuntimeError(
                f"Could not load the Inception-v3 weights {where}: {type(err).__name__}: {err}. "
                "Without network, use the offline extractor: extractor='digits' (the shipped digit "
                "classifier, for 1-channel digits), or copy weights-inception-2015-12-05-6726825d.pth "
                "to this machine and pass inception_weights_path."
            ) from None

    @staticmethod
    def check_input(shape: tuple[int, ...]) -> None:
        """Raise a ValueError naming the problem if images of ``shape`` (C, H, W) cannot be used."""
        if len(shape) != 3 or shape[0] not in (1, 3):
            raise ValueError(
                f"Inception-v3 takes 1- or 3-channel images (C, H, W) but the data has samples of "
                f"shape {tuple(shape)}. FID/KID need image data."
            )

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(tuple(x.shape[1:]))
        x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.inception(x)


def build_extractor(name: ExtractorName, inception_weights_path: str | None = None) -> nn.Module:
    """The feature extractor called ``name``, in eval mode, without gradients."""
    if name == "digits":
        return load_digit_classifier()
    if name == "inception":
        return InceptionExtractor(inception_weights_path).eval().requires_grad_(False)
    raise ValueError(f"Unknown extractor {name!r}: use 'digits' (offline, 1-channel digits) or 'inception'.")


def check_extractor_input(extractor: nn.Module, sample_shape: tuple[int, ...]) -> None:
    """Fail before any work if the extractor cannot take samples of ``sample_shape``."""
    extractor.check_input(tuple(sample_shape))


def count_label(n: int) -> str:
    """5000 -> '5k', 10000 -> '10k', 2500 -> '2500': the sample count in a metric name."""
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def metric_name(metric: str, extractor: str, num_samples: int, prefix: str = "val/") -> str:
    """The logged name, carrying the protocol: e.g. ``val/fid_digits_5k``."""
    return f"{prefix}{metric}_{extractor}_{count_label(num_samples)}"


class PassThrough(nn.Module):
    """The ``feature`` module handed to torchmetrics: features are already extracted."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


def warn_if_rank_deficient(num_samples: int, num_features: int) -> None:
    """FID's covariance from n samples has rank <= n - 1: warn below num_features + 1."""
    if num_samples < num_features + 1:
        warnings.warn(
            f"FID from {num_samples} samples of {num_features}-dim features: the covariance has rank "
            f"at most {num_samples - 1} < {num_features}, so FID is biased and unstable. Use at least "
            f"{num_features + 1} samples (the minimum for a full-rank covariance; papers use 10k-50k "
            "with Inception).",
            stacklevel=2,
        )


def compute_metrics(
    real: Tensor,
    fake: Tensor,
    metrics: tuple[str, ...] = METRICS,
    num_real: int | None = None,
    num_fake: int | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """FID and/or KID between real and fake features, synchronised over DDP ranks by torchmetrics.

    Args:
        real, fake: this rank's share of the (N, F) features.
        metrics: any of "fid", "kid".
        num_real, num_fake: the totals over all ranks (this rank's counts when not distributed).
        kid_subsets, kid_subset_size: KID is averaged over ``kid_subsets`` random subsets of
            ``min(kid_subset_size, num_real, num_fake)`` samples, drawn with ``seed`` so that
            every rank and every evaluation uses the same subsets.
    Returns:
        {"fid": ..., "kid": ..., "kid_std": ...} for the requested metrics.
    """
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"Unknown metrics {sorted(unknown)}: choose from {list(METRICS)}.")
    num_real = real.shape[0] if num_real is None else num_real
    num_fake = fake.shape[0] if num_fake is None else num_fake
    num_features = real.shape[1]
    out: dict[str, float] = {}
    if "fid" in metrics:
        warn_if_rank_deficient(min(num_real, num_fake), num_features)
        fid = FrechetInceptionDistance(feature=PassThrough(num_features)).to(real.device)
        fid.update(real, real=True)
        fid.update(fake, real=False)
        out["fid"] = fid.compute().item()
    if "kid" in metrics:
        subset_size = min(kid_subset_size, num_real, num_fake)
        with warnings.catch_warnings():  # keeping all features is the point: no note about it
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            kid = KernelInceptionDistance(
                feature=PassThrough(num_features), subsets=kid_subsets, subset_size=subset_size
            ).to(real.device)
        kid.update(real, real=True)
        kid.update(fake, real=False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            mean, std = kid.compute()
        out["kid"], out["kid_std"] = mean.item(), std.item()
    if not all(math.isfinite(v) for v in out.values()):
        warnings.warn(f"Non-finite metrics {out}: the generator may output NaN.", stacklevel=2)
    return out

