"""Load one sequence of any release layout into memory, validated."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gaitprep.io.frames import read_png_frames, read_pose_sequence, source_frame_numbers
from gaitprep.io.joints import nonfinite_to_missing
from gaitprep.io.safe_pickle import load_array_pickle
from gaitprep.io.tree import (
    SequenceRef,
    has_unpadded_names,
    validate_pose_array,
    validate_silhouette_array,
)


@dataclass
class LoadedSequence:
    """``array``: pose float64 (T, 17, 3), raw masks uint8 (T, H, W) or silhouettes uint8 (T, 64, 64).

    ``frames_in`` counts the frames on disk; ``dropped`` the ones the reader skipped, by reason.
    ``frame_numbers`` int64 (T,) is each kept frame's source frame: the number in its file name for raw
    trees (its position when a name carries none), the array index for pickles. ``person`` (pose-raw
    only) counts frames with several people, frames whose chosen person is not listed first, and all-zero
    entries; ``nonfinite_joints`` counts joints read as missing because a number was NaN or infinite;
    ``unpadded_names`` is True when frame numbers are written with different widths.
    """

    ref: SequenceRef
    array: np.ndarray
    frames_in: int
    dropped: dict[str, int] = field(default_factory=dict)
    frame_numbers: np.ndarray | None = None
    person: dict[str, int] = field(default_factory=dict)
    nonfinite_joints: int = 0
    unpadded_names: bool = False
    keypoint_format: str | None = None

    def reader_record(self) -> dict[str, object]:
        """The per-sequence reader facts that go into a manifest record (only those that apply)."""
        out: dict[str, object] = {}
        if self.person:
            out["person_frames"] = dict(self.person)
        if self.nonfinite_joints:
            out["nonfinite_joints"] = self.nonfinite_joints
        if self.unpadded_names:
            out["unpadded_frame_names"] = True
        return out


def load_sequence(ref: SequenceRef) -> LoadedSequence:
    files = ref.files()
    if ref.layout == "pose-raw":
        seq = read_pose_sequence(ref, files)
        return LoadedSequence(
            ref,
            seq.pose,
            len(files),
            seq.dropped,
            frame_numbers=seq.frame_numbers,
            person=seq.person,
            nonfinite_joints=seq.nonfinite_joints,
            unpadded_names=has_unpadded_names(ref, files),
            keypoint_format=seq.keypoint_format,
        )
    if ref.layout == "sil-raw":
        return LoadedSequence(
            ref,
            read_png_frames(ref, files),
            len(files),
            frame_numbers=source_frame_numbers(files),
            unpadded_names=has_unpadded_names(ref, files),
        )
    path = files[0]
    arr = load_array_pickle(path)
    nonfinite = 0
    if ref.layout == "pose-pkl":
        if isinstance(arr, np.ndarray) and arr.ndim == 3 and arr.shape[1:] == (17, 3):
            arr, nonfinite = nonfinite_to_missing(arr)
        arr = validate_pose_array(arr, path)
    else:
        arr = validate_silhouette_array(arr, path)
    t = int(arr.shape[0])
    return LoadedSequence(ref, arr, t, frame_numbers=np.arange(t, dtype=np.int64), nonfinite_joints=nonfinite)
