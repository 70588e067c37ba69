"""Upstream OpenGait silhouette pretreatment (``imgs2pickle``), bit-exact, as pure functions.

Domain reference §3. Per frame (8-bit greyscale mask, any size):

1. drop it when its pixel sum is <= 10,000 (``low_mass``);
2. crop rows to the first and last non-empty row (columns are kept);
3. ``cv2.resize`` to ``(int(64 * (W / H)), 64)`` with ``INTER_CUBIC`` (the ratio is computed first,
   exactly as upstream, so the float rounding matches);
4. ``x_c`` = first column whose cumulative column sum exceeds half the total; drop the frame when there
   is none or it is 0 (``no_center``; upstream's ``if not x_center`` treats column 0 as "none");
5. keep columns ``[x_c - 32, x_c + 32)``, zero-padded where the window leaves the image (upstream pads
   32 zero columns on both sides when ``x_c - 32 <= 0`` or ``x_c + 32 >= width``; both branches give
   the same pixels, so one clipped copy reproduces them);
6. ``uint8 (64, 64)``; greyscale, not binary, because of the cubic resampling.

One case upstream does not survive: a crop so narrow that ``int(64 * W / H) == 0`` makes ``cv2.resize``
raise. We drop such a frame with reason ``zero_width`` instead of crashing.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gaitprep.errors import BadInputError

DROP_LOW_MASS = "low_mass"
DROP_NO_CENTER = "no_center"
DROP_ZERO_WIDTH = "zero_width"
DROP_REASONS: tuple[str, ...] = (DROP_LOW_MASS, DROP_NO_CENTER, DROP_ZERO_WIDTH)


class SilhouetteSpec(BaseModel):
    """Parameters of the pretreatment. The defaults are upstream's; change them only knowingly."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)  # finite numbers only

    img_size: int = Field(64, ge=2, multiple_of=2, description="output height and width in pixels (even)")
    min_mass: int = Field(10_000, ge=0, description="frames whose pixel sum is <= this are dropped")


UPSTREAM = SilhouetteSpec()


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 2 or frame.dtype != np.uint8:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise BadInputError(f"a silhouette frame must be a 2-D uint8 array, got shape {shape} dtype {dtype}")


def pretreat_frame_with_reason(
    frame: np.ndarray, spec: SilhouetteSpec = UPSTREAM
) -> tuple[np.ndarray | None, str | None]:
    """Pretreat one mask; return ``(image, None)`` or ``(None, reason)``.

    ``frame``: ``uint8 (H, W)`` greyscale mask. ``image``: ``uint8 (S, S)`` with ``S = spec.img_size``.
    ``reason`` is one of :data:`DROP_REASONS`.
    """
    _check_frame(frame)
    size = spec.img_size
    half = size // 2
    # numpy sums uint8 in uint64, as upstream's img.sum() does.
    if int(frame.sum(dtype=np.uint64)) <= spec.min_mass:
        return None, DROP_LOW_MASS
    rows = np.flatnonzero(frame.any(axis=1))
    crop = frame[rows[0] : rows[-1] + 1, :]
    ratio = crop.shape[1] / crop.shape[0]
    width = int(size * ratio)
    if width <= 0:
        return None, DROP_ZERO_WIDTH
    img = cv2.resize(crop, (width, size), interpolation=cv2.INTER_CUBIC)
    if img.ndim != 2:  # cv2 returns (64, 1) as 2-D, but guard against any squeezed shape
        img = img.reshape(size, width)
    col_sum = img.sum(axis=0, dtype=np.uint64)
    above = np.cumsum(col_sum) > int(col_sum.sum()) / 2
    if not above.any():
        return None, DROP_NO_CENTER
    x_c = int(np.argmax(above))
    if x_c == 0:
        return None, DROP_NO_CENTER
    out = np.zeros((size, size), dtype=np.uint8)
    left = x_c - half
    lo, hi = max(0, left), min(width, x_c + half)
    out[:, lo - left : hi - left] = img[:, lo:hi]
    return out, None


def pretreat_frame(frame: np.ndarray, spec: SilhouetteSpec = UPSTREAM) -> np.ndarray | None:
    """Pretreat one ``uint8 (H, W)`` mask to ``uint8 (64, 64)``, or None when upstream drops it.

    Use :func:`pretreat_frame_with_reason` to learn why a frame was dropped.
    """
    return pretreat_frame_with_reason(frame, spec)[0]


def pretreat_sequence(
    frames: Iterable[np.ndarray], spec: SilhouetteSpec = UPSTREAM
) -> tuple[np.ndarray, dict[str, int]]:
    """Pretreat frames in the given (sorted filename) order.

    Returns ``uint8 (T_kept, 64, 64)`` (``(0, 64, 64)`` when every frame is dropped) and the drop counts
    by reason, with every reason of :data:`DROP_REASONS` present (0 when it never fired).
    """
    kept: list[np.ndarray] = []
    drops = dict.fromkeys(DROP_REASONS, 0)
    for frame in frames:
        image, reason = pretreat_frame_with_reason(frame, spec)
        if image is None:
            drops[reason] += 1  # type: ignore[index]
        else:
            kept.append(image)
    if not kept:
        return np.zeros((0, spec.img_size, spec.img_size), dtype=np.uint8), drops
    return np.stack(kept), drops
