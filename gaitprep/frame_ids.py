"""Which source frames a dataset's frames are: kept as runs so that a manifest record stays small.

A *source frame id* is the pose frame a frame comes from: the number in the frame file's name for a
``pose-raw`` tree (``000123.json`` and ``123.json`` are both 123), the array index for a ``pose-pkl``
tree. Skeleton maps and registered silhouettes record theirs per sequence (``source_frames``), so two
datasets that dropped different frames (no person, unpaired frames, unnormalisable frames) are still
paired frame by frame when stacked.
"""

from __future__ import annotations

import numpy as np

from gaitprep.errors import BadInputError


def to_runs(ids: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Strictly increasing int ids ``(T,)`` -> runs ``((first, last), ...)`` of consecutive ids, inclusive."""
    a = np.asarray(ids, dtype=np.int64)
    if a.ndim != 1:
        raise BadInputError(f"source frame ids must be 1-D, got shape {a.shape}")
    if a.size == 0:
        return ()
    if (np.diff(a) <= 0).any():
        raise BadInputError("source frame ids must be strictly increasing")
    breaks = np.flatnonzero(np.diff(a) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [a.size - 1]])
    return tuple((int(a[s]), int(a[e])) for s, e in zip(starts, ends, strict=True))


def from_runs(runs: tuple[tuple[int, int], ...] | list[list[int]]) -> np.ndarray:
    """Runs from :func:`to_runs` -> int64 ``(T,)`` ids."""
    if not runs:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.arange(int(a), int(b) + 1, dtype=np.int64) for a, b in runs])
