"""Library entry points that build datasets: one function per command, each a plan for ``build/engine.py``.

Every ``process_*`` function is top-level (picklable for joblib and dask) and does load + transform for
one sequence; the transforms themselves stay pure functions in their own modules.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.build.engine import BuildPlan, BuildResult, ProcessResult, SourceItem, build_dataset
from gaitprep.errors import BadInputError
from gaitprep.io.load import load_sequence
from gaitprep.io.read_options import DEFAULT_READ, ReadOptions
from gaitprep.manifest import ArraySpec, Layout, Owner
from gaitprep.ownership import check_output_path
from gaitprep.partition import Partition
from gaitprep.silhouette_stats import blank_frames, border_frames
from gaitprep.sources import (
    keypoint_format,
    open_tree,
    partition_missing,
    read_params,
    tree_items,
    tree_source_info,
)

FORMATS = {"zarr": ("zarr",), "pkl": ("opengait-pkl",), "both": ("zarr", "opengait-pkl")}


def layout_for(fmt: str, arrays: dict[str, ArraySpec], primary: str) -> Layout:
    try:
        formats = FORMATS[fmt]
    except KeyError:
        raise BadInputError(f"unknown format {fmt!r}; expected zarr, pkl or both") from None
    return Layout(formats=formats, primary=primary, arrays=arrays)  # type: ignore[arg-type]


def checked_inputs(
    out: str | Path, paths: tuple[str | Path, ...], partition: Partition | None, force: bool
) -> tuple[Path, ...]:
    """The paths a build reads (``paths`` and the partition file), after checking ``out`` against them and
    the ownership rule up front, before any input is read (``ownership.check_output_path``)."""
    inputs = tuple(Path(p) for p in paths)
    if partition is not None and partition.path:
        inputs += (Path(partition.path),)
    check_output_path(out, inputs=inputs, kind="dataset", force=force)
    return inputs


SILHOUETTE_ALGO_VERSION = "gaitprep-silhouettes-1"
# What a record's ``source_frames`` count in, by the pose layout the frames came from.
FRAME_IDS = {"pose-raw": "pose-raw frame-name numbers", "pose-pkl": "pose-pkl array index"}
POSE_ALGO_VERSION = "gaitprep-poses-1"


def process_silhouettes(spec: dict[str, Any], item: SourceItem) -> ProcessResult:
    """Upstream pretreatment for sil-raw input; unchanged re-packaging for sil-pkl input."""
    from gaitprep.cut import cut_columns
    from gaitprep.silhouettes import SilhouetteSpec, pretreat_sequence

    (ref,) = item.inputs
    seq = load_sequence(ref)
    if ref.layout == "sil-pkl":
        return ProcessResult({"silhouette": seq.array}, seq.frames_in, int(seq.array.shape[0]))
    border = border_frames(seq.array)
    sil, drops = pretreat_sequence(seq.array, SilhouetteSpec(**spec))
    if sil.shape[0] == 0:
        raise BadInputError(
            "every frame was dropped by the silhouette pretreatment (empty sequence)", ref.folder
        )
    mass = sil.reshape(sil.shape[0], -1).sum(axis=1, dtype=np.float64)
    width = sil.shape[-1]
    side = cut_columns(width)  # the columns the load-time cut removes on each side
    cut = sil[:, :, :side].sum(dtype=np.float64) + sil[:, :, width - side :].sum(dtype=np.float64)
    stats = {"cut_mass_fraction": float(cut / max(mass.sum(), 1.0)), "border_frames": float(border)}
    return ProcessResult(
        {"silhouette": sil}, seq.frames_in, int(sil.shape[0]), drops, stats, seq.reader_record()
    )


def build_silhouettes(
    input_path: str | Path,
    out: str | Path,
    *,
    partition: Partition | None = None,
    fmt: str = "zarr",
    workers: int = 1,
    quiet: bool = False,
    name: str | None = None,
    dask_address: str | None = None,
    force: bool = False,
    read: ReadOptions = DEFAULT_READ,
    strict_partition: bool = False,
    owner: Owner | None = None,
) -> BuildResult:
    """sil-raw PNG frames → upstream 64×64 silhouettes; sil-pkl → re-packaged as is. uint8 (T, 64, 64).

    Partition ids missing from the tree are recorded (``partition_missing_ids``) and built around, or
    refused with ``strict_partition``. ``read.frame_order`` sets the order of the PNG frames.
    """
    from gaitprep.silhouettes import SilhouetteSpec

    inputs = checked_inputs(out, (input_path,), partition, force)
    tree = open_tree(input_path, ("sil-raw", "sil-pkl"), read)
    missing = partition_missing(partition, tree.ids, strict_partition, tree.root)
    items = tree_items(tree, partition, workers)
    spec = SilhouetteSpec()
    params = {
        "transform": "opengait-imgs2pickle" if tree.layout == "sil-raw" else "repackage",
        "input_layout": tree.layout,
        **spec.model_dump(mode="json"),
        "interpolation": "INTER_CUBIC",
        **read_params(tree),
    }
    arrays = {
        "silhouette": ArraySpec(
            dtype="uint8", per_frame=True, item_shape=(64, 64), axes=("T", "H", "W"), channels=("silhouette",)
        )
    }
    plan = BuildPlan(
        out=Path(out),
        name=name or Path(out).name,
        version="1.0.0",
        modality="silhouette",
        algo_version=SILHOUETTE_ALGO_VERSION,
        layout=layout_for(fmt, arrays, "silhouette"),
        params=params,
        items=items,
        process=functools.partial(process_silhouettes, spec.model_dump()),
        source=tree_source_info(tree, items),
        partition=partition,
        partition_missing=missing,
        inputs=inputs,
        owner=owner,
    )
    return build_dataset(plan, workers=workers, quiet=quiet, dask_address=dask_address, force=force)


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
    partition: Partition | None = None,
    fmt: str = "zarr",
    workers: int = 1,
    quiet: bool = False,
    name: str | None = None,
    force: bool = False,
    read: ReadOptions = DEFAULT_READ,
    strict_partition: bool = False,
    owner: Owner | None = None,
) -> BuildResult:
    """pose-raw or pose-pkl → a versioned float32 (T, 17, 3) pose dataset (x, y, confidence; image px)."""
    inputs = checked_inputs(out, (input_path,), partition, force)
    tree = open_tree(input_path, ("pose-pkl", "pose-raw"), read)
    missing = partition_missing(partition, tree.ids, strict_partition, tree.root)
    items = tree_items(tree, partition, workers)
    arrays = {
        "pose": ArraySpec(
            dtype="float32",
            per_frame=True,
            item_shape=(17, 3),
            axes=("T", "J", "xyc"),
            channels=("x", "y", "confidence"),
        )
    }
    plan = BuildPlan(
        out=Path(out),
        name=name or Path(out).name,
        version="1.0.0",
        modality="pose",
        algo_version=POSE_ALGO_VERSION,
        layout=layout_for(fmt, arrays, "pose"),
        params={
            "transform": "repackage",
            "input_layout": tree.layout,
            "dtype": "float32",
            **read_params(tree),
        },
        items=items,
        process=process_poses,
        source=tree_source_info(tree, items),
        partition=partition,
        partition_missing=missing,
        inputs=inputs,
        owner=owner,
    )
    return build_dataset(plan, workers=workers, quiet=quiet, force=force)


# --- PAV -------------------------------------------------------------------------------------------------

PAV_ARRAYS = {
    "pav": ArraySpec(
        dtype="float32",
        per_frame=False,
        item_shape=(8, 3),
        axes=("pair", "metric"),
        channels=("height_diff", "midline_dev", "tilt"),
    ),
    "raw": ArraySpec(
        dtype="float32",
        per_frame=False,
        item_shape=(8, 3),
        axes=("pair", "metric"),
        channels=("height_diff", "midline_dev", "tilt"),
    ),
}
PER_FRAME_PAV = ArraySpec(
    dtype="float32",
    per_frame=True,
    item_shape=(8, 3),
    axes=("T", "pair", "metric"),
    channels=("height_diff", "midline_dev", "tilt"),
)


def raw_pav_of(spec: dict[str, Any], item: SourceItem) -> tuple[np.ndarray, np.ndarray, LoadedInfo]:
    from gaitprep.pav import PavSpec, compute_raw_pav

    (ref,) = item.inputs
    seq = load_sequence(ref)
    raw, per_frame = compute_raw_pav(PavSpec(**spec), seq.array)
    return raw, per_frame, (seq.frames_in, int(seq.array.shape[0]), seq.dropped, seq.reader_record())


LoadedInfo = tuple[int, int, dict[str, int], dict[str, Any]]


def _raw_only(spec: dict[str, Any], item: SourceItem) -> np.ndarray:
    return raw_pav_of(spec, item)[0]


def process_pav(
    spec: dict[str, Any], mn: list, mx: list, impute: list, per_frame: bool, item: SourceItem
) -> ProcessResult:
    """Raw PAV (NaN for a pair never observed), normalised PAV (finite: NaN features imputed, see
    :data:`gaitprep.pav.IMPUTE_RULE`), per-pair valid-frame counts and the imputed-feature count."""
    from gaitprep.pav import apply_minmax, impute_raw, valid_frame_counts
    from gaitprep.skeleton import PAIR_NAMES

    raw, frames, (frames_in, t, dropped, record) = raw_pav_of(spec, item)
    fill = np.asarray(impute, np.float32)
    _, imputed = impute_raw(raw, fill)
    arrays = {
        "raw": raw,
        "pav": apply_minmax(raw, np.asarray(mn, np.float32), np.asarray(mx, np.float32), fill),
    }
    if per_frame:
        arrays["per_frame"] = frames.astype(np.float32)
    valid = valid_frame_counts(frames)
    stats = {"imputed_features": float(imputed)}
    stats.update({f"valid_frames_{name}": float(n) for name, n in zip(PAIR_NAMES, valid, strict=True)})
    return ProcessResult(arrays, frames_in, t, dropped, stats, record)


def build_pav(
    input_path: str | Path,
    out: str | Path,
    *,
    partition: Partition,
    fit_on: str = "train",
    fmt: str = "zarr",
    per_frame: bool = False,
    workers: int = 1,
    quiet: bool = False,
    name: str | None = None,
    dask_address: str | None = None,
    force: bool = False,
    read: ReadOptions = DEFAULT_READ,
    strict_partition: bool = False,
    owner: Owner | None = None,
) -> BuildResult:
    """Postural Asymmetry Vectors: raw and min-max normalised float32 (8, 3) per sequence.

    The normaliser is fitted on the TRAIN ids of ``partition`` only; ``fit_on="all"`` must be asked for
    explicitly and is recorded. The fitted minima/maxima, fit set and partition hash go in the manifest.
    A pair never observed in a sequence has a NaN raw PAV; the fit ignores NaN, and the normalised PAV
    replaces it by the TRAIN median of that feature (``fitted.impute``, rule ``fitted.impute_rule``), so
    it stays finite; each record counts its imputed features and the valid frames of each pair.
    """
    from joblib import Parallel, delayed

    from gaitprep.pav import IMPUTE_RULE, PavSpec, fit_impute, fit_minmax, fit_set_ids

    if partition is None:
        raise BadInputError("gaitprep pav needs --partition: the normaliser is fitted on its TRAIN ids")
    inputs = checked_inputs(out, (input_path,), partition, force)
    tree = open_tree(input_path, ("pose-pkl", "pose-raw"), read)
    missing = partition_missing(partition, tree.ids, strict_partition, tree.root)
    items = tree_items(tree, partition, workers)
    spec = PavSpec()
    spec_dict = spec.model_dump(mode="json")
    fit_ids = set(fit_set_ids(partition, [i.id for i in items], fit_on))
    fit_items = [i for i in items if i.id in fit_ids]
    if workers > 1:
        raws = Parallel(n_jobs=workers)(delayed(_raw_only)(spec_dict, i) for i in fit_items)
    else:
        raws = [_raw_only(spec_dict, i) for i in fit_items]
    mn, mx = fit_minmax(np.stack(raws))
    impute = fit_impute(np.stack(raws))
    fitted = {
        "mn": mn.tolist(),
        "mx": mx.tolist(),
        "impute": impute.tolist(),
        "impute_rule": IMPUTE_RULE,
        "fit_on": fit_on,
        "fit_ids": len(fit_items),
        "partition": partition.name,
        "partition_sha256": partition.sha256,
        "scale_floor": 1e-6,
        "clip": [0.0, 1.0],
    }
    arrays = dict(PAV_ARRAYS)
    if per_frame:
        arrays["per_frame"] = PER_FRAME_PAV
    params = {
        **spec_dict,
        "algo": "UMGRL pretreatment_drf reimplementation (domain reference §6)",
        "input_layout": tree.layout,
        "per_frame": per_frame,
        "renderer_validity": "c>=1e-3 (maps) vs c>0 (PAV)",
        "pga_flatten_order": "pair-major (pair, metric)",
        **read_params(tree),
    }
    plan = BuildPlan(
        out=Path(out),
        name=name or Path(out).name,
        version="1.0.0",
        modality="pav",
        algo_version=PavSpec.ALGO_VERSION,
        layout=layout_for(fmt, arrays, "pav"),
        params=params,
        items=items,
        process=functools.partial(
            process_pav, spec_dict, fitted["mn"], fitted["mx"], fitted["impute"], per_frame
        ),
        source=tree_source_info(tree, items),
        partition=partition,
        partition_missing=missing,
        fitted=fitted,
        inputs=inputs,
        owner=owner,
    )
    return build_dataset(plan, workers=workers, quiet=quiet, dask_address=dask_address, force=force)


# --- silhouettes registered with the skeleton maps ------------------------------------------------------

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


def build_registered_silhouettes(
    sil_path: str | Path,
    pose_path: str | Path,
    out: str | Path,
    *,
    partition: Partition | None = None,
    fmt: str = "zarr",
    workers: int = 1,
    quiet: bool = False,
    name: str | None = None,
    scale_mode: str | None = None,
    span_joints: str | None = None,
    joint_set: str | None = None,
    knn_fill: bool = True,
    dask_address: str | None = None,
    force: bool = False,
    spec: Any = None,
    sigma: float | None = None,
    read: ReadOptions = DEFAULT_READ,
    strict_partition: bool = False,
    owner: Owner | None = None,
) -> BuildResult:
    """Silhouettes uint8 (T, 64, 64) cropped and scaled with the skeleton maps' own full-canvas box.

    ``spec`` is the :class:`~gaitprep.heatmaps.spec.HeatmapSpec` the maps were (or will be) rendered with;
    without it the recommended preset is used with ``scale_mode``, ``span_joints``, ``joint_set`` and
    ``sigma`` (both channels; it sets the margins) overriding it. The silhouettes then share the maps' gap
    filling, placement, scale and margins, so the pixels line up when stacked.

    Frame pairing: with a ``pose-raw`` tree, mask and pose frames are paired by the number in their file
    names (``12.png`` with ``000012.json``); frames present on one side only are left out and counted
    per sequence (``unpaired_frames``: ``no_pose_frame``, ``no_silhouette_frame``). A ``pose-pkl`` array
    carries no names, so there the counts must match and frame i pairs with frame i. Masks whose pixel sum
    is <= 10,000 are then dropped (``low_mass``, as plain mode). Each record keeps the source frame ids of
    its frames (``source_frames``), which stacking uses to pair with the maps.
    """
    from gaitprep.heatmaps.spec import preset
    from gaitprep.manifest import SourceInfo, json_digest
    from gaitprep.silhouettes import UPSTREAM

    if spec is None:
        overrides = {
            "scale": scale_mode,
            "scale_span_joints": span_joints,
            "joint_set": joint_set,
            "sigma_limb": sigma,
            "sigma_joint": sigma,
        }
        spec = preset(
            "recommended", knn_fill=knn_fill, **{k: v for k, v in overrides.items() if v is not None}
        )
    span = list(spec.span_joints)
    inputs = checked_inputs(out, (sil_path, pose_path), partition, force)
    sil_tree = open_tree(sil_path, ("sil-raw",), read)
    pose_tree = open_tree(pose_path, ("pose-pkl", "pose-raw"), read)
    missing = partition_missing(partition, sil_tree.ids & pose_tree.ids, strict_partition, sil_tree.root)
    sil_items = {i.key: i for i in tree_items(sil_tree, partition, workers)}
    pose_items = {i.key: i for i in tree_items(pose_tree, partition, workers)}
    if set(sil_items) != set(pose_items):
        only = sorted(set(sil_items) ^ set(pose_items))
        raise BadInputError(
            f"silhouette and pose trees hold different sequences, e.g. {only[0]}", pose_tree.root
        )
    items = [
        SourceItem(
            s.id,
            s.label,
            s.class_folder,
            s.view,
            s.split,
            json_digest([s.source_digest, pose_items[k].source_digest]),
            (s.inputs[0], pose_items[k].inputs[0]),
        )
        for k, s in sorted(sil_items.items())
    ]
    source = SourceInfo(
        kind="tree",
        release=f"sil-raw+{pose_tree.layout}",
        root=str(sil_tree.root),
        digest=json_digest(sorted((i.key, i.source_digest) for i in items)),
        sequences=len(items),
        keypoint_format=keypoint_format(pose_tree),
    )
    by_name = pose_tree.layout == "pose-raw"
    opts = {"spec": spec.model_dump(mode="json"), "min_mass": UPSTREAM.min_mass}
    params = {
        "transform": "register-with-skeleton-box",
        "scale_mode": spec.scale,
        "span_joints": span,
        "joint_set": spec.joint_set,
        "knn_fill": spec.knn_fill,
        "canvas": spec.canvas,
        "size": spec.size,
        "crop": "full_canvas",
        "frame_pairing": "by_frame_name" if by_name else "equal_count_by_index",
        "frame_ids": FRAME_IDS[pose_tree.layout],
        # The pose tree's source digest: array indices pair with maps only when rendered from this tree.
        "pose_source_digest": json_digest(sorted((k, i.source_digest) for k, i in pose_items.items())),
        "min_mass": UPSTREAM.min_mass,
        "unnormalisable": "blank",
        "geometry": {key: spec.record()[key] for key in REGISTRATION_GEOMETRY},
        **read_params(sil_tree),
        **{f"pose_{k}": v for k, v in read_params(pose_tree).items()},
    }
    arrays = {
        "silhouette": ArraySpec(
            dtype="uint8", per_frame=True, item_shape=(64, 64), axes=("T", "H", "W"), channels=("silhouette",)
        )
    }
    plan = BuildPlan(
        out=Path(out),
        name=name or Path(out).name,
        version="1.0.0",
        modality="silhouette",
        algo_version="gaitprep-registered-silhouettes-4",
        layout=layout_for(fmt, arrays, "silhouette"),
        params=params,
        items=items,
        process=functools.partial(process_registered, opts),
        source=source,
        partition=partition,
        partition_missing=missing,
        inputs=inputs,
        owner=owner,
    )
    return build_dataset(plan, workers=workers, quiet=quiet, dask_address=dask_address, force=force)


# --- skeleton maps --------------------------------------------------------------------------------------


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
    partition: Partition | None = None,
    fmt: str = "zarr",
    workers: int = 1,
    quiet: bool = False,
    name: str | None = None,
    dask_address: str | None = None,
    force: bool = False,
    read: ReadOptions = DEFAULT_READ,
    strict_partition: bool = False,
    owner: Owner | None = None,
) -> BuildResult:
    """Skeleton maps uint8 (T, C, size, size) from a pose tree, rendered with ``spec`` (a HeatmapSpec).

    Each record keeps the source frame id of every map frame (``source_frames``: pose-raw file-name
    numbers, or pose-pkl array indices), so registered silhouettes pair with them by frame.
    """
    from gaitprep.heatmaps.stats import aggregate_stats

    inputs = checked_inputs(out, (input_path,), partition, force)
    tree = open_tree(input_path, ("pose-pkl", "pose-raw"), read)
    missing = partition_missing(partition, tree.ids, strict_partition, tree.root)
    items = tree_items(tree, partition, workers)
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
    params = {**spec.record(), "input_layout": tree.layout, "renderer": "numpy float32, float64 final stage"}
    if tree.layout == "pose-raw":  # pose-pkl frame ids (array indices) are the default a reader assumes
        params.update({"frame_ids": FRAME_IDS[tree.layout], **read_params(tree)})
    plan = BuildPlan(
        out=Path(out),
        name=name or Path(out).name,
        version="1.0.0",
        modality="skeleton_map",
        algo_version=spec.ALGO_VERSION,
        layout=layout_for(fmt, arrays, "maps"),
        params=params,
        items=items,
        process=functools.partial(process_heatmaps, spec.model_dump(mode="json")),
        source=tree_source_info(tree, items),
        partition=partition,
        partition_missing=missing,
        aggregate=aggregate_stats,
        inputs=inputs,
        owner=owner,
    )
    return build_dataset(plan, workers=workers, quiet=quiet, dask_address=dask_address, force=force)
