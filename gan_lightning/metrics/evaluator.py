"""The evaluation protocol run on a GAN: FID/KID, precision/recall/density/coverage and the
memorisation ratio of its generator, against held-out real data, with real features cached.

Shared by the metrics callback (during training, on every rank) and ``gan-lightning evaluate``
(one process). The reference is the datamodule's held-out split when it has one
(``reference_dataset()``: the shipped digits' ``test`` split, torchvision's ``train=False``);
otherwise the training data itself, and the metric names then say ``train``. Real features are
extracted once per (data, split, extractor, sample count, seed): kept in memory, and on disk
under ``cache_dir``. Fakes come from ``GAN.generate`` (the EMA G when there is one, in eval mode,
without gradients) from latents drawn with a fixed seed, so successive evaluations compare the
same z. Under DDP each rank makes its slice of the fakes, the slices are gathered, and every
rank computes the same numbers from all of them.
"""

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from gan_lightning.conditioning import balanced_labels
from gan_lightning.metrics.classifier import DIGIT_CLASSIFIER_PATH
from gan_lightning.metrics.fid import build_extractor, fid_kid
from gan_lightning.metrics.prdc import density_coverage, memorisation_ratio, precision_recall
from gan_lightning.metrics.protocol import PRDC_KEYS, EvalProtocol, ExtractorName, count_label, metric_name
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


@dataclass
class EvalData:
    """What generated samples are compared with.

    Attributes:
        key: names the data in cache files (``dataset_key``).
        reference: the real data of FID/KID/PRDC and of the memorisation ratio's denominator.
        reference_split: its name in the metric names ("test"; "train" when it is the training data).
        train: the data G trains on, when it differs from ``reference`` (else None: no memorisation ratio).
        train_split: its name ("train" for the shipped digits' default).
        note: why the reference is not held out, when it is not.
    """

    key: str
    reference: Dataset
    reference_split: str
    train: Dataset | None
    train_split: str = "train"
    note: str | None = None


def eval_data(datamodule: object) -> EvalData:
    """The held-out split of the datamodule's data when it has one, else its training data (named so)."""
    datamodule.setup("fit")
    train = datamodule.train_dataloader().dataset
    key = dataset_key(datamodule)
    train_split = getattr(datamodule, "split", "train")
    if callable(getattr(datamodule, "reference_dataset", None)):
        split = datamodule.reference_split()
        if split != train_split:
            return EvalData(key, datamodule.reference_dataset(), split, train, train_split)
        note = f"the reference is the training data ({split}): it has no held-out split."
    else:
        split = "train"
        note = f"{type(datamodule).__name__} has no held-out split: the reference is the training data."
    return EvalData(key, train, split, None, split, note + " Memorisation is left out and FID/KID/PRDC cannot detect copying.")


def default_extractor(datamodule: object) -> ExtractorName:
    """The extractor for this data when none is chosen: the datamodule's ``eval_extractor`` when it
    names one (FashionMNIST: Inception, the digit classifier never saw clothes), else the digit
    classifier for 1-channel images and Inception-v3 for colour."""
    chosen = getattr(datamodule, "eval_extractor", None)
    if chosen is not None:
        return chosen
    return "digits" if tuple(datamodule.sample_shape)[:1] == (1,) else "inception"


def seeded_subset(size: int, n: int, seed: int) -> Tensor:
    """Indices of the seeded random subset of ``n`` of ``size`` items (the real samples used)."""
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n]


def gather_rows(x: Tensor, total: int, world_size: int) -> Tensor:
    """All ranks' interleaved slices ``rows[rank::world_size]`` of ``total`` rows, in order, on every rank."""
    if world_size == 1:
        return x
    per_rank = math.ceil(total / world_size)
    padded = x.new_zeros(per_rank, *x.shape[1:])
    padded[: len(x)] = x
    parts = [torch.empty_like(padded) for _ in range(world_size)]
    dist.all_gather(parts, padded)
    return torch.stack(parts, dim=1).flatten(0, 1)[:total]  # row j * world_size + r is rank r's j-th


class GANEvaluator:
    """Runs an ``EvalProtocol``; returns the values under names that carry it (``metric_name``).

    Args:
        protocol: what to compute and how (see ``EvalProtocol``).
        batch_size: images per generator / extractor call.
        cache_dir: where real features are kept between runs (None: memory only).
    """

    def __init__(self, protocol: EvalProtocol, batch_size: int = 500, cache_dir: str | None = DEFAULT_CACHE_DIR) -> None:
        self.protocol = protocol
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.extractor: nn.Module = build_extractor(protocol.extractor, protocol.inception_weights_path)
        self._real: dict[str, Tensor] = {}

    def check_data(self, sample_shape: tuple[int, ...]) -> None:
        """A ValueError naming the mismatch if the extractor cannot take these samples."""
        self.extractor.check_input(tuple(sample_shape))

    def extractor_key(self) -> str:
        if self.protocol.extractor == "digits":
            return f"digits-{hashlib.sha256(DIGIT_CLASSIFIER_PATH.read_bytes()).hexdigest()[:8]}"
        return "inception-2048-antialias"

    @torch.no_grad()
    def extract(self, images: Tensor) -> Tensor:
        """Features of data-space images, in batches, on the extractor's device."""
        device = next(self.extractor.parameters()).device
        return torch.cat([self.extractor(chunk.to(device)) for chunk in images.split(self.batch_size)])

    def real_features(self, dataset: Dataset, key: str, split: str, limit: int) -> Tensor:
        """(n, F) CPU features of ``seeded_subset(len(dataset), limit)``: from memory, disk, or the data."""
        n = min(limit, len(dataset))
        name = f"real_{key}_{split}_{self.extractor_key()}_{count_label(n)}_seed{self.protocol.seed}"
        if name in self._real:
            return self._real[name]
        path = self.cache_dir / f"{name}.pt" if self.cache_dir is not None else None
        if path is not None and path.is_file():
            features = torch.load(path, map_location="cpu", weights_only=True)
        else:
            index = seeded_subset(len(dataset), n, self.protocol.seed)
            loader = DataLoader(Subset(dataset, index.tolist()), batch_size=self.batch_size)
            features = torch.cat([self.extract(b[0] if isinstance(b, (list, tuple)) else b).cpu() for b in loader])
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")  # ranks may write at once: rename is atomic
                torch.save(features, tmp)
                os.replace(tmp, path)
        self._real[name] = features
        return features

    def train_features(self, data: EvalData) -> Tensor:
        """Features of (up to ``num_train``) training samples, for memorisation and nearest neighbours."""
        if data.train is None:
            raise ValueError(f"No training data distinct from the reference: {data.note}")
        return self.real_features(data.train, data.key, data.train_split, self.protocol.num_train)

    @torch.no_grad()
    def fake_features(self, gan: GAN, rank: int = 0, world_size: int = 1) -> Tensor:
        """CPU features of all ``num_samples`` fakes from the seeded latents (each rank makes a slice);
        a conditional GAN's fakes come with class-balanced labels."""
        n = self.protocol.num_samples
        z = gan.draw_latent(n, torch.Generator().manual_seed(self.protocol.seed))[rank::world_size]
        labels = None if gan.num_classes is None else balanced_labels(n, gan.num_classes)[rank::world_size]
        return gather_rows(self.extract(gan.generate(z, self.batch_size, labels)), n, world_size).cpu()

    def metric_names(self, data: EvalData) -> dict[str, str]:
        """The name each value of ``evaluate(gan, data)`` is logged under ({"fid":
        "val/fid_digits_val500_gen5k", "precision": ..., ...}), known before anything is generated:
        what a ModelCheckpoint ``monitor`` or a sweep's metric must say."""
        p = self.protocol
        n_real, n_fake = min(p.num_samples, len(data.reference)), p.num_samples
        n_prdc = min(n_real, n_fake)  # k-NN radii depend on the sample count: equal counts, as in both papers
        counts: dict[str, tuple[str, int, int]] = {}
        if "fid" in p.metrics:
            counts["fid"] = (data.reference_split, n_real, n_fake)
        if "kid" in p.metrics:
            counts.update({k: (data.reference_split, n_real, n_fake) for k in ("kid", "kid_std")})
        if "prdc" in p.metrics:
            counts.update({k: (data.reference_split, n_prdc, n_prdc) for k in PRDC_KEYS})
        if "memorisation" in p.metrics and data.train is not None:
            counts["memorisation"] = (data.train_split, min(p.num_train, len(data.train)), n_fake)
        return {k: metric_name(k, p.extractor, split, n_r, n_f) for k, (split, n_r, n_f) in counts.items()}

    def evaluate(self, gan: GAN, data: EvalData, rank: int = 0, world_size: int = 1) -> dict[str, float]:
        """{metric name: value}, the same on every rank. Under DDP every rank must call this."""
        p = self.protocol
        self.extractor.to(gan.device)
        real = self.real_features(data.reference, data.key, data.reference_split, p.num_samples)
        fake = self.fake_features(gan, rank, world_size)
        values: dict[str, float] = {}
        if "fid" in p.metrics or "kid" in p.metrics:
            wanted = tuple(m for m in ("fid", "kid") if m in p.metrics)
            values.update(fid_kid(real, fake, wanted, p.kid_subsets, p.kid_subset_size, p.seed))
        if "prdc" in p.metrics:
            n = min(len(real), len(fake))
            prdc = {**precision_recall(real[:n], fake[:n], p.precision_recall_k),
                    **density_coverage(real[:n], fake[:n], p.density_coverage_k)}
            values.update({k: prdc[k] for k in PRDC_KEYS})
        if "memorisation" in p.metrics and data.train is not None:
            values["memorisation"] = memorisation_ratio(fake, self.train_features(data), real)
        names = self.metric_names(data)
        return {names[k]: v for k, v in values.items()}
