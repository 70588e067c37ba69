"""The PAV builder: Postural Asymmetry Vectors from a pose tree, normalised with a fit on TRAIN ids only."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.build.engine import BuildResult, ProcessResult, SourceItem, build_dataset
from gaitprep.build.options import DEFAULT_OPTIONS, BuildOptions
from gaitprep.build.plans import open_tree_input, tree_plan
from gaitprep.build.poses import POSE_LAYOUTS
from gaitprep.errors import BadInputError
from gaitprep.io.load import load_sequence
from gaitprep.io.read_options import DEFAULT_READ, ReadOptions
from gaitprep.manifest import ArraySpec
from gaitprep.partition import Partition
from gaitprep.sources import read_params

PAV_METRICS = ("height_diff", "midline_dev", "tilt")
_PAV = ArraySpec(
    dtype="float32", per_frame=False, item_shape=(8, 3), axes=("pair", "metric"), channels=PAV_METRICS
)
PAV_ARRAYS = {"pav": _PAV, "raw": _PAV}
PER_FRAME_PAV = ArraySpec(
    dtype="float32", per_frame=True, item_shape=(8, 3), axes=("T", "pair", "metric"), channels=PAV_METRICS
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
    fit_on: str = "train",
    per_frame: bool = False,
    options: BuildOptions = DEFAULT_OPTIONS,
    read: ReadOptions = DEFAULT_READ,
) -> BuildResult:
    """Postural Asymmetry Vectors: raw and min-max normalised float32 (8, 3) per sequence.

    The normaliser is fitted on the TRAIN ids of ``options.partition`` (required) only; ``fit_on="all"``
    must be asked for explicitly and is recorded. The fitted minima/maxima, fit set and partition hash go
    in the manifest. A pair never observed in a sequence has a NaN raw PAV; the fit ignores NaN, and the
    normalised PAV replaces it by the TRAIN median of that feature (``fitted.impute``, rule
    ``fitted.impute_rule``), so it stays finite; each record counts its imputed features and the valid
    frames of each pair. ``per_frame``: also store the per-frame (T, 8, 3) metrics.
    """
    from gaitprep.pav import PavSpec

    partition = options.partition
    if partition is None:
        raise BadInputError("gaitprep pav needs --partition: the normaliser is fitted on its TRAIN ids")
    src = open_tree_input(input_path, out, POSE_LAYOUTS, read, options)
    spec_dict = PavSpec().model_dump(mode="json")
    fitted = fit_normaliser(spec_dict, src.items, fit_on, partition, options.workers)
    arrays = {**PAV_ARRAYS, "per_frame": PER_FRAME_PAV} if per_frame else dict(PAV_ARRAYS)
    params = {
        **spec_dict,
        "algo": "UMGRL pretreatment_drf reimplementation (domain reference §6)",
        "input_layout": src.tree.layout,
        "per_frame": per_frame,
        "renderer_validity": "c>=1e-3 (maps) vs c>0 (PAV)",
        "pga_flatten_order": "pair-major (pair, metric)",
        **read_params(src.tree),
    }
    plan = tree_plan(
        src,
        out,
        options,
        modality="pav",
        algo_version=PavSpec.ALGO_VERSION,
        arrays=arrays,
        primary="pav",
        params=params,
        process=functools.partial(
            process_pav, spec_dict, fitted["mn"], fitted["mx"], fitted["impute"], per_frame
        ),
        fitted=fitted,
    )
    return build_dataset(plan, options)


def fit_normaliser(
    spec_dict: dict[str, Any], items: list[SourceItem], fit_on: str, partition: Partition, workers: int
) -> dict[str, Any]:
    """The min-max normaliser and imputation medians, fitted on the raw PAV of the fit set (the TRAIN ids of
    ``partition``, or all ids with ``fit_on="all"``), computed in ``workers`` processes. Returned as the
    manifest's ``fitted`` record."""
    from joblib import Parallel, delayed

    from gaitprep.pav import IMPUTE_RULE, fit_impute, fit_minmax, fit_set_ids

    fit_ids = set(fit_set_ids(partition, [i.id for i in items], fit_on))
    fit_items = [i for i in items if i.id in fit_ids]
    if workers > 1:
        raws = Parallel(n_jobs=workers)(delayed(_raw_only)(spec_dict, i) for i in fit_items)
    else:
        raws = [_raw_only(spec_dict, i) for i in fit_items]
    mn, mx = fit_minmax(np.stack(raws))
    impute = fit_impute(np.stack(raws))
    return {
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
