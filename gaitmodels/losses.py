"""The ScoNet-MT training losses: batch-all triplet on part embeddings and part-wise CE on cosine logits.

Both follow upstream OpenGait (``opengait/modeling/losses/triplet.py`` and ``ce.py``); the class weights
follow the UMGRL DRF configs. The total used by ScoNet-MT is ``triplet + CE`` with weight 1 each; the
paper's single-task ScoNet uses CE alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from gaitmodels.models.errors import InvalidInputError


class TripletResult(NamedTuple):
    """loss: scalar, mean over parts of each part's mean non-zero hinge; nonzero_fraction: scalar in [0, 1],
    the share of valid (anchor, positive, negative) terms whose hinge is still positive (upstream logs the
    count as ``loss_num``); mean_dist: scalar, the mean pairwise distance (a collapse monitor)."""

    loss: torch.Tensor
    nonzero_fraction: torch.Tensor
    mean_dist: torch.Tensor


def pairwise_distances(embed: torch.Tensor) -> torch.Tensor:
    """Euclidean distances per part: (p, n, c) -> (p, n, n), as ``sqrt(relu(|a|^2 + |b|^2 - 2 a.b))``.

    The relu clamps tiny negative rounding errors; its zero gradient also keeps the sqrt's infinite
    derivative at 0 (every anchor's distance to itself) out of the backward pass.
    """
    sq = embed.pow(2).sum(-1)  # (p, n)
    d2 = sq.unsqueeze(2) + sq.unsqueeze(1) - 2 * embed.matmul(embed.transpose(1, 2))
    return torch.sqrt(F.relu(d2))


def triplet_loss(embed: torch.Tensor, labels: torch.Tensor, margin: float = 0.2) -> TripletResult:
    """Batch-all triplet loss with margin, computed separately for each part then averaged over parts.

    Args:
        embed: float (n, c, p) part embeddings (the model's pre-BN ``embed``); computed in float32.
        labels: int (n,) triplet labels: sequence ids upstream (a sequence's K copies are each other's
            positives), or classes for the reimplementation's ``triplet_label: class``.
        margin: hinge margin (0.2 upstream).

    For every anchor a, every positive i with labels[i] == labels[a] (the anchor itself included, as
    upstream) and every negative j with labels[j] != labels[a], the term is relu(d(a, i) - d(a, j) + margin).
    A part's loss is the sum of its terms divided by the number of non-zero terms (0 when none are
    non-zero), so easy triplets do not dilute the gradient.
    """
    if embed.ndim != 3 or labels.ndim != 1 or labels.shape[0] != embed.shape[0]:
        raise InvalidInputError(
            f"expected embed (n, c, p) and labels (n,), got {tuple(embed.shape)} and {tuple(labels.shape)}"
        )
    x = embed.float().permute(2, 0, 1)  # (p, n, c)
    dist = pairwise_distances(x)  # (p, n, n)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)  # (n, n): [a, i] is True when i is a's positive
    # Enumerate the valid (anchor, positive, negative) triples once: 28,672 of them for an 8 x 8 batch, as
    # upstream's count, instead of materialising all n^3 differences per part.
    a, i, j = (same.unsqueeze(2) & ~same.unsqueeze(1)).nonzero(as_tuple=True)
    hinge = F.relu(dist[:, a, i] - dist[:, a, j] + margin)  # (p, triplets)
    nonzero = (hinge > 0).sum(-1)  # (p,)
    per_part = hinge.sum(-1) / nonzero.clamp(min=1)  # 0 when a part has no non-zero term
    fraction = nonzero.sum().float() / max(hinge.numel(), 1)
    return TripletResult(per_part.mean(), fraction.detach(), dist.mean().detach())


def part_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    scale: float = 16.0,
    label_smoothing: float = 0.1,
    class_weights: torch.Tensor | Sequence[float] | None = None,
) -> torch.Tensor:
    """Upstream's CE: each part is its own classifier on ``scale`` x cosine logits.

    logits (n, classes, p) float, labels (n,) int in [0, classes) -> scalar, the mean over n * p terms
    of ``cross_entropy(scale * logits, label repeated over parts, label_smoothing)``. With
    ``class_weights`` (classes,), PyTorch's weighted mean divides by the sum of the targets' weights.
    """
    if logits.ndim != 3 or labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise InvalidInputError(
            f"expected logits (n, classes, p) and labels (n,), got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    n, classes, p = logits.shape
    weight = None
    if class_weights is not None:
        weight = torch.as_tensor(class_weights, dtype=torch.float32, device=logits.device)
        if weight.shape != (classes,):
            raise InvalidInputError(f"expected {classes} class weights, got shape {tuple(weight.shape)}")
    target = labels.long().unsqueeze(1).expand(n, p)
    return F.cross_entropy(scale * logits.float(), target, weight=weight, label_smoothing=label_smoothing)


def inverse_frequency_weights(train_counts: Sequence[int]) -> np.ndarray:
    """Class weights ``w_c = C * (1 / n_c) / sum_k (1 / n_k)`` for C classes, as the UMGRL DRF configs use.

    train_counts: per-class train sequence counts in class-index order (negative, neutral, positive) ->
    float64 (C,) weights that sum to C; e.g. the 1:1:8 split's (596, 74, 74) gives about (0.175, 1.412,
    1.412).
    """
    counts = np.asarray(train_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0 or np.any(counts <= 0):
        raise InvalidInputError(f"train counts must be positive per class, got {list(train_counts)}")
    inverse = 1.0 / counts
    return counts.size * inverse / inverse.sum()
