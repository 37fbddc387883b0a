"""FID and KID through torchmetrics, with Inception-v3 or the shipped digit classifier as extractor.

Extraction is ours, the statistics are torchmetrics': each extractor turns data-space images
(N, C, H, W) in [-1, 1] into features once, and those features feed
``FrechetInceptionDistance``, ``KernelInceptionDistance`` (through a pass-through ``feature``
module) and precision/recall/density/coverage (``metrics/prdc.py``). So no metric extracts
twice and real features can be cached. The features given here are all of them (under DDP the
evaluator gathers the fakes first), so torchmetrics is told not to synchronise again.

Extractors (the name goes into the logged metric name, e.g. ``val/fid_digits_test1k_gen5k``):

- ``digits``: the shipped digit classifier's 128 pooled features; 1-channel images of side
  16..128, resized to 32 px (bilinear, antialiased) when they are not 32 px. Works offline.
- ``inception``: torchmetrics' Inception-v3 (torch-fidelity's port of the TF FID weights, 2048
  pool features). Images are mapped to uint8, grey is repeated to RGB, and torchmetrics resizes
  to 299 px with bilinear antialiased interpolation (``torch.nn.functional.interpolate``,
  antialias=True: its default since 1.8). torch-fidelity and the original TF FID code resize
  without antialiasing (TF1 bilinear), so numbers on images smaller than 299 px differ slightly
  from theirs; on 299 px images they agree (tests/test_inception.py).
"""

import math
import urllib.error
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3
from torchmetrics.image.kid import KernelInceptionDistance

from gan_lightning.metrics.classifier import load_digit_classifier
from gan_lightning.metrics.protocol import ExtractorName


INCEPTION_WEIGHTS_URL = (  # torch-fidelity's URL_INCEPTION_V3, which torchmetrics loads through it
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
)


def inception_cache_path() -> Path:
    """Where the weights are looked for, and downloaded to, when no path is given: torch's hub cache
    (``$TORCH_HOME/hub/checkpoints/``, by default ``~/.cache/torch/hub/checkpoints/``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_URL.rsplit("/", 1)[1]


class InceptionExtractor(nn.Module):
    """torchmetrics' Inception-v3 pool features of data-space images in [-1, 1].

    Args:
        weights_path: a local copy of torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``
            (nothing is downloaded); None reads ``inception_cache_path()``, downloading it there first
            if it is missing (``INCEPTION_WEIGHTS_URL``).
    """

    num_features = 2048

    def __init__(self, weights_path: str | None = None) -> None:
        super().__init__()
        try:
            self.inception = NoTrainInceptionV3(
                name="inception-v3-compat", features_list=["2048"],
                feature_extractor_weights_path=weights_path, antialias=True,
            )
        except (urllib.error.URLError, OSError, RuntimeError) as err:
            where = f"from {weights_path}" if weights_path else f"(downloaded from {INCEPTION_WEIGHTS_URL})"
            raise RuntimeError(
                f"Could not load the Inception-v3 weights {where}: {type(err).__name__}: {err}. "
                "Without network: for 1-channel digits, extractor='digits' needs no file; for Inception, "
                f"download the file on a machine with network and copy it to {inception_cache_path()} "
                "(read from there, no download) or anywhere and pass inception_weights_path "
                "(--inception_weights_path, --trainer.callbacks.inception_weights_path). See docs/real_data.md."
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


def fid_kid(
    real: Tensor,
    fake: Tensor,
    metrics: tuple[str, ...] = ("fid", "kid"),
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """FID and/or KID between all the (N, F) real and fake features (nothing is synchronised).

    KID is averaged over ``kid_subsets`` random subsets of ``min(kid_subset_size, N_real, N_fake)``
    samples, drawn with ``seed`` so that every rank and every evaluation uses the same subsets.
    Returns {"fid": ..., "kid": ..., "kid_std": ...} for the requested metrics.
    """
    num_features = real.shape[1]
    out: dict[str, float] = {}
    if "fid" in metrics:
        warn_if_rank_deficient(min(len(real), len(fake)), num_features)
        fid = FrechetInceptionDistance(feature=PassThrough(num_features), sync_on_compute=False).to(real.device)
        fid.update(real, real=True)
        fid.update(fake, real=False)
        out["fid"] = fid.compute().item()
    if "kid" in metrics:
        subset_size = min(kid_subset_size, len(real), len(fake))
        with warnings.catch_warnings():  # keeping all features is the point: no note about it
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            kid = KernelInceptionDistance(
                feature=PassThrough(num_features), subsets=kid_subsets, subset_size=subset_size, sync_on_compute=False
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
