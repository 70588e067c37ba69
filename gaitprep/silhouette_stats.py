"""Per-sequence facts about raw segmentation masks that the pretreatments report."""

from __future__ import annotations

import numpy as np

# A mask pixel counts as the person from this grey level on (masks are 0/255; edges may be interpolated).
FOREGROUND = 128


def border_frames(frames: np.ndarray) -> int:
    """How many masks touch the image border: a subject cut by the frame edge (e.g. leaving the image).

    frames: uint8 ``(T, H, W)`` raw masks. A frame counts when any pixel of its first or last row or
    column is ``>= 128``.
    """
    f = np.asarray(frames)
    if f.ndim != 3 or f.shape[0] == 0:
        return 0
    fg = f >= FOREGROUND
    edge = (
        fg[:, 0, :].any(axis=1)
        | fg[:, -1, :].any(axis=1)
        | fg[:, :, 0].any(axis=1)
        | fg[:, :, -1].any(axis=1)
    )
    return int(edge.sum())


def blank_frames(frames: np.ndarray) -> int:
    """How many frames of uint8 ``(T, H, W)`` are entirely 0."""
    f = np.asarray(frames)
    if f.ndim != 3 or f.shape[0] == 0:
        return 0
    return int((~f.reshape(f.shape[0], -1).any(axis=1)).sum())
