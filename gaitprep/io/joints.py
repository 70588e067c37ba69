"""Joints a detector wrote as NaN or infinity are missing joints, not a broken sequence."""

from __future__ import annotations

import numpy as np


def nonfinite_to_missing(pose: np.ndarray) -> tuple[np.ndarray, int]:
    """Write every joint with a non-finite x, y or confidence as ``(0, 0, 0)``, the missing marker.

    pose: ``(..., 3)`` float array (x, y px, confidence). Returns the cleaned array (a copy only when
    something changed) and the number of joints rewritten. Non-float arrays are returned unchanged with
    a count of 0 (the validators refuse them).
    """
    arr = np.asarray(pose)
    if arr.dtype.kind != "f" or arr.ndim < 1 or arr.shape[-1] != 3:
        return arr, 0
    bad = ~np.isfinite(arr).all(axis=-1)
    n = int(bad.sum())
    if n == 0:
        return arr, 0
    out = arr.copy()
    out[bad] = 0.0
    return out, n
