"""The pose builder: pose-raw or pose-pkl trees → a versioned float32 (T, 17, 3) pose dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gaitprep.build.engine import BuildResult, ProcessResult, SourceItem, build_dataset
from gaitprep.build.options import DEFAULT_OPTIONS, BuildOptions
from gaitprep.build.plans import open_tree_input, tree_plan
from gaitprep.io.load import load_sequence
from gaitprep.io.read_options import DEFAULT_READ, ReadOptions
from gaitprep.manifest import ArraySpec
from gaitprep.sources import read_params

POSE_ALGO_VERSION = "gaitprep-poses-1"
POSE_LAYOUTS = ("pose-pkl", "pose-raw")
POSE_ARRAYS = {
    "pose": ArraySpec(
        dtype="float32",
        per_frame=True,
        item_shape=(17, 3),
        axes=("T", "J", "xyc"),
        channels=("x", "y", "confidence"),
    )
}


def process_poses(item: SourceItem) -> ProcessResult:
    (ref,) = item.inputs
    seq = load_sequence(ref)
    return ProcessResult(
        {"pose": seq.array.astype(np.float32)},
        seq.frames_in,
        int(seq.array.shape[0]),
        seq.dropped,
        record=seq.reader_record(),
    )


def build_poses(
    input_path: str | Path,
    out: str | Path,
    *,
    options: BuildOptions = DEFAULT_OPTIONS,
    read: ReadOptions = DEFAULT_READ,
) -> BuildResult:
    """pose-raw or pose-pkl → a versioned float32 (T, 17, 3) pose dataset (x, y, confidence; image px)."""
    src = open_tree_input(input_path, out, POSE_LAYOUTS, read, options)
    params = {
        "transform": "repackage",
        "input_layout": src.tree.layout,
        "dtype": "float32",
        **read_params(src.tree),
    }
    plan = tree_plan(
        src,
        out,
        options,
        modality="pose",
        algo_version=POSE_ALGO_VERSION,
        arrays=POSE_ARRAYS,
        primary="pose",
        params=params,
        process=process_poses,
    )
    return build_dataset(plan, options)
