"""Classification metrics for a screening task (scikit-learn), plus a confusion-matrix image.

Upstream (``evaluate_scoliosis``, domain reference §7.9) reports accuracy and macro precision / recall / F1
from scikit-learn with ``zero_division=0`` and no ``labels=``: the macro mean runs over the classes present
in truth or prediction. That is the headline here too, so our numbers equal upstream's on the same
predictions; the mean over all three classes (an absent class counting 0) is reported beside it. Per class:
precision (= PPV), recall (= sensitivity), F1, specificity, NPV and one-vs-rest AUC; overall the macro
AUC. Specificity and NPV come from scikit-learn's multilabel confusion matrix.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sklearn import metrics as skm

from gaitmodels.models.errors import InvalidInputError
from gaitprep.io.atomic import atomic_write_bytes

UPSTREAM_CONVENTION = (
    "macro over the classes present in truth or prediction (scikit-learn without labels=, "
    "zero_division=0), as upstream evaluate_scoliosis"
)
ALL_CLASSES_CONVENTION = (
    "macro over every class of the model; a class absent from truth and prediction counts 0"
)
AUC_CONVENTION = (
    "one-vs-rest ROC AUC of each class's probability; macro over the classes present in truth "
    "(scikit-learn roc_auc_score multi_class='ovr', average='macro' when every class is present)"
)


def _as_labels(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values.cpu() if hasattr(values, "cpu") else values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise InvalidInputError(
            f"{name} must be a 1-D array of integer class indices, got {array.dtype} {array.shape}"
        )
    return array.astype(np.int64)


def _checked(y_true: Any, y_pred: Any, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    truth, pred = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if truth.shape != pred.shape:
        raise InvalidInputError(f"y_true has {truth.size} labels but y_pred has {pred.size}")
    for name, array in (("y_true", truth), ("y_pred", pred)):
        if array.size and (array.min() < 0 or array.max() >= num_classes):
            raise InvalidInputError(f"{name} holds a class index outside 0..{num_classes - 1}")
    return truth, pred


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int = 3) -> np.ndarray:
    """int64 (C, C): entry [t, p] counts samples of true class t predicted as p (scikit-learn's layout).

    y_true, y_pred: int (N,) class indices in [0, num_classes), numpy arrays, lists or CPU tensors.
    """
    truth, pred = _checked(y_true, y_pred, num_classes)
    if truth.size == 0:
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    return skm.confusion_matrix(truth, pred, labels=list(range(num_classes))).astype(np.int64)


def _pct(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(100.0 * float(value), 2)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (scikit-learn's ``zero_division=0``)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def one_vs_rest_auc(y_true: np.ndarray, probabilities: np.ndarray) -> list[float | None]:
    """ROC AUC of column c of ``probabilities`` (N, C) for "class c vs the rest"; None where truth holds
    only one side (scikit-learn leaves it undefined)."""
    out: list[float | None] = []
    for c in range(probabilities.shape[1]):
        positive = y_true == c
        if positive.all() or not positive.any():
            out.append(None)
        else:
            out.append(float(skm.roc_auc_score(positive.astype(int), probabilities[:, c])))
    return out


def macro_auc(y_true: np.ndarray, probabilities: np.ndarray) -> float | None:
    """Mean one-vs-rest AUC over the classes that have both sides in truth (None if none has)."""
    values = [v for v in one_vs_rest_auc(y_true, probabilities) if v is not None]
    return float(np.mean(values)) if values else None


def _check_probabilities(probabilities: Any, n: int, c: int) -> np.ndarray:
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.shape != (n, c) or not np.isfinite(probs).all() or (probs < 0).any():
        raise InvalidInputError(
            f"probabilities must be finite, non-negative, shape ({n}, {c}); got {probs.shape}"
        )
    return probs


def classification_report(
    y_true: Any, y_pred: Any, class_names: Sequence[str], probabilities: Any = None
) -> dict[str, Any]:
    """Accuracy, macro and per-class precision / recall / F1 and more (percent, 2 decimals), confusion matrix.

    Args:
        y_true, y_pred: int (N,) class indices; index i is class ``class_names[i]``.
        class_names: the model's class order, e.g. ("negative", "neutral", "positive").
        probabilities: optional float (N, C) class probabilities (rows sum to 1): adds per-class ``auc``
            and ``macro_auc``.

    Returns a JSON-ready dict: ``n``, ``accuracy``, ``macro_precision`` / ``macro_recall`` / ``macro_f1``
    (upstream's convention, see ``macro_convention`` and ``macro_classes``), ``all_classes`` (the same three
    over every class), ``per_class`` {name: {precision, recall, f1, specificity, ppv, npv, auc, support}},
    ``confusion_matrix`` (rows true, columns predicted), ``class_names``; ``macro_auc`` with probabilities.
    """
    names = list(class_names)
    c = len(names)
    truth, pred = _checked(y_true, y_pred, c)
    if truth.size == 0:
        raise InvalidInputError("cannot score an empty set of predictions")
    labels = list(range(c))
    p, r, f1, support = skm.precision_recall_fscore_support(
        truth, pred, labels=labels, average=None, zero_division=0
    )
    present = sorted(set(truth.tolist()) | set(pred.tolist()))
    up = skm.precision_recall_fscore_support(truth, pred, average="macro", zero_division=0)
    # per class [[tn, fp], [fn, tp]] of "class c vs the rest"
    mcm = skm.multilabel_confusion_matrix(truth, pred, labels=labels)
    tn, fp, fn = mcm[:, 0, 0], mcm[:, 0, 1], mcm[:, 1, 0]
    specificity = _safe_div(tn, tn + fp)
    npv = _safe_div(tn, tn + fn)
    auc: list[float | None] = [None] * c
    report: dict[str, Any] = {
        "n": int(truth.size),
        "accuracy": _pct(skm.accuracy_score(truth, pred)),
        "macro_precision": _pct(up[0]),
        "macro_recall": _pct(up[1]),
        "macro_f1": _pct(up[2]),
        "macro_convention": UPSTREAM_CONVENTION,
        "macro_classes": [names[i] for i in present],
        "all_classes": {
            "macro_precision": _pct(p.mean()),
            "macro_recall": _pct(r.mean()),
            "macro_f1": _pct(f1.mean()),
            "convention": ALL_CLASSES_CONVENTION,
        },
    }
    if probabilities is not None:
        probs = _check_probabilities(probabilities, truth.size, c)
        auc = one_vs_rest_auc(truth, probs)
        report["macro_auc"] = _pct(macro_auc(truth, probs))
        report["macro_auc_classes"] = [names[i] for i in range(c) if auc[i] is not None]
        report["auc_convention"] = AUC_CONVENTION
    report["per_class"] = {
        name: {
            "precision": _pct(p[i]),
            "recall": _pct(r[i]),
            "f1": _pct(f1[i]),
            "specificity": _pct(specificity[i]),
            "ppv": _pct(p[i]),
            "npv": _pct(npv[i]),
            **({"auc": _pct(auc[i])} if probabilities is not None else {}),
            "support": int(support[i]),
        }
        for i, name in enumerate(names)
    }
    report["confusion_matrix"] = confusion_matrix(truth, pred, c).tolist()
    report["class_names"] = names
    return report


def binary_screening(
    positive_truth: np.ndarray, positive_pred: np.ndarray, score: np.ndarray
) -> dict[str, Any]:
    """Sensitivity / specificity / PPV / NPV at the decision rule, and the ROC AUC of ``score``.

    positive_truth, positive_pred: bool (N,); score: float (N,) (higher = more likely positive).
    """
    truth = np.asarray(positive_truth, dtype=bool)
    pred = np.asarray(positive_pred, dtype=bool)
    (tn, fp), (fn, tp) = skm.confusion_matrix(truth, pred, labels=[False, True])
    auc = None
    if truth.any() and not truth.all():
        auc = float(skm.roc_auc_score(truth.astype(int), score))
    return {
        "sensitivity": _pct(_safe_div(tp, tp + fn)),
        "specificity": _pct(_safe_div(tn, tn + fp)),
        "ppv": _pct(_safe_div(tp, tp + fp)),
        "npv": _pct(_safe_div(tn, tn + fn)),
        "auc": _pct(auc),
        "positives": int(truth.sum()),
        "negatives": int((~truth).sum()),
        "counts": {"tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn)},
    }


def roc_points(positive_truth: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(false-positive rate, true-positive rate) of scikit-learn's ``roc_curve``; None if one-sided."""
    truth = np.asarray(positive_truth, dtype=bool)
    if not truth.any() or truth.all():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fpr, tpr, _ = skm.roc_curve(truth.astype(int), score)
    return fpr, tpr


_FONT = cv2.FONT_HERSHEY_SIMPLEX
_CELL = 120  # pixels per matrix cell
_LEFT, _TOP, _RIGHT, _BOTTOM = 170, 90, 20, 20
_DARK_BGR = np.array([110, 45, 10], dtype=np.float64)  # a deep blue for a full row
_WHITE = np.array([255, 255, 255], dtype=np.float64)


def _text(
    image: np.ndarray, text: str, center: tuple[int, int], scale: float, color, thickness: int = 1
) -> None:
    (w, h), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    org = (int(center[0] - w / 2), int(center[1] + h / 2))
    cv2.putText(image, text, org, _FONT, scale, color, thickness, cv2.LINE_AA)


def render_confusion_image(matrix: Any, class_names: Sequence[str], title: str = "") -> np.ndarray:
    """Draw a confusion matrix: uint8 BGR (H, W, 3) image.

    Rows are true classes, columns predicted classes. Each cell is shaded by its share of the true row
    (white 0 % to deep blue 100 %, i.e. by per-class recall on the diagonal) and shows the count and
    that share.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    c = len(class_names)
    if counts.shape != (c, c) or np.any(counts < 0):
        raise InvalidInputError(
            f"expected a non-negative ({c}, {c}) matrix for {c} class names, got {counts.shape}"
        )
    row_share = _safe_div(counts.astype(np.float64), counts.sum(axis=1, keepdims=True).astype(np.float64))
    height, width = _TOP + c * _CELL + _BOTTOM, _LEFT + c * _CELL + _RIGHT
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    black, grey = (0, 0, 0), (150, 150, 150)
    if title:
        _text(image, title, (width // 2, 18), 0.6, black, 1)
    _text(image, "predicted", (_LEFT + c * _CELL // 2, 45), 0.6, black, 2)
    _text(image, "true", (_LEFT // 2, 45), 0.6, black, 2)
    for i, name in enumerate(class_names):
        _text(image, name, (_LEFT + i * _CELL + _CELL // 2, _TOP - 15), 0.55, black)
        _text(image, name, (_LEFT // 2, _TOP + i * _CELL + _CELL // 2), 0.55, black)
    for t in range(c):
        for p in range(c):
            share = row_share[t, p]
            color = tuple(int(v) for v in np.rint(_WHITE + share * (_DARK_BGR - _WHITE)))
            x0, y0 = _LEFT + p * _CELL, _TOP + t * _CELL
            cv2.rectangle(image, (x0, y0), (x0 + _CELL, y0 + _CELL), color, thickness=-1)
            cv2.rectangle(image, (x0, y0), (x0 + _CELL, y0 + _CELL), grey, thickness=1)
            ink = (255, 255, 255) if share > 0.5 else black
            _text(image, str(counts[t, p]), (x0 + _CELL // 2, y0 + _CELL // 2 - 12), 0.9, ink, 2)
            _text(image, f"{100 * share:.1f}%", (x0 + _CELL // 2, y0 + _CELL // 2 + 22), 0.5, ink)
    return image


def save_confusion_png(matrix: Any, class_names: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Render :func:`render_confusion_image` and write it as a PNG atomically; returns the path."""
    ok, encoded = cv2.imencode(".png", render_confusion_image(matrix, class_names, title))
    if not ok:  # pragma: no cover - cv2 fails only on impossible images
        raise InvalidInputError("OpenCV could not encode the confusion-matrix image", path)
    path = Path(path)
    atomic_write_bytes(path, encoded.tobytes())
    return path


SCREENING_VIEWS = {
    "positive_vs_rest": "positive vs negative + neutral",
    "positive_or_neutral_vs_negative": "positive + neutral vs negative",
}


def screening_views(
    y_true: Any, probabilities: Any, class_names: Sequence[str], y_pred: Any = None
) -> dict[str, dict[str, Any]]:
    """The two screening questions as binary problems, at the model's decision rule (argmax).

    ``positive_vs_rest``: truth "positive", flagged when the argmax is positive, scored by p(positive).
    ``positive_or_neutral_vs_negative``: truth "not negative", flagged when the argmax is not negative,
    scored by 1 - p(negative). ``y_pred``: the model's decisions (default: the argmax of the
    probabilities). Each gives :func:`binary_screening`'s fields plus ``description``.
    """
    names = list(class_names)
    if "positive" not in names or "negative" not in names:
        raise InvalidInputError(f"screening needs 'positive' and 'negative' classes, got {names}")
    truth = _as_labels(y_true, "y_true")
    probs = _check_probabilities(probabilities, truth.size, len(names))
    pred = probs.argmax(1) if y_pred is None else _as_labels(y_pred, "y_pred")
    pos, neg = names.index("positive"), names.index("negative")
    out = {}
    for key, (t, p, s) in {
        "positive_vs_rest": (truth == pos, pred == pos, probs[:, pos]),
        "positive_or_neutral_vs_negative": (truth != neg, pred != neg, 1.0 - probs[:, neg]),
    }.items():
        out[key] = {"description": SCREENING_VIEWS[key], **binary_screening(t, p, s)}
    return out


def screening_scores(
    y_true: Any, probabilities: Any, class_names: Sequence[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(truth bool (N,), score float (N,)) per screening view, for ROC curves."""
    names = list(class_names)
    truth = _as_labels(y_true, "y_true")
    probs = np.asarray(probabilities, dtype=np.float64)
    pos, neg = names.index("positive"), names.index("negative")
    return {
        "positive_vs_rest": (truth == pos, probs[:, pos]),
        "positive_or_neutral_vs_negative": (truth != neg, 1.0 - probs[:, neg]),
    }
