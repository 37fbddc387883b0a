"""The evaluation protocol in one place: what is compared with what, and the names that say so.

``EvalProtocol`` is built by ``MetricsCallback`` (from its arguments), saved in its
``state_dict`` (so in every checkpoint), and rebuilt by ``gan-lightning evaluate``: training-time
and after-the-fact numbers come from the same settings. See docs/metrics.md for the protocol.
"""

from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

ExtractorName = Literal["digits", "inception"]
METRICS: tuple[str, ...] = ("fid", "kid", "prdc", "memorisation")
PRDC_KEYS = ("precision", "recall", "density", "coverage")


@dataclass(frozen=True)
class EvalProtocol:
    """The settings that change the numbers (batch size and cache location do not).

    Args:
        extractor: "digits" (the shipped digit classifier, offline) or "inception".
        num_samples: generated samples per evaluation; also the most reference samples used.
        metrics: any of "fid", "kid", "prdc" (precision, recall, density, coverage), "memorisation".
        kid_subsets: number of KID subsets (the KID paper's 100 costs ~10 s on 2 CPU cores).
        kid_subset_size: KID subset size (capped at the sample counts).
        precision_recall_k: k of the k-NN balls of precision/recall (Kynkäänniemi et al.: 3).
        density_coverage_k: k of density/coverage (Naeem et al.: 5).
        num_train: the most training samples the memorisation ratio searches for nearest neighbours.
        seed: seed of the real subsets, the latents and the KID subsets.
        inception_weights_path: a local Inception-v3 weights file for machines without network.
    """

    extractor: ExtractorName = "digits"
    num_samples: int = 5000
    metrics: tuple[str, ...] = METRICS
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    precision_recall_k: int = 3
    density_coverage_k: int = 5
    num_train: int = 50_000
    seed: int = 0
    inception_weights_path: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))
        unknown = set(self.metrics) - set(METRICS)
        if unknown or not self.metrics:
            raise ValueError(f"metrics must be a non-empty subset of {list(METRICS)}, got {list(self.metrics)}.")
        if self.extractor not in ("digits", "inception"):
            raise ValueError(f"Unknown extractor {self.extractor!r}: use 'digits' (offline, 1-channel digits) or 'inception'.")
        if self.num_samples < 2:
            raise ValueError(f"num_samples must be >= 2 for a covariance, got {self.num_samples}.")

    def to_dict(self) -> dict:
        """Plain types, for checkpoints and JSON."""
        return {**asdict(self), "metrics": list(self.metrics)}

    @classmethod
    def from_dict(cls, saved: dict, **overrides: object) -> "EvalProtocol":
        """Rebuild from ``to_dict`` output (older checkpoints lack some keys: defaults fill them);
        ``overrides`` that are None are ignored."""
        names = {f.name for f in fields(cls)}
        kept = {k: v for k, v in saved.items() if k in names}
        return replace(cls(**kept), **{k: v for k, v in overrides.items() if v is not None})


def count_label(n: int) -> str:
    """5000 -> '5k', 10000 -> '10k', 2500 -> '2500': a sample count in a metric name."""
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def metric_name(metric: str, extractor: str, reference: str, num_real: int, num_fake: int) -> str:
    """``val/{metric}_{extractor}_{reference split}{real count}_gen{generated count}``,
    e.g. ``val/fid_digits_test1k_gen5k``: FID of 5,000 generated digits against 1,000 test digits."""
    return f"val/{metric}_{extractor}_{reference}{count_label(num_real)}_gen{count_label(num_fake)}"
