"""The registered-silhouette builder: silhouettes cropped and scaled with the skeleton maps' own box, so
that they stack pixel for pixel with the maps (:mod:`gaitprep.build.stacking`)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.build.engine import BuildResult, ProcessResult, SourceItem, build_dataset
from gaitprep.build.options import DEFAULT_OPTIONS, BuildOptions
from gaitprep.build.plans import FRAME_IDS, SILHOUETTE_ARRAYS, checked_inputs, joined_item, make_plan
from gaitprep.build.poses import POSE_LAYOUTS
from gaitprep.errors import BadInputError
from gaitprep.io.load import load_sequence
from gaitprep.io.read_options import DEFAULT_READ, ReadOptions
from gaitprep.io.tree import Tree
from gaitprep.manifest import SourceInfo, json_digest
from gaitprep.silhouette_stats import blank_frames, border_frames
from gaitprep.sources import keypoint_format, open_tree, partition_missing, read_params, tree_items

REGISTERED_ALGO_VERSION = "gaitprep-registered-silhouettes-4"

# HeatmapSpec fields that place a frame on the canvas: registered silhouettes record them and stacking
# demands that the maps' match.
REGISTRATION_GEOMETRY: tuple[str, ...] = (
    "placement",
    "scale",
    "scale_window",
    "margin_sigmas",
    "min_margin_sigmas",
    "sigma_limb",
    "sigma_joint",
    "scale_span_joints",
    "impute_on",
    "knn_fill",
    "knn_never_observed",
    "low_conf_interpolate",
    "hip_missing",
)


def process_registered(opts: dict[str, Any], item: SourceItem) -> ProcessResult:
    """Pair mask and pose frames, drop the masks plain mode drops, then crop with the box of the skeleton
    maps of ``opts["spec"]`` (the pose cleaned and placed exactly as those maps do, from every pose frame)."""
    from gaitprep.frame_ids import to_runs
    from gaitprep.heatmaps.spec import HeatmapSpec
    from gaitprep.silhouette_registration import pair_by_name, pair_frames, register_silhouettes

    sil_ref, pose_ref = item.inputs
    sil = load_sequence(sil_ref)
    pose = load_sequence(pose_ref)
    if pose_ref.layout == "pose-raw":
        try:
            pairing = pair_by_name(sil.frame_numbers, pose.frame_numbers)
        except BadInputError as exc:
            raise BadInputError(f"sequence {item.key}: {exc}", sil_ref.folder) from None
        sil_idx, pose_idx, unpaired = pairing.sil_index, pairing.pose_index, pairing.unpaired
        if sil_idx.size == 0:
            raise BadInputError(
                f"sequence {item.key}: no silhouette frame has a pose frame of the same number",
                sil_ref.folder,
            )
        frame_ids = pose.frame_numbers
    else:  # a pose pickle carries no frame names: the counts must match, frame i with frame i
        pair_frames(int(sil.array.shape[0]), int(pose.array.shape[0]), item.key)
        sil_idx = pose_idx = np.arange(sil.array.shape[0])
        unpaired = {}
        frame_ids = np.arange(pose.array.shape[0])
    masks = sil.array[sil_idx]
    mass = masks.reshape(masks.shape[0], -1).sum(axis=1, dtype=np.uint64)
    keep = mass > opts["min_mass"]  # plain mode's low_mass rule
    if not keep.any():
        raise BadInputError(
            "every frame was dropped by the silhouette pretreatment (empty sequence)", sil_ref.folder
        )
    dropped = {"low_mass": int((~keep).sum())} if (~keep).any() else {}
    # The maps place every pose frame from the whole pose sequence (gap filling, scale): so does this.
    aligned = np.zeros((pose.array.shape[0], *masks.shape[1:]), dtype=np.uint8)
    aligned[pose_idx] = masks
    out_all, valid_all = register_silhouettes(aligned, pose.array, spec=HeatmapSpec(**opts["spec"]))
    chosen = pose_idx[keep]
    out, valid = out_all[chosen], valid_all[chosen]
    stats = {
        "blank_frames": float(blank_frames(out)),
        "unnormalisable_frames": float((~valid).sum()),
        "border_frames": float(border_frames(masks[keep])),
    }
    record = {**sil.reader_record(), "source_frames": to_runs(frame_ids[chosen])}
    pose_facts = pose.reader_record()  # which person the pose frames were read from
    for key in ("person_frames", "nonfinite_joints"):
        if key in pose_facts:
            record[key] = pose_facts[key]
    if unpaired:
        record["unpaired_frames"] = unpaired
    return ProcessResult({"silhouette": out}, sil.frames_in, int(out.shape[0]), dropped, stats, record)


def registration_spec(
    scale_mode: str | None = None,
    span_joints: str | None = None,
    joint_set: str | None = None,
    knn_fill: bool = True,
    sigma: float | None = None,
) -> Any:
    """The recommended preset with the given overrides (``sigma``: both channels): the HeatmapSpec whose
    box registered silhouettes share when no spec is given."""
    from gaitprep.heatmaps.spec import preset

    overrides = {
        "scale": scale_mode,
        "scale_span_joints": span_joints,
        "joint_set": joint_set,
        "sigma_limb": sigma,
        "sigma_joint": sigma,
    }
    return preset("recommended", knn_fill=knn_fill, **{k: v for k, v in overrides.items() if v is not None})


def build_registered_silhouettes(
    sil_path: str | Path,
    pose_path: str | Path,
    out: str | Path,
    *,
    spec: Any = None,
    scale_mode: str | None = None,
    span_joints: str | None = None,
    joint_set: str | None = None,
    knn_fill: bool = True,
    sigma: float | None = None,
    options: BuildOptions = DEFAULT_OPTIONS,
    read: ReadOptions = DEFAULT_READ,
) -> BuildResult:
    """Silhouettes uint8 (T, 64, 64) cropped and scaled with the skeleton maps' own full-canvas box.

    ``spec`` is the :class:`~gaitprep.heatmaps.spec.HeatmapSpec` the maps were (or will be) rendered with;
    without it the recommended preset is used with ``scale_mode``, ``span_joints``, ``joint_set`` and
    ``sigma`` (both channels; it sets the margins) overriding it (:func:`registration_spec`). The
    silhouettes then share the maps' gap filling, placement, scale and margins, so the pixels line up when
    stacked.

    Frame pairing: with a ``pose-raw`` tree, mask and pose frames are paired by the number in their file
    names (``12.png`` with ``000012.json``); frames present on one side only are left out and counted
    per sequence (``unpaired_frames``: ``no_pose_frame``, ``no_silhouette_frame``). A ``pose-pkl`` array
    carries no names, so there the counts must match and frame i pairs with frame i. Masks whose pixel sum
    is <= 10,000 are then dropped (``low_mass``, as plain mode). Each record keeps the source frame ids of
    its frames (``source_frames``), which stacking uses to pair with the maps.
    """
    from gaitprep.silhouettes import UPSTREAM

    if spec is None:
        spec = registration_spec(scale_mode, span_joints, joint_set, knn_fill, sigma)
    inputs = checked_inputs(out, (sil_path, pose_path), options)
    sil_tree = open_tree(sil_path, ("sil-raw",), read)
    pose_tree = open_tree(pose_path, POSE_LAYOUTS, read)
    partition = options.partition
    missing = partition_missing(
        partition, sil_tree.ids & pose_tree.ids, options.strict_partition, sil_tree.root
    )
    sil_items = {i.key: i for i in tree_items(sil_tree, partition, options.workers)}
    pose_items = {i.key: i for i in tree_items(pose_tree, partition, options.workers)}
    items = _paired_items(sil_items, pose_items, pose_tree)
    source = SourceInfo(
        kind="tree",
        release=f"sil-raw+{pose_tree.layout}",
        root=str(sil_tree.root),
        digest=json_digest(sorted((i.key, i.source_digest) for i in items)),
        sequences=len(items),
        keypoint_format=keypoint_format(pose_tree),
    )
    opts = {"spec": spec.model_dump(mode="json"), "min_mass": UPSTREAM.min_mass}
    # The pose tree's source digest: array indices pair with maps only when rendered from this tree.
    pose_digest = json_digest(sorted((k, i.source_digest) for k, i in pose_items.items()))
    plan = make_plan(
        out,
        options,
        modality="silhouette",
        algo_version=REGISTERED_ALGO_VERSION,
        arrays=SILHOUETTE_ARRAYS,
        primary="silhouette",
        params=registered_params(spec, sil_tree, pose_tree, pose_digest, UPSTREAM.min_mass),
        items=items,
        process=functools.partial(process_registered, opts),
        source=source,
        partition_missing=missing,
        inputs=inputs,
    )
    return build_dataset(plan, options)


def _paired_items(
    sil_items: dict[str, SourceItem], pose_items: dict[str, SourceItem], pose_tree: Tree
) -> list[SourceItem]:
    """One item per sequence, reading its masks and its poses; both trees must hold the same sequences."""
    if set(sil_items) != set(pose_items):
        only = sorted(set(sil_items) ^ set(pose_items))
        raise BadInputError(
            f"silhouette and pose trees hold different sequences, e.g. {only[0]}", pose_tree.root
        )
    return [
        joined_item(s, pose_items[k], (s.inputs[0], pose_items[k].inputs[0]))
        for k, s in sorted(sil_items.items())
    ]


def registered_params(
    spec: Any, sil_tree: Tree, pose_tree: Tree, pose_digest: str, min_mass: int
) -> dict[str, Any]:
    """The manifest's params of registered silhouettes: the box they share with the maps of ``spec``, the
    frame pairing, and how both trees were read."""
    by_name = pose_tree.layout == "pose-raw"
    return {
        "transform": "register-with-skeleton-box",
        "scale_mode": spec.scale,
        "span_joints": list(spec.span_joints),
        "joint_set": spec.joint_set,
        "knn_fill": spec.knn_fill,
        "canvas": spec.canvas,
        "size": spec.size,
        "crop": "full_canvas",
        "frame_pairing": "by_frame_name" if by_name else "equal_count_by_index",
        "frame_ids": FRAME_IDS[pose_tree.layout],
        "pose_source_digest": pose_digest,
        "min_mass": min_mass,
        "unnormalisable": "blank",
        "geometry": {key: spec.record()[key] for key in REGISTRATION_GEOMETRY},
        **read_params(sil_tree),
        **{f"pose_{k}": v for k, v in read_params(pose_tree).items()},
    }
