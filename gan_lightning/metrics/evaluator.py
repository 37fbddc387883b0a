"""FID/KID of a GAN's generator against its real data, with the real features cached.

Shared by the metrics callback (during training, on every rank) and ``gan-lightning evaluate``
(one process). Real features are extracted once per (data set, split, extractor, sample count):
kept in memory, and on disk under ``cache_dir`` so that later runs and ``evaluate`` skip the
real data entirely. Fakes come from ``GAN.generate`` (the EMA G when there is one, in
eval mode, without gradients, in batches), from latents drawn with a fixed seed, so successive
evaluations compare the same z and every rank makes its own slice of the same sample set.
"""

import hashlib
import json
import os
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from gan_lightning.conditioning import balanced_labels
from gan_lightning.metrics.classifier import DIGIT_CLASSIFIER_PATH
from gan_lightning.metrics.fid import (
    METRICS,
    ExtractorName,
    build_extractor,
    compute_metrics,
    count_label,
    metric_name,
)
from gan_lightning.module import GAN

DEFAULT_CACHE_DIR = "~/.cache/gan_lightning"
LOADER_HPARAMS = ("batch_size", "num_workers", "drop_last")  # they do not change the data


def dataset_key(datamodule: object) -> str:
    """A file-name-safe name for the data a datamodule serves: class and data-defining hparams."""
    hparams = {
        k: v for k, v in dict(getattr(datamodule, "hparams", {})).items()
        if k not in LOADER_HPARAMS and not k.startswith("_")  # nor do the CLI's _class_path, _instantiator
    }
    digest = hashlib.sha256(json.dumps(hparams, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{type(datamodule).__name__}-{digest}"


def data_split(datamodule: object) -> str:
    """The split the GAN trains on: 'test' only for a datamodule built with ``train=False``."""
    return "train" if dict(getattr(datamodule, "hparams", {})).get("train", True) else "test"


def real_dataset(datamodule: object) -> Dataset:
    """The map-style data set behind the datamodule's training loader."""
    datamodule.setup("fit")
    return datamodule.train_dataloader().dataset


class GANEvaluator:
    """Computes FID/KID named by their protocol, e.g. ``val/fid_digits_5k``.

    Args:
        extractor: "digits" (the shipped digit classifier, offline) or "inception".
        num_samples: generated samples per evaluation, and real samples (at most the data set's size).
        metrics: any of "fid", "kid".
        batch_size: images per generator / extractor call.
        cache_dir: where real features are kept between runs (None: memory only).
        kid_subset_size: KID subset size (capped at the sample counts).
        kid_subsets: number of KID subsets (the KID paper's 100 costs ~10 s on 2 CPU cores).
        seed: seed of the real subset, the latents and the KID subsets.
        inception_weights_path: a local Inception-v3 weights file for offline use.
        prefix: prefix of the metric names.
    """

    def __init__(
        self,
        extractor: ExtractorName = "digits",
        num_samples: int = 5000,
        metrics: tuple[str, ...] | list[str] = METRICS,
        batch_size: int = 500,
        cache_dir: str | None = DEFAULT_CACHE_DIR,
        kid_subset_size: int = 1000,
        kid_subsets: int = 100,
        seed: int = 0,
        inception_weights_path: str | None = None,
        prefix: str = "val/",
    ) -> None:
        unknown = set(metrics) - set(METRICS)
        if unknown or not metrics:
            raise ValueError(f"metrics must be a non-empty subset of {list(METRICS)}, got {list(metrics)}.")
        if num_samples < 2:
            raise ValueError(f"num_samples must be >= 2 for a covariance, got {num_samples}.")
        self.extractor_name = extractor
        self.num_samples = num_samples
        self.metrics = tuple(metrics)
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.kid_subset_size = kid_subset_size
        self.kid_subsets = kid_subsets
        self.seed = seed
        self.inception_weights_path = inception_weights_path
        self.prefix = prefix
        self.extractor: nn.Module = build_extractor(extractor, inception_weights_path)
        self._real: dict[str, Tensor] = {}

    def names(self) -> dict[str, str]:
        """{"fid": "val/fid_digits_5k", ...}: the logged name of each computed value."""
        keys = [k for m in self.metrics for k in ((m,) if m == "fid" else (m, f"{m}_std"))]
        return {k: metric_name(k, self.extractor_name, self.num_samples, self.prefix) for k in keys}

    def check_data(self, sample_shape: tuple[int, ...]) -> None:
        """A ValueError naming the mismatch if the extractor cannot take these samples."""
        self.extractor.check_input(tuple(sample_shape))

    def extractor_key(self) -> str:
        if self.extractor_name == "digits":
            return f"digits-{hashlib.sha256(DIGIT_CLASSIFIER_PATH.read_bytes()).hexdigest()[:8]}"
        return "inception-2048-antialias"

    @torch.no_grad()
    def extract(self, images: Tensor) -> Tensor:
        """Features of data-space images, in batches, on the extractor's device."""
        device = next(self.extractor.parameters()).device
        return torch.cat([self.extractor(chunk.to(device)) for chunk in images.split(self.batch_size)])

    def real_features(self, dataset: Dataset, key: str, split: str = "train") -> Tensor:
        """(n, F) features of a seeded random subset of ``dataset``: from memory, disk, or the data."""
        n = min(self.num_samples, len(dataset))
        name = f"real_{key}_{split}_{self.extractor_key()}_{count_label(n)}_seed{self.seed}"
        if name in self._real:
            return self._real[name]
        path = self.cache_dir / f"{name}.pt" if self.cache_dir is not None else None
        if path is not None and path.is_file():
            features = torch.load(path, map_location="cpu", weights_only=True)
        else:
            index = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(self.seed))[:n]
            loader = DataLoader(Subset(dataset, index.tolist()), batch_size=self.batch_size)
            features = torch.cat([self.extract(b[0] if isinstance(b, (list, tuple)) else b).cpu() for b in loader])
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")  # ranks may write at once: rename is atomic
                torch.save(features, tmp)
                os.replace(tmp, path)
        self._real[name] = features
        return features

    @torch.no_grad()
    def fake_features(self, gan: GAN, rank: int = 0, world_size: int = 1) -> Tensor:
        """This rank's slice of the features of ``num_samples`` fakes from the seeded latents."""
        z = gan.draw_latent(self.num_samples, torch.Generator().manual_seed(self.seed))[rank::world_size]
        labels = None if gan.num_classes is None else balanced_labels(self.num_samples, gan.num_classes)[rank::world_size]
        return self.extract(gan.generate(z, self.batch_size, labels))

    def evaluate(self, gan: GAN, dataset: Dataset, key: str, split: str = "train", rank: int = 0, world_size: int = 1) -> dict[str, float]:
        """{metric name: value}. Under DDP every rank calls this; torchmetrics syncs the states."""
        self.extractor.to(gan.device)
        real = self.real_features(dataset, key, split)
        fake = self.fake_features(gan, rank, world_size)
        values = compute_metrics(
            real[rank::world_size].to(gan.device), fake, self.metrics,
            num_real=len(real), num_fake=self.num_samples,
            kid_subsets=self.kid_subsets, kid_subset_size=self.kid_subset_size, seed=self.seed,
        )
        return {self.names()[k]: v for k, v in values.items()}
