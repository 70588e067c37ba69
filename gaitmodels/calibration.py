"""Expected calibration error and the reliability diagram's bins.

The confidence of a prediction is the probability the model gives to the class it predicts (the argmax).
Confidences fall into 15 equal-width bins over [0, 1], binned as scikit-learn's ``calibration_curve``
(``strategy="uniform"``) does; a bin's accuracy is the share of its predictions that are right, and

    ECE = sum over bins b of (n_b / N) * |accuracy_b - mean confidence_b|

(Guo et al. 2017). A perfectly calibrated model has ECE 0: of the predictions made with 80 % confidence,
80 % are right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gaitmodels.models.errors import InvalidInputError

ECE_BINS = 15


def bin_edges(n_bins: int = ECE_BINS) -> np.ndarray:
    """float64 (n_bins + 1,): 0, 1/n, ..., 1."""
    return np.linspace(0.0, 1.0, n_bins + 1)


def confidence_bins(confidence: np.ndarray, n_bins: int = ECE_BINS) -> np.ndarray:
    """int64 (N,): each confidence's bin, as scikit-learn's ``calibration_curve`` assigns it."""
    return np.searchsorted(bin_edges(n_bins)[1:-1], confidence).astype(np.int64)


def reliability(
    y_true: Any, probabilities: Any, n_bins: int = ECE_BINS, y_pred: Any = None
) -> dict[str, Any]:
    """ECE and the reliability diagram's bins.

    Args:
        y_true: int (N,) true class indices.
        probabilities: float (N, C) class probabilities.
        y_pred: int (N,) the predictions (default: the argmax of ``probabilities``; pass the model's own
            decision when probabilities were rounded and could tie).

    Returns ``ece`` (percent, 2 decimals), ``bins`` (the number of bins) and ``reliability``: one entry
    per non-empty bin, {``low``, ``high`` (confidence range), ``count``, ``confidence`` (mean), ``accuracy``}
    (accuracy and confidence in percent).
    """
    truth = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != truth.size or truth.size == 0:
        raise InvalidInputError(f"expected (N, C) probabilities for {truth.size} labels, got {probs.shape}")
    pred = probs.argmax(axis=1) if y_pred is None else np.asarray(y_pred, dtype=np.int64)
    confidence = probs[np.arange(truth.size), pred]
    correct = (pred == truth).astype(np.float64)
    which = confidence_bins(confidence, n_bins)
    edges = bin_edges(n_bins)
    count = np.bincount(which, minlength=n_bins).astype(np.float64)
    conf_sum = np.bincount(which, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(which, weights=correct, minlength=n_bins)
    ece = float(np.abs(acc_sum - conf_sum).sum() / truth.size)
    rows = [
        {
            "low": round(float(edges[b]), 4),
            "high": round(float(edges[b + 1]), 4),
            "count": int(count[b]),
            "confidence": round(100.0 * conf_sum[b] / count[b], 2),
            "accuracy": round(100.0 * acc_sum[b] / count[b], 2),
        }
        for b in range(n_bins)
        if count[b] > 0
    ]
    return {"ece": round(100.0 * ece, 2), "bins": n_bins, "reliability": rows}
