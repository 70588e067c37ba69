"""Stacked input: silhouettes registered with the skeleton maps + the maps, as one uint8 (T, 3, 64, 64).

Channels, in order: ``silhouette, limb, joint``. Both inputs are upstream gaitprep datasets, read through
their manifests (lineage in ``source.upstream``), never through path conventions:

- a silhouette dataset built with ``transform = register-with-skeleton-box``
  (:func:`gaitprep.build.registered.build_registered_silhouettes`): hip-centred, span-scaled like the maps.
  Upstream silhouettes (mask-centred, height-scaled, domain §3) are refused: stacking them with maps
  would put a body part of one channel on a different pixel than in the other two;
- a skeleton-map dataset rendered with ``crop = full_canvas`` and the same canvas, output size, scale
  mode and span joints as the silhouettes' registration (checked from both manifests' params).

Frame pairing: when both records carry their source frame ids (``source_frames``, counted in the same
``frame_ids`` kind), frames are paired by id and those present in both are kept (the others are counted
in ``unpaired_frames``). Otherwise (datasets of schema 1) pairing is by index and the counts must match
per sequence; a map export that dropped frames then fails naming the sequence instead of silently
shifting frames.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.build.engine import BuildResult, ProcessResult, SourceItem, build_dataset
from gaitprep.build.options import DEFAULT_OPTIONS, BuildOptions
from gaitprep.build.plans import checked_inputs, joined_item, make_plan
from gaitprep.errors import BadInputError
from gaitprep.manifest import ArraySpec, Layout, Manifest, SequenceRecord
from gaitprep.params import heatmap_spec
from gaitprep.skeleton import NUM_JOINTS

STACKED_ALGO_VERSION = "gaitprep-stacked-1"
STACKED_CHANNELS: tuple[str, ...] = ("silhouette", "limb", "joint")
REGISTERED_TRANSFORM = "register-with-skeleton-box"


def stack_frames(sil: np.ndarray, maps: np.ndarray, map_channels: tuple[str, ...]) -> np.ndarray:
    """Stack one sequence: sil uint8 (T, H, W) and maps uint8 (T, C, H, W) -> uint8 (T, 3, H, W).

    ``map_channels`` names the C map channels (e.g. ``("limb", "joint")``); the output is
    ``[silhouette, limb, joint]`` whatever their order in the maps. Raises BadInputError when the frame
    counts or frame sizes differ, or a channel is missing.
    """
    if sil.dtype != np.uint8 or maps.dtype != np.uint8 or sil.ndim != 3 or maps.ndim != 4:
        raise BadInputError(
            f"expected uint8 silhouettes (T, H, W) and maps (T, C, H, W), got {sil.dtype} {sil.shape} "
            f"and {maps.dtype} {maps.shape}"
        )
    if sil.shape[0] != maps.shape[0]:
        raise BadInputError(f"{sil.shape[0]} silhouette frames but {maps.shape[0]} skeleton-map frames")
    if sil.shape[1:] != maps.shape[2:]:
        raise BadInputError(f"silhouette frames are {sil.shape[1:]} but map frames {maps.shape[2:]}")
    missing = [c for c in STACKED_CHANNELS[1:] if c not in map_channels]
    if missing or len(map_channels) != maps.shape[1]:
        raise BadInputError(f"maps must carry channels limb and joint; they have {list(map_channels)}")
    out = np.empty((sil.shape[0], 3, *sil.shape[1:]), dtype=np.uint8)
    out[:, 0] = sil
    out[:, 1] = maps[:, map_channels.index("limb")]
    out[:, 2] = maps[:, map_channels.index("joint")]
    return out


def silhouette_coverage(stacked: np.ndarray) -> float:
    """Share of silhouette pixels (value >= 128) where the limb or joint channel is non-zero.

    stacked: uint8 (T, 3, H, W). A registration check: registered inputs cover nearly all of the body
    (the Gaussians reach well past the bones); a shifted or mis-scaled silhouette does not. 1.0 when the
    silhouettes are empty.
    """
    body = stacked[:, 0] >= 128
    n = int(body.sum())
    if n == 0:
        return 1.0
    support = (stacked[:, 1] > 0) | (stacked[:, 2] > 0)
    return float((body & support).sum() / n)


def process_stacked(
    sil_layout: dict[str, Any],
    maps_layout: dict[str, Any],
    map_channels: tuple[str, ...],
    by_frame_id: bool,
    item: SourceItem,
) -> ProcessResult:
    """Read one sequence from both upstream datasets and stack it. Top-level: runs in joblib/dask workers."""
    from gaitprep.frame_ids import from_runs, pair_ids, to_runs
    from gaitprep.io.verified import read_sequence_verified

    (sil_root, sil_rec), (maps_root, maps_rec) = item.inputs
    sil_layout_m, maps_layout_m = Layout.model_validate(sil_layout), Layout.model_validate(maps_layout)
    sil_record, maps_record = SequenceRecord.model_validate(sil_rec), SequenceRecord.model_validate(maps_rec)
    sil = read_sequence_verified(Path(sil_root), sil_layout_m, sil_record)
    maps = read_sequence_verified(Path(maps_root), maps_layout_m, maps_record)
    record: dict[str, Any] = {}
    if by_frame_id and sil_record.source_frames and maps_record.source_frames:
        sil_ids, map_ids = from_runs(sil_record.source_frames), from_runs(maps_record.source_frames)
        if sil_ids.size != sil.shape[0] or map_ids.size != maps.shape[0]:
            raise BadInputError(f"sequence {item.key}: source_frames do not match the frame count", maps_root)
        si, mi = pair_ids(sil_ids, map_ids)
        common = sil_ids[si]
        if common.size == 0:
            raise BadInputError(
                f"sequence {item.key}: no frame id is in both the silhouettes and the maps", maps_root
            )
        sil, maps = sil[si], maps[mi]
        unpaired = {
            "no_map_frame": int(sil_ids.size - common.size),
            "no_silhouette_frame": int(map_ids.size - common.size),
        }
        record = {
            "source_frames": to_runs(common),
            "unpaired_frames": {k: v for k, v in unpaired.items() if v},
        }
    if sil.shape[0] != maps.shape[0]:
        raise BadInputError(
            f"sequence {item.key} has {sil.shape[0]} silhouette frames but {maps.shape[0]} skeleton-map "
            "frames; stacking pairs frames by index and needs equal counts (was the map export built with "
            "unnormalisable = drop?)",
            maps_root,
        )
    try:
        stacked = stack_frames(sil, maps, map_channels)
    except BadInputError as exc:
        raise BadInputError(f"sequence {item.key}: {exc}", maps_root) from None
    t = int(stacked.shape[0])
    return ProcessResult(
        {"stacked": stacked}, t, t, {}, {"silhouette_coverage": silhouette_coverage(stacked)}, record
    )


# A skeleton-map dataset without ``frame_ids`` in its params was rendered from a pose-pkl tree.
DEFAULT_FRAME_IDS = "pose-pkl array index"


def frame_id_kind(m: Manifest) -> str | None:
    """What the records' ``source_frames`` count in, or None when the dataset does not record them."""
    if m.modality == "silhouette":
        return m.params.get("frame_ids")
    return m.params.get("frame_ids", DEFAULT_FRAME_IDS)


def registration_geometry(sil: Manifest, maps: Manifest) -> dict[str, Any]:
    """Check that ``sil`` was registered with the same box as ``maps`` was rendered; return the geometry.

    Raises BadInputError naming the first differing parameter.
    """
    if sil.modality != "silhouette" or sil.params.get("transform") != REGISTERED_TRANSFORM:
        raise BadInputError(
            f"dataset {sil.name!r} holds silhouettes that are not registered with the skeleton maps "
            f"(transform {sil.params.get('transform')!r}); build them with register_with (hip-centred, "
            "span-scaled) before stacking"
        )
    if maps.modality != "skeleton_map":
        raise BadInputError(f"dataset {maps.name!r} is {maps.modality}, not skeleton_map")
    spec, sp = heatmap_spec(maps), sil.params
    sil_span = (
        tuple(range(NUM_JOINTS)) if sp.get("span_joints") == "all17" else tuple(sp.get("span_joints", ()))
    )
    checks = {
        "crop": (spec.crop, sp.get("crop")),
        "canvas": (spec.canvas, sp.get("canvas")),
        "size": (spec.size, sp.get("size")),
        "scale": (spec.scale, sp.get("scale_mode")),
        "span_joints": (sorted(spec.span_joints), sorted(sil_span)),
    }
    # Silhouettes registered by gaitprep >= the extent/smoothed geometry record every placing parameter.
    recorded = spec.record()  # the maps' spec as its manifest records it (JSON values)
    for key, s_val in dict(sp.get("geometry", {})).items():
        checks[key] = (recorded.get(key), s_val)
    for key, (m_val, s_val) in checks.items():
        if m_val != s_val:
            raise BadInputError(
                f"skeleton maps {maps.name!r} and registered silhouettes {sil.name!r} differ in {key} "
                f"({m_val!r} vs {s_val!r}); their pixels would not line up"
            )
    return {key: m_val for key, (m_val, _) in checks.items()}


def _primary_spec(m: Manifest) -> ArraySpec:
    return m.layout.arrays[m.layout.primary]


def build_stacked(
    silhouettes: str | Path,
    maps: str | Path,
    out: str | Path,
    *,
    options: BuildOptions = DEFAULT_OPTIONS,
) -> BuildResult:
    """Stack a registered-silhouette dataset and a skeleton-map dataset into uint8 (T, 3, S, S).

    ``silhouettes`` and ``maps``: dataset directories (or their manifest.json). Both must hold the same
    sequences; ``options.partition`` (optional) re-assigns splits and is recorded.
    """
    from gaitprep.sources import dataset_items, dataset_source_info, partition_missing

    inputs = checked_inputs(out, (silhouettes, maps), options)
    partition, strict = options.partition, options.strict_partition
    sil_m, sil_root, sil_items = dataset_items(silhouettes, partition, strict)
    maps_m, maps_root, maps_items = dataset_items(maps, partition, strict)
    geometry = registration_geometry(sil_m, maps_m)
    sil_kind, maps_kind = frame_id_kind(sil_m), frame_id_kind(maps_m)
    # Frame-name numbers identify frames across trees; array indices only within one pose tree.
    same_pose = sil_m.params.get("pose_source_digest") == maps_m.source.digest
    by_frame_id = (
        sil_kind is not None and sil_kind == maps_kind and (sil_kind != DEFAULT_FRAME_IDS or same_pose)
    )
    map_spec = _primary_spec(maps_m)
    size = _check_stackable(_primary_spec(sil_m), map_spec, sil_root, maps_root)
    items = _stacked_items(sil_items, maps_items, maps_root)
    params = {
        "transform": "stack registered silhouette + skeleton maps",
        "channels": list(STACKED_CHANNELS),
        "frame_pairing": f"by source frame id ({sil_kind})" if by_frame_id else "equal_count_by_index",
        "geometry": geometry,
        "silhouette_params": sil_m.params,
        "map_params": maps_m.params,
    }
    plan = make_plan(
        out,
        options,
        modality="stacked",
        algo_version=STACKED_ALGO_VERSION,
        arrays={"stacked": _stacked_array(size)},
        primary="stacked",
        params=params,
        items=items,
        process=functools.partial(
            process_stacked,
            sil_m.layout.model_dump(mode="json"),
            maps_m.layout.model_dump(mode="json"),
            tuple(map_spec.channels),
            by_frame_id,
        ),
        source=dataset_source_info([(sil_m, sil_root), (maps_m, maps_root)], items),
        partition_missing=partition_missing(partition, {i.id for i in items}, strict, maps_root),
        inputs=inputs,
    )
    return build_dataset(plan, options)


def _stacked_array(size: int) -> ArraySpec:
    return ArraySpec(
        dtype="uint8",
        per_frame=True,
        item_shape=(3, size, size),
        axes=("T", "C", "H", "W"),
        channels=STACKED_CHANNELS,
    )


def _check_stackable(sil_spec: ArraySpec, map_spec: ArraySpec, sil_root: Path, maps_root: Path) -> int:
    """The frame size S both datasets share; the maps must carry limb and joint channels."""
    size = int(map_spec.item_shape[-1])
    if tuple(sil_spec.item_shape) != (size, size):
        raise BadInputError(
            f"silhouette frames are {tuple(sil_spec.item_shape)}, map frames {(size, size)}", sil_root
        )
    missing = [c for c in STACKED_CHANNELS[1:] if c not in map_spec.channels]
    if missing:
        raise BadInputError(
            f"maps lack channel(s) {missing}: they carry {list(map_spec.channels)}", maps_root
        )
    return size


def _stacked_items(
    sil_items: list[SourceItem], maps_items: list[SourceItem], maps_root: Path
) -> list[SourceItem]:
    """One item per sequence, reading it from both datasets; both must hold the same sequences."""
    by_key = {i.key: i for i in sil_items}
    maps_by_key = {i.key: i for i in maps_items}
    if set(by_key) != set(maps_by_key):
        only = sorted(set(by_key) ^ set(maps_by_key))
        where = "the silhouettes" if only[0] in by_key else "the maps"
        raise BadInputError(
            f"silhouette and map datasets hold different sequences: {only[0]} is only in {where} "
            f"({len(only)} differ)",
            maps_root,
        )
    return [
        joined_item(s, maps_by_key[k], (s.inputs, maps_by_key[k].inputs)) for k, s in sorted(by_key.items())
    ]
