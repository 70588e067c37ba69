"""Load one sequence of any release layout into memory, validated."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gaitprep.io.frames import read_png_frames, read_pose_frames
from gaitprep.io.safe_pickle import load_array_pickle
from gaitprep.io.tree import SequenceRef, validate_pose_array, validate_silhouette_array


@dataclass
class LoadedSequence:
    """``array``: pose float64 (T, 17, 3), raw masks uint8 (T, H, W) or silhouettes uint8 (T, 64, 64).

    ``frames_in`` counts the frames on disk; ``dropped`` the ones the reader skipped, by reason.
    """

    ref: SequenceRef
    array: np.ndarray
    frames_in: int
    dropped: dict[str, int] = field(default_factory=dict)


def load_sequence(ref: SequenceRef) -> LoadedSequence:
    files = ref.files()
    if ref.layout == "pose-raw":
        arr, dropped = read_pose_frames(ref)
        return LoadedSequence(ref, arr, len(files), dropped)
    if ref.layout == "sil-raw":
        return LoadedSequence(ref, read_png_frames(ref), len(files))
    path = files[0]
    arr = load_array_pickle(path)
    if ref.layout == "pose-pkl":
        arr = validate_pose_array(arr, path)
    else:
        arr = validate_silhouette_array(arr, path)
    return LoadedSequence(ref, arr, int(arr.shape[0]))
