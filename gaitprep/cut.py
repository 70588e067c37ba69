"""The load-time side cut, declared once.

Frames are stored uncut; at load time OpenGait's ``BaseSilCuttingTransform`` removes ``int(W // 64) * 10``
columns from each side (10 for W = 64, 0 below 64, 20 for 128) and scales to [0, 1]. Every place that
needs that width takes it from :func:`cut_columns`: gaitprep's load transform (:mod:`gaitprep.api`), the
manifest's ``layout.load_transform`` text, the renderer's border figures, the silhouette builder's
``cut_mass_fraction`` and gaitmodels' training transform (:func:`gaitmodels.sampling.cut_transform`).
"""

from __future__ import annotations

import numpy as np

CUT_STEP = 64
"""Stored width per step of the cut (px)."""
CUT_PER_STEP = 10
"""Columns cut from each side per ``CUT_STEP`` of stored width (upstream's 10 px of a 64-px frame)."""
LOAD_TRANSFORM = (
    f"cut int(W // {CUT_STEP}) * {CUT_PER_STEP} columns from each side, then / 255 (applied at load)"
)
"""The transform as the manifest records it (``Layout.load_transform``)."""


def cut_columns(width: int) -> int:
    """Columns removed from EACH side of a ``width``-px frame at load time: ``int(W // 64) * 10``."""
    return int(width // CUT_STEP) * CUT_PER_STEP


# uint8 grey level -> float32 in [0, 1], x / 255 in float64 then cast, as upstream's numpy division followed by
# ``.float()`` (equal to a float32 division for all 256 levels); one lookup per pixel.
_UNIT = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


def cut_to_unit(frames: np.ndarray) -> np.ndarray:
    """The load transform of a uint8 ``(..., H, W)`` array: :func:`cut_columns` columns off each side, then
    ``/ 255`` as float32 ``(..., H, W - 2 cut)``. Callers check the dtype (each names its own error)."""
    width = frames.shape[-1]
    cut = cut_columns(width)
    return _UNIT[frames[..., cut : width - cut]]
