"""The skeleton-map builder: Gaussian skeleton maps rendered from a pose tree with a HeatmapSpec."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from gaitprep.build.engine import BuildResult, ProcessResult, SourceItem, build_dataset
from gaitprep.build.options import DEFAULT_OPTIONS, BuildOptions
from gaitprep.build.plans import FRAME_IDS, open_tree_input, tree_plan
from gaitprep.build.poses import POSE_LAYOUTS
from gaitprep.errors import BadInputError
from gaitprep.io.load import load_sequence
from gaitprep.io.read_options import DEFAULT_READ, ReadOptions
from gaitprep.manifest import ArraySpec
from gaitprep.sources import read_params


def process_heatmaps(spec_dict: dict[str, Any], item: SourceItem) -> ProcessResult:
    from gaitprep.heatmaps import render_sequence
    from gaitprep.heatmaps.spec import HeatmapSpec

    (ref,) = item.inputs
    seq = load_sequence(ref)
    spec = HeatmapSpec(**spec_dict)
    try:
        result = render_sequence(spec, seq.array)
    except BadInputError as exc:
        raise BadInputError(str(exc), ref.folder) from None
    if result.maps.shape[0] == 0:
        raise BadInputError("no frame could be normalised (every frame dropped)", ref.folder)
    from gaitprep.frame_ids import to_runs

    dropped = dict(seq.dropped)
    if result.dropped_frames:
        dropped["unnormalisable"] = result.dropped_frames
    record = {**seq.reader_record(), "source_frames": to_runs(seq.frame_numbers[result.kept])}
    return ProcessResult(
        {"maps": result.maps}, seq.frames_in, int(result.maps.shape[0]), dropped, result.stats, record
    )


def build_heatmaps(
    input_path: str | Path,
    out: str | Path,
    spec: Any,
    *,
    options: BuildOptions = DEFAULT_OPTIONS,
    read: ReadOptions = DEFAULT_READ,
) -> BuildResult:
    """Skeleton maps uint8 (T, C, size, size) from a pose tree, rendered with ``spec`` (a HeatmapSpec).

    Each record keeps the source frame id of every map frame (``source_frames``: pose-raw file-name
    numbers, or pose-pkl array indices), so registered silhouettes pair with them by frame.
    """
    from gaitprep.heatmaps.stats import aggregate_stats

    src = open_tree_input(input_path, out, POSE_LAYOUTS, read, options)
    channels = tuple(spec.channel_names)
    arrays = {
        "maps": ArraySpec(
            dtype="uint8",
            per_frame=True,
            item_shape=(len(channels), spec.size, spec.size),
            axes=("T", "C", "H", "W"),
            channels=channels,
        )
    }
    layout = src.tree.layout
    params = {**spec.record(), "input_layout": layout, "renderer": "numpy float32, float64 final stage"}
    if layout == "pose-raw":  # pose-pkl frame ids (array indices) are the default a reader assumes
        params.update({"frame_ids": FRAME_IDS[layout], **read_params(src.tree)})
    plan = tree_plan(
        src,
        out,
        options,
        modality="skeleton_map",
        algo_version=spec.ALGO_VERSION,
        arrays=arrays,
        primary="maps",
        params=params,
        process=functools.partial(process_heatmaps, spec.model_dump(mode="json")),
        aggregate=aggregate_stats,
    )
    return build_dataset(plan, options)
