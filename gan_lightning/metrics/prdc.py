"""Fidelity and diversity as separate numbers, from k-nearest-neighbour balls in feature space.

- precision / recall (Kynkäänniemi et al. 2019, k=3): the share of fakes inside the real
  manifold (the union of balls around each real feature reaching its k-th nearest real
  neighbour), and the share of reals inside the fake manifold. torch-fidelity's implementation,
  which takes precomputed features.
- density / coverage (Naeem et al. 2020, k=5): density counts how many real balls contain each
  fake, divided by k (about 1 when fakes follow the reals, above 1 when they crowd dense real
  regions); coverage is the share of real balls that contain at least one fake (robust to
  outliers, unlike recall). Neither torch-fidelity nor torchmetrics has them, so they are here.
- memorisation ratio: median distance from each fake to its nearest training feature over the
  same for held-out real features: about 1 when G generalises like unseen real data, well
  below 1 when it copies training samples.

All take (N, F) feature tensors, compared in float32 (a 10k x 10k distance matrix is 400 MB).
Balls are closed (distance <= radius), as in torch-fidelity.
"""

import torch
from torch import Tensor
from torch_fidelity.metric_prc import prc_features_to_metric


def kth_neighbour_distance(features: Tensor, k: int) -> Tensor:
    """(N,) distance from each row to its k-th nearest other row (the row itself is excluded)."""
    if len(features) <= k:
        raise ValueError(f"need more than k={k} samples for k-nearest-neighbour radii, got {len(features)}.")
    return torch.cdist(features, features).kthvalue(k + 1, dim=1).values  # k + 1: the 0 to itself


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> dict[str, float]:
    """Kynkäänniemi et al.'s improved precision and recall (torch-fidelity's code)."""
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"precision/recall with k={k} need more than {k} real and fake samples, got {len(real)}, {len(fake)}.")
    out = prc_features_to_metric(fake.float(), real.float(), prc_neighborhood=k, verbose=False)
    return {"precision": out["precision"], "recall": out["recall"]}


def density_coverage(real: Tensor, fake: Tensor, k: int = 5) -> dict[str, float]:
    """Naeem et al.'s density and coverage, with balls of radius the k-th real neighbour distance."""
    real, fake = real.float(), fake.float()
    radius = kth_neighbour_distance(real, k)  # (R,)
    inside = torch.cdist(fake, real) <= radius  # (Fk, R): fake i inside the ball of real j
    return {
        "density": inside.sum().item() / (k * len(fake)),
        "coverage": inside.any(dim=0).double().mean().item(),
    }


def median_nn_distance(query: Tensor, reference: Tensor, batch_size: int = 1000) -> float:
    """Median over ``query`` rows of the distance to the nearest ``reference`` row."""
    reference = reference.double()
    nearest = torch.cat([torch.cdist(q.double(), reference).min(dim=1).values for q in query.split(batch_size)])
    return nearest.quantile(0.5).item()  # the mean of the middle two for even counts (torch.median: the lower)


def memorisation_ratio(fake: Tensor, train: Tensor, heldout: Tensor) -> float:
    """median NN distance fake -> train over held-out real -> train (see the module docstring)."""
    return median_nn_distance(fake, train) / max(median_nn_distance(heldout, train), 1e-12)
