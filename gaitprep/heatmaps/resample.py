"""Area downsampling of grey-level maps with OpenCV ``INTER_AREA`` semantics (domain reference §4.1 F).

Upstream's alignment resamples ``A = G / 255`` (float64) with ``cv2.resize(..., INTER_AREA)`` and stores
``trunc(255 * R)``. The common case, a crop that is the whole 128-px canvas, is OpenCV's exact 2x path,
reproduced here bit for bit and vectorised over frames:

- :func:`area_half`: ``(((a + b) + c) + d) * 0.25`` via integer sums plus a float64 re-evaluation of the only
  pixels where rounding can matter;
- :func:`area_half_floor`: the same downsample in exact integer arithmetic (``crop = "full_canvas"``);
- :func:`area_resample`: any other crop, one OpenCV call each (about 0.05-0.1 ms; a numpy emulation of
  OpenCV's general area path was bit-exact but no faster, and so were four crops of one size passed as the
  channels of one image). ``G / 255`` goes through ``cv2.LUT`` (the same float64 values, half the cost of
  ``np.take``).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

# Grey level -> float64 / 255, exactly as upstream divides its grey image.
UNIT = np.arange(256, dtype=np.float64) / 255.0
_UNIT_LUT = UNIT.reshape(1, 256)

Box = tuple[int, int, int, int]  # (y0, y1, x0, x1), half-open


@lru_cache(maxsize=1)
def _pair_sums() -> np.ndarray:
    """``(65536,) float64``: ``G_left / 255 + G_right / 255`` of each horizontal pair read as a little-endian
    uint16, as OpenCV adds them (one lookup instead of two and an addition)."""
    pair = np.arange(65536)
    sums = UNIT[pair & 0xFF] + UNIT[pair >> 8]
    sums.setflags(write=False)
    return sums


def _area_sums(levels: np.ndarray, box: Box):
    """Shared part of the 2x paths: the output array, the 2x2 sums ``uint16`` of the even-aligned box,
    the box's horizontal pairs as little-endian uint16 and the output region (``total`` None if empty)."""
    F, H, W = levels.shape
    out = np.zeros((F, H // 2, W // 2), np.uint8)
    y0, y1, x0, x1 = box
    if y1 <= y0:
        return out, None, None, None
    y0, x0 = y0 & ~1, x0 & ~1
    y1, x1 = min(y1 + (y1 & 1), H), min(x1 + (x1 & 1), W)
    # Horizontal pairs: read each pair of uint8 as one little-endian uint16 (low byte = left pixel).
    pairs = np.ascontiguousarray(levels[:, y0:y1, x0:x1]).view("<u2")  # (F, h, w / 2)
    total = pairs & np.uint16(0xFF)
    total += pairs >> np.uint16(8)
    total = total[:, 0::2] + total[:, 1::2]  # vertical pairs
    return out, total, pairs, (slice(None), slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2))


def area_half(levels: np.ndarray, box: Box) -> np.ndarray:
    """Exact 2x ``cv2.INTER_AREA`` of ``levels / 255`` then ``trunc(255 * .)``.

    OpenCV's integer-factor path computes ``(((a + b) + c) + d) * 0.25`` in float64 (a, b top row). Its
    result is ``floor(S / 4)`` for ``S = g_a + g_b + g_c + g_d`` except that rounding can make it one lower
    when S is a multiple of 4, so only those pixels are evaluated in float64.

    Args:
        levels: ``uint8 (F, H, W)`` grey levels, H and W even.
        box: half-open ``(y0, y1, x0, x1)`` holding every non-zero level; only it is computed.

    Returns:
        ``uint8 (F, H / 2, W / 2)``.
    """
    out, total, pairs, region = _area_sums(levels, box)
    if total is None:
        return out
    exact = total >> np.uint16(2)
    check = np.flatnonzero(((total & np.uint16(3)) == 0) & (total > 0))
    if check.size:
        half_w = total.shape[2]
        top = check + (check // half_w) * half_w  # output (f, i, j) -> pair (f, 2i, j), flat
        flat = pairs.reshape(-1)
        upper, lower = flat.take(top), flat.take(top + half_w)
        value = _pair_sums().take(upper)  # a + b
        cd = cv2.LUT(lower.view(np.uint8).reshape(-1, 2), _UNIT_LUT)  # little-endian: c (left), d (right)
        value += cd[:, 0]
        value += cd[:, 1]
        value *= 0.25
        value *= 255.0
        exact.reshape(-1)[check] = value.astype(np.uint16)
    out[region] = exact
    return out


def area_half_floor(levels: np.ndarray, box: Box) -> np.ndarray:
    """Fixed 2x area downsample in exact integer arithmetic, ``floor((g00 + g01 + g10 + g11) / 4)``.

    This is the exact value of upstream's float ``trunc(255 * INTER_AREA(G / 255))``, which is one level
    lower at some pixels (see :func:`area_half`). Arguments and result as :func:`area_half`.
    """
    out, total, _, region = _area_sums(levels, box)
    if total is not None:
        out[region] = total >> np.uint16(2)
    return out


def area_resample(levels: np.ndarray, size: int) -> np.ndarray:
    """``cv2.INTER_AREA`` of each crop ``levels[i] / 255`` to ``size x size``, then ``trunc(255 * .)``: upstream's
    HeatmapAlignment resample, one OpenCV call per crop.

    Args:
        levels: ``uint8 (N, h, w)`` grey-level crops of one size.
        size: output side.

    Returns:
        ``uint8 (N, size, size)``.
    """
    out = np.empty((levels.shape[0], size, size), np.uint8)
    for i, crop in enumerate(levels):
        r = cv2.resize(cv2.LUT(crop, _UNIT_LUT), (size, size), interpolation=cv2.INTER_AREA)
        out[i] = (r * 255.0).astype(np.uint8)
    return out
