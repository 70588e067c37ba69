"""Classification metrics as upstream reports them, without scikit-learn, plus a confusion-matrix image.

Upstream (``evaluate_scoliosis``) reports accuracy and macro precision / recall / F1 from scikit-learn
with ``zero_division=0``, as percentages to 2 decimals. Here the macro average always runs over every
class index 0..C-1 (scikit-learn's ``labels=[0, 1, 2]``), so a class absent from both truth and
prediction counts as 0 rather than silently dropping out of the mean. Per-class numbers are reported
too; upstream omits them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gaitmodels.models.errors import InvalidInputError
from gaitprep.io.atomic import atomic_write_bytes


def _as_labels(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values.cpu() if hasattr(values, "cpu") else values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise InvalidInputError(
            f"{name} must be a 1-D array of integer class indices, got {array.dtype} {array.shape}"
        )
    return array.astype(np.int64)


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int = 3) -> np.ndarray:
    """int64 (C, C): entry [t, p] counts samples of true class t predicted as p (scikit-learn's layout).

    y_true, y_pred: int (N,) class indices in [0, num_classes), numpy arrays, lists or CPU tensors.
    """
    truth, pred = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if truth.shape != pred.shape:
        raise InvalidInputError(f"y_true has {truth.size} labels but y_pred has {pred.size}")
    for name, array in (("y_true", truth), ("y_pred", pred)):
        if array.size and (array.min() < 0 or array.max() >= num_classes):
            raise InvalidInputError(f"{name} holds a class index outside 0..{num_classes - 1}")
    flat = np.bincount(truth * num_classes + pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def _pct(value: float) -> float:
    return round(100.0 * float(value), 2)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def classification_report(y_true: Any, y_pred: Any, class_names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro and per-class precision / recall / F1 (percent, 2 decimals), and the confusion matrix.

    Args:
        y_true, y_pred: int (N,) class indices; index i is class ``class_names[i]``.
        class_names: the model's class order, e.g. ("negative", "neutral", "positive").

    Returns a JSON-ready dict: ``n``, ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``,
    ``per_class`` {name: {precision, recall, f1, support}}, ``confusion_matrix`` (rows true, columns
    predicted) and ``class_names``. The macro values average the unrounded per-class values.
    """
    names = list(class_names)
    matrix = confusion_matrix(y_true, y_pred, len(names))
    total = int(matrix.sum())
    if total == 0:
        raise InvalidInputError("cannot score an empty set of predictions")
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)  # true count per class
    predicted = matrix.sum(axis=0).astype(np.float64)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * tp, support + predicted)  # = 2PR / (P + R), and 0 when both are 0
    return {
        "n": total,
        "accuracy": _pct(tp.sum() / total),
        "macro_precision": _pct(precision.mean()),
        "macro_recall": _pct(recall.mean()),
        "macro_f1": _pct(f1.mean()),
        "per_class": {
            name: {
                "precision": _pct(precision[i]),
                "recall": _pct(recall[i]),
                "f1": _pct(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
        "confusion_matrix": matrix.tolist(),
        "class_names": names,
    }


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
