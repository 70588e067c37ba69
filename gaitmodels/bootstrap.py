"""Bootstrap confidence intervals over sequences, vectorised over resamples.

A resample draws N sequences with replacement from the N scored (numpy ``default_rng(seed)``); each
statistic is recomputed on it, and the 95 % interval is the 2.5th to 97.5th percentile of the resampled
values (percentile bootstrap). A resample is a vector of counts ``w`` (how often each sequence was drawn),
so every statistic is a weighted one: accuracy and macro-F1 from weighted confusion matrices, AUC as the
weighted Mann-Whitney statistic (ties count one half), which is what scikit-learn's ``accuracy_score``,
``f1_score`` and ``roc_auc_score`` return with ``sample_weight=w`` (``tests/test_bootstrap.py`` holds the
two equal). All 2,000 resamples of a 748-sequence test split take 0.9 s at once, where a loop of
scikit-learn calls takes 17 s (``benchmarks/bench_bootstrap.py``, 2-core VM).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gaitmodels.choices import BOOTSTRAP_RESAMPLES as RESAMPLES
from gaitmodels.choices import BOOTSTRAP_SEED as SEED
from gaitmodels.models.errors import InvalidInputError

METHOD = "percentile bootstrap over sequences (resampled with replacement), 2.5th-97.5th percentile"


def resample_counts(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """float64 (resamples, n): how often each of n items is drawn in each resample of n draws."""
    if n < 1 or resamples < 1:
        raise InvalidInputError(f"cannot bootstrap {n} items {resamples} times")
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    flat = (draws + n * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def weighted_accuracy(w: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """float64 (B,): accuracy under each row of weights ``w`` (B, N)."""
    return (w @ (truth == pred).astype(np.float64)) / w.sum(axis=1)


def weighted_macro_f1(w: np.ndarray, truth: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """float64 (B,): macro-F1 over the classes present in (weighted) truth or prediction, upstream's
    convention (scikit-learn ``f1_score(average="macro", zero_division=0)`` without ``labels``)."""
    c = num_classes
    onehot = np.zeros((truth.size, c * c))
    onehot[np.arange(truth.size), truth * c + pred] = 1.0
    cm = (w @ onehot).reshape(-1, c, c)  # (B, true, predicted)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    denom = cm.sum(axis=2) + cm.sum(axis=1)  # support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    present = denom > 0
    return (f1 * present).sum(axis=1) / present.sum(axis=1)


def weighted_auc(w: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """float64 (B,): ROC AUC of ``score`` for the bool labels ``positive`` under each row of weights;
    NaN where a resample holds only one side."""
    _, group = np.unique(score, return_inverse=True)
    onehot = np.zeros((score.size, group.max() + 1))
    onehot[np.arange(score.size), group] = 1.0
    pos_w = w * positive  # (B, N)
    neg_w = w * ~positive
    pos_g, neg_g = pos_w @ onehot, neg_w @ onehot  # (B, groups) by ascending score
    below = np.cumsum(neg_g, axis=1) - neg_g
    wins = (pos_g * (below + 0.5 * neg_g)).sum(axis=1)
    total = pos_g.sum(axis=1) * neg_g.sum(axis=1)
    return np.divide(wins, total, out=np.full(total.shape, np.nan), where=total > 0)


def weighted_macro_auc(w: np.ndarray, truth: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """float64 (B,): mean one-vs-rest AUC over the classes with both sides in each resample (NaN if none)."""
    per_class = np.stack(
        [weighted_auc(w, truth == c, probabilities[:, c]) for c in range(probabilities.shape[1])], axis=1
    )
    defined = ~np.isnan(per_class)
    sums = np.where(defined, per_class, 0.0).sum(axis=1)
    counts = defined.sum(axis=1)
    return np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)


def _interval(values: np.ndarray) -> list[float] | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return [round(100.0 * float(lo), 2), round(100.0 * float(hi), 2)]


def _check(truth: Any, probabilities: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(truth, dtype=np.int64)
    p = np.asarray(probabilities, dtype=np.float64)
    if t.ndim != 1 or p.ndim != 2 or p.shape[0] != t.size or t.size == 0:
        raise InvalidInputError(f"expected (N,) labels and (N, C) probabilities, got {t.shape} and {p.shape}")
    return t, p


def bootstrap_ci(
    truth: Any, probabilities: Any, *, pred: Any = None, resamples: int = RESAMPLES, seed: int = SEED
) -> dict[str, Any]:
    """95 % intervals (percent) of accuracy, macro-F1 (upstream convention) and macro AUC.

    truth: int (N,) class indices; probabilities: float (N, C); pred: int (N,) the predictions (default
    the argmax of the probabilities).
    Returns {accuracy, macro_f1, macro_auc: [low, high] or None, resamples, seed, method,
    macro_auc_resamples (how many resamples had a defined AUC)}.
    """
    t, p = _check(truth, probabilities)
    pred = p.argmax(axis=1) if pred is None else np.asarray(pred, dtype=np.int64)
    w = resample_counts(t.size, resamples, seed)
    auc = weighted_macro_auc(w, t, p)
    return {
        "accuracy": _interval(weighted_accuracy(w, t, pred)),
        "macro_f1": _interval(weighted_macro_f1(w, t, pred, p.shape[1])),
        "macro_auc": _interval(auc),
        "macro_auc_resamples": int(np.isfinite(auc).sum()),
        "resamples": resamples,
        "seed": seed,
        "method": METHOD,
    }


def paired_macro_f1_difference(
    truth: Any, pred_a: Any, pred_b: Any, num_classes: int, *, resamples: int = RESAMPLES, seed: int = SEED
) -> dict[str, Any]:
    """Macro-F1 of A minus macro-F1 of B on the same sequences, with a paired bootstrap 95 % interval
    (each resample scores both on the same draws). Percentage points."""
    t = np.asarray(truth, dtype=np.int64)
    a, b = np.asarray(pred_a, dtype=np.int64), np.asarray(pred_b, dtype=np.int64)
    if not (t.shape == a.shape == b.shape) or t.ndim != 1 or t.size == 0:
        raise InvalidInputError("paired comparison needs equal-length, non-empty label vectors")
    w = resample_counts(t.size, resamples, seed)
    full = np.ones((1, t.size))
    estimate = float(
        weighted_macro_f1(full, t, a, num_classes)[0] - weighted_macro_f1(full, t, b, num_classes)[0]
    )
    diffs = weighted_macro_f1(w, t, a, num_classes) - weighted_macro_f1(w, t, b, num_classes)
    return {
        "difference": round(100.0 * estimate, 2),
        "ci95": _interval(diffs),
        "a_better_share": round(float((diffs > 0).mean()), 4),
        "resamples": resamples,
        "seed": seed,
        "sequences": int(t.size),
        "method": "paired " + METHOD,
    }
