"""Evaluation charts drawn with OpenCV (no plotting library): reliability diagram, ROC curves, and a bar
chart of metrics with interval whiskers. Each ``render_*`` returns a uint8 BGR (H, W, 3) image; each
``save_*`` writes it as a PNG atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gaitmodels.models.errors import InvalidInputError
from gaitprep.io.atomic import atomic_write_bytes

_FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, GREY, LIGHT = (0, 0, 0), (150, 150, 150), (225, 225, 225)
BAR = (180, 110, 40)  # blue-ish (BGR)
GAP = (70, 70, 220)  # red-ish (BGR)
SERIES = [(180, 110, 40), (40, 140, 230), (60, 160, 60), (150, 60, 150), (60, 60, 200), (120, 120, 0)]


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.45, color=BLACK, th: int = 1,
          anchor: str = "left") -> None:  # fmt: skip
    (w, h), _ = cv2.getTextSize(text, _FONT, scale, th)
    x, y = org
    if anchor == "center":
        x -= w // 2
    elif anchor == "right":
        x -= w
    cv2.putText(img, text, (int(x), int(y + h // 2)), _FONT, scale, color, th, cv2.LINE_AA)


class _Axes:
    """A square plot area: data (x, y) in [x0, x1] x [y0, y1] mapped to pixels."""

    def __init__(self, img: np.ndarray, left: int, top: int, width: int, height: int,
                 xr: tuple[float, float] = (0, 1), yr: tuple[float, float] = (0, 1)):  # fmt: skip
        self.img, self.left, self.top, self.w, self.h, self.xr, self.yr = (
            img,
            left,
            top,
            width,
            height,
            xr,
            yr,
        )

    def px(self, x: float, y: float) -> tuple[int, int]:
        fx = (x - self.xr[0]) / (self.xr[1] - self.xr[0])
        fy = (y - self.yr[0]) / (self.yr[1] - self.yr[0])
        return int(round(self.left + fx * self.w)), int(round(self.top + (1 - fy) * self.h))

    def frame(self, xlabel: str, ylabel: str, ticks: Sequence[float] = (0, 0.2, 0.4, 0.6, 0.8, 1.0),
              fmt: str = "{:.1f}") -> None:  # fmt: skip
        for t in ticks:
            cv2.line(self.img, self.px(self.xr[0], t), self.px(self.xr[1], t), LIGHT, 1)
            cv2.line(self.img, self.px(t, self.yr[0]), self.px(t, self.yr[1]), LIGHT, 1)
            _text(self.img, fmt.format(t), (self.left - 8, self.px(0, t)[1]), 0.4, anchor="right")
            _text(self.img, fmt.format(t), (self.px(t, 0)[0], self.top + self.h + 14), 0.4, anchor="center")
        cv2.rectangle(self.img, (self.left, self.top), (self.left + self.w, self.top + self.h), BLACK, 1)
        _text(self.img, xlabel, (self.left + self.w // 2, self.top + self.h + 38), 0.5, anchor="center")
        _text(self.img, ylabel, (self.left, self.top - 14), 0.5)


def _save(image: np.ndarray, path: str | Path) -> Path:
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:  # pragma: no cover - cv2 fails only on impossible images
        raise InvalidInputError("OpenCV could not encode the image", path)
    path = Path(path)
    atomic_write_bytes(path, encoded.tobytes())
    return path


def render_reliability(rows: Sequence[dict[str, Any]], ece: float, bins: int, title: str = "") -> np.ndarray:
    """Reliability diagram: per confidence bin, a bar up to the bin's accuracy, a red gap to its mean
    confidence, and the diagonal of perfect calibration. ``rows`` as from
    :func:`gaitmodels.calibration.reliability` (percent values); a counts strip below."""
    img = np.full((600, 560, 3), 255, np.uint8)
    ax = _Axes(img, 70, 80, 440, 360)
    ax.frame("confidence (probability of the predicted class)", "accuracy")
    cv2.line(img, ax.px(0, 0), ax.px(1, 1), GREY, 1, cv2.LINE_AA)
    width = 1.0 / bins
    peak = max((r["count"] for r in rows), default=1)
    for r in rows:
        x0, x1 = r["low"] + 0.08 * width, r["high"] - 0.08 * width
        acc, conf = r["accuracy"] / 100.0, r["confidence"] / 100.0
        cv2.rectangle(img, ax.px(x0, 0), ax.px(x1, acc), BAR, -1)
        lo, hi = sorted((acc, conf))
        cv2.rectangle(img, ax.px(x0, lo), ax.px(x1, hi), GAP, 1)
        h = int(round(40 * r["count"] / peak))
        base = ax.top + ax.h + 125
        cv2.rectangle(img, (ax.px(x0, 0)[0], base - h), (ax.px(x1, 0)[0], base), GREY, -1)
        _text(img, str(r["count"]), (ax.px((x0 + x1) / 2, 0)[0], base - h - 8), 0.35, anchor="center")
    _text(img, title, (280, 16), 0.5, anchor="center")
    _text(img, f"ECE {ece:.2f}% ({bins} bins)   blue: accuracy  red box: gap to confidence", (70, 38), 0.42)
    _text(img, "sequences per bin", (ax.left, ax.top + ax.h + 140), 0.38, GREY)
    return img


def save_reliability_png(rows, ece: float, bins: int, path: str | Path, title: str = "") -> Path:
    return _save(render_reliability(rows, ece, bins, title), path)


def render_roc(curves: dict[str, tuple[np.ndarray, np.ndarray, tuple[float, float] | None, float | None]],
               title: str = "") -> np.ndarray:  # fmt: skip
    """ROC curves: {label: (fpr (K,), tpr (K,), operating point (fpr, tpr) or None, auc % or None)}; the
    operating point (the decision rule) is a filled circle."""
    img = np.full((600, 560, 3), 255, np.uint8)
    ax = _Axes(img, 70, 80, 440, 360)
    ax.frame("false-positive rate (1 - specificity)", "true-positive rate (sensitivity)")
    cv2.line(img, ax.px(0, 0), ax.px(1, 1), GREY, 1, cv2.LINE_AA)
    for i, (label, (fpr, tpr, point, auc)) in enumerate(curves.items()):
        color = SERIES[i % len(SERIES)]
        pts = np.array([ax.px(float(x), float(y)) for x, y in zip(fpr, tpr, strict=True)], np.int32)
        cv2.polylines(img, [pts], False, color, 2, cv2.LINE_AA)
        if point is not None:
            cv2.circle(img, ax.px(*point), 6, color, -1, cv2.LINE_AA)
        auc_text = "n/a" if auc is None else f"{auc:.2f}%"
        _text(img, f"{label} (AUC {auc_text})", (ax.left + 10, ax.top + ax.h + 70 + 20 * i), 0.45, color)
    _text(img, title, (280, 16), 0.5, anchor="center")
    _text(img, "dot: the decision rule (argmax)", (70, 38), 0.42)
    return img


def save_roc_png(curves, path: str | Path, title: str = "") -> Path:
    return _save(render_roc(curves, title), path)


def render_bars(
    metrics: Sequence[str], runs: Sequence[str], values: list[list[float | None]],
    intervals: list[list[list[float] | None]], title: str = "",
) -> np.ndarray:  # fmt: skip
    """Grouped bars: one group per metric, one bar per run (``values[run][metric]``, percent), with 95 %
    interval whiskers (``intervals[run][metric]`` = [low, high] or None)."""
    group_w = 60 * max(1, len(runs)) + 40
    width = 90 + group_w * len(metrics) + 20
    legend_h = 22 * len(runs)
    img = np.full((420 + legend_h, max(width, 420), 3), 255, np.uint8)
    ax = _Axes(img, 70, 50, group_w * len(metrics), 300, xr=(0, len(metrics)), yr=(0, 100))
    for t in range(0, 101, 20):
        cv2.line(img, ax.px(0, t), ax.px(len(metrics), t), LIGHT, 1)
        _text(img, str(t), (ax.left - 8, ax.px(0, t)[1]), 0.4, anchor="right")
    cv2.rectangle(img, (ax.left, ax.top), (ax.left + ax.w, ax.top + ax.h), BLACK, 1)
    bar = 1.0 / (len(runs) + 1)
    for m, name in enumerate(metrics):
        _text(img, name, (ax.px(m + 0.5, 0)[0], ax.top + ax.h + 16), 0.45, anchor="center")
        for r in range(len(runs)):
            v = values[r][m]
            if v is None:
                continue
            x0 = m + bar / 2 + r * bar
            color = SERIES[r % len(SERIES)]
            cv2.rectangle(img, ax.px(x0 + 0.05 * bar, 0), ax.px(x0 + 0.95 * bar, v), color, -1)
            ci = intervals[r][m]
            if ci is not None:
                xc = x0 + bar / 2
                cv2.line(img, ax.px(xc, ci[0]), ax.px(xc, ci[1]), BLACK, 1, cv2.LINE_AA)
                for y in ci:
                    cv2.line(img, ax.px(xc - 0.2 * bar, y), ax.px(xc + 0.2 * bar, y), BLACK, 1)
            _text(img, f"{v:.1f}", (ax.px(x0 + bar / 2, 0)[0], ax.px(0, v)[1] - 10), 0.35, anchor="center")
    for r, run in enumerate(runs):
        y = ax.top + ax.h + 44 + 22 * r
        cv2.rectangle(img, (ax.left, y - 7), (ax.left + 14, y + 7), SERIES[r % len(SERIES)], -1)
        _text(img, run, (ax.left + 22, y), 0.45)
    _text(img, title or "percent, whiskers: bootstrap 95% interval", (ax.left, 22), 0.5)
    return img


def save_bars_png(metrics, runs, values, intervals, path: str | Path, title: str = "") -> Path:
    return _save(render_bars(metrics, runs, values, intervals, title), path)
