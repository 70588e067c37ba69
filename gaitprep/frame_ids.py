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
    """Distinct int ids ``(T,)`` in frame order -> runs ``((first, last), ...)`` of ids that step by +1,
    inclusive (one run for ``0..T-1``; frames read in name order give more runs)."""
    a = np.asarray(ids, dtype=np.int64)
    if a.ndim != 1:
        raise BadInputError(f"source frame ids must be 1-D, got shape {a.shape}")
    if a.size == 0:
        return ()
    if np.unique(a).size != a.size:
        raise BadInputError("source frame ids must be distinct")
    breaks = np.flatnonzero(np.diff(a) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [a.size - 1]])
    return tuple((int(a[s]), int(a[e])) for s, e in zip(starts, ends, strict=True))


def pair_ids(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ids present in both ``a`` and ``b`` (each distinct), in ``a``'s order:
    ``(ia, ib)`` int64 with ``a[ia] == b[ib]``."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    where = {int(v): k for k, v in enumerate(b)}
    ia = np.array([k for k, v in enumerate(a) if int(v) in where], dtype=np.int64)
    ib = np.array([where[int(a[k])] for k in ia], dtype=np.int64)
    return ia, ib


def from_runs(runs: tuple[tuple[int, int], ...] | list[list[int]]) -> np.ndarray:
    """Runs from :func:`to_runs` -> int64 ``(T,)`` ids."""
    if not runs:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.arange(int(a), int(b) + 1, dtype=np.int64) for a, b in runs])
