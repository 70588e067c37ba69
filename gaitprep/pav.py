"""Postural Asymmetry Vector (PAV): 8 left/right joint pairs x 3 asymmetry metrics per sequence.

Domain reference §6 (reimplementation R-PAV, with the decisions recorded in :class:`PavSpec`).

Axes and units used throughout:

- pose ``(T, 17, 3)``: x, y in image pixels and the detector confidence c, COCO-17 joint order;
- metrics ``(T, 8, 3)`` and PAVs ``(8, 3)``: axis 1 (or 0) is the pair, in ``PavSpec.pair_order``
  (eyes, ears, shoulders, elbows, wrists, hips, knees, ankles); the last axis is the metric, in
  ``PavSpec.metric_order``: height difference and midline deviation in height-normalised units
  (the pose is scaled so that its valid-joint y-range is ``height_norm`` = 128), tilt in radians.

Everything here is pure numpy over in-memory arrays; nothing reads or writes files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gaitprep.errors import BadInputError
from gaitprep.keypoints import check_pose
from gaitprep.partition import Partition
from gaitprep.skeleton import LEFT_HIP, LR_PAIRS, NUM_JOINTS, PAIR_NAMES, RIGHT_HIP

METRIC_NAMES: tuple[str, ...] = ("height_diff", "midline_dev", "tilt")
NUM_PAIRS = len(LR_PAIRS)
NUM_METRICS = len(METRIC_NAMES)
HIP_PAIR_INDEX = LR_PAIRS.index((LEFT_HIP, RIGHT_HIP))
MIDLINE_INDEX = METRIC_NAMES.index("midline_dev")

# A frame whose valid-joint y-range is at most this many pixels has no usable height (§6.2 step 2).
MIN_HEIGHT_PX = 1e-6
# Floor of the min-max scale (§6.4): a constant column normalises to 0 instead of dividing by 0.
MINMAX_SCALE_FLOOR = 1e-6

FitOn = Literal["train", "all"]
"""Ids the min-max normaliser is fitted on: the partition's TRAIN ids, or every id (leaks test statistics)."""
FIT_ON: tuple[str, ...] = get_args(FitOn)
DEFAULT_FIT_ON: FitOn = "train"


class PavSpec(BaseModel):
    """Every choice that changes a PAV's bits; the manifest records this object as is.

    - ``angle_fold`` (§6.6): True gives ``m3 = atan2(|dy|, |dx|)`` in [0, pi/2], which does not depend on
      which side of the image the subject's left is on (facing direction); False gives the
      reimplementation's ``|atan2(dy, dx)|`` in [0, pi], which reads about pi - tilt when dx < 0.
    - ``height_norm``: the valid-joint y-range is scaled to this many units (128).
    - ``iqr_k``: per-column outlier fence ``[Q1 - k IQR, Q3 + k IQR]`` before the mean (§6.3).
    - ``validity``: a joint is valid when its confidence ``c > 0`` (the renderer's ``c >= 1e-3`` is a
      different rule, recorded separately).
    - ``pair_order`` / ``pair_joints`` / ``metric_order``: the axis orders of every ``(8, 3)`` array; they
      are recorded, not configurable, and must equal the canonical orders.
    - ``hip_midline = "keep_zero"`` [decision]: the centre is the hip midpoint whenever both hips are
      valid, so the hip pair's midline deviation is 0 by construction whenever it is defined. The column
      is kept (the PAV stays ``(8, 3)``, compatible with the reimplementation and PGA) and written as an
      exact 0.0 rather than the float round-off of ``((xL - c) + (xR - c)) / 2``, so it does not depend
      on rounding. After min-max fitting its ``mn = mx = 0``, the scale hits the 1e-6 floor and its
      normalised value is 0 for every sequence.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)  # finite numbers only

    ALGO_VERSION: ClassVar[str] = "pav-1"

    angle_fold: bool = True
    height_norm: float = Field(default=128.0, gt=0.0, allow_inf_nan=False)
    iqr_k: float = Field(default=1.5, ge=0.0, allow_inf_nan=False)
    validity: Literal["c>0"] = "c>0"
    pair_order: tuple[str, ...] = PAIR_NAMES
    pair_joints: tuple[tuple[int, int], ...] = LR_PAIRS
    metric_order: tuple[str, ...] = METRIC_NAMES
    hip_midline: Literal["keep_zero"] = "keep_zero"

    @field_validator("pair_order")
    @classmethod
    def _canonical_pairs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if tuple(v) != PAIR_NAMES:
            raise ValueError(f"pair_order must be {list(PAIR_NAMES)}")
        return v

    @field_validator("pair_joints")
    @classmethod
    def _canonical_pair_joints(cls, v: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        if tuple(tuple(p) for p in v) != LR_PAIRS:
            raise ValueError(f"pair_joints must be {[list(p) for p in LR_PAIRS]}")
        return v

    @field_validator("metric_order")
    @classmethod
    def _canonical_metrics(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if tuple(v) != METRIC_NAMES:
            raise ValueError(f"metric_order must be {list(METRIC_NAMES)}")
        return v


def frame_metrics(pose: np.ndarray, *, angle_fold: bool = True, height_norm: float = 128.0) -> np.ndarray:
    """Per-frame asymmetry metrics (§6.2), vectorised over frames.

    pose: ``(T, 17, 3)`` float (x, y in image pixels, c). Returns ``(T, 8, 3)`` float64; an entry is NaN
    when its pair has an invalid joint, and a whole frame is NaN when it has fewer than 2 valid joints or
    a valid-joint y-range ``H <= 1e-6`` px. A joint is valid when ``c > 0`` (joints with non-finite x or y
    are treated as invalid too, so NaN never leaks through the masked reductions).

    Per frame: centre = hip midpoint if both hips are valid, else the mean of the valid joints;
    ``p' = (p - centre) * height_norm / H``; for a pair (L, R) with ``dx = x'_L - x'_R`` and
    ``dy = y'_L - y'_R``: ``m1 = |dy|``, ``m2 = |(x'_L + x'_R) / 2|``, ``m3 = atan2(|dy|, |dx|)`` when
    ``angle_fold`` else ``|atan2(dy, dx)|`` (radians). The hip pair's m2 is written as exactly 0.0
    where defined (see :class:`PavSpec`, ``hip_midline``).
    """
    p = np.asarray(pose, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3):
        raise BadInputError(f"pose must have shape (T, {NUM_JOINTS}, 3), got {p.shape}")
    with np.errstate(invalid="ignore"):  # non-finite coordinates of invalid joints are masked out
        return _frame_metrics(p, angle_fold, height_norm)


def _frame_metrics(p: np.ndarray, angle_fold: bool, height_norm: float) -> np.ndarray:
    xy, c = p[..., :2], p[..., 2]
    valid = (c > 0) & np.isfinite(xy).all(axis=-1)  # (T, 17)
    n_valid = valid.sum(axis=1)  # (T,)

    y = xy[..., 1]
    y_max = np.where(valid, y, -np.inf).max(axis=1)
    y_min = np.where(valid, y, np.inf).min(axis=1)
    height = y_max - y_min  # (T,); -inf when no joint is valid
    frame_ok = (n_valid >= 2) & (height > MIN_HEIGHT_PX)

    hips_ok = valid[:, LEFT_HIP] & valid[:, RIGHT_HIP]
    hip_mid = (xy[:, LEFT_HIP] + xy[:, RIGHT_HIP]) / 2.0
    safe_n = np.maximum(n_valid, 1)[:, None]
    valid_mean = np.where(valid[..., None], xy, 0.0).sum(axis=1) / safe_n
    centre = np.where(hips_ok[:, None], hip_mid, valid_mean)  # (T, 2)

    safe_h = np.where(frame_ok, height, 1.0)
    norm = (xy - centre[:, None, :]) * (height_norm / safe_h)[:, None, None]  # (T, 17, 2)

    left = np.array([a for a, _ in LR_PAIRS])
    right = np.array([b for _, b in LR_PAIRS])
    pair_ok = valid[:, left] & valid[:, right] & frame_ok[:, None]  # (T, 8)
    d = norm[:, left] - norm[:, right]  # (T, 8, 2)
    dx, dy = d[..., 0], d[..., 1]

    out = np.empty((p.shape[0], NUM_PAIRS, NUM_METRICS), dtype=np.float64)
    out[..., 0] = np.abs(dy)
    out[..., 1] = np.abs((norm[:, left, 0] + norm[:, right, 0]) / 2.0)
    out[..., 2] = np.arctan2(np.abs(dy), np.abs(dx)) if angle_fold else np.abs(np.arctan2(dy, dx))
    # keep_zero: the hip midline is the centre whenever the hip pair is defined.
    out[:, HIP_PAIR_INDEX, MIDLINE_INDEX] = 0.0
    out[~pair_ok] = np.nan
    return out


def _robust_mean(values: np.ndarray, iqr_k: float) -> float:
    """Mean of the finite values inside ``[Q1 - k IQR, Q3 + k IQR]`` (all of them if none are); NaN if none:
    a pair never observed has no asymmetry to report (0 would read as "perfectly symmetric")."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return float("nan")
    q1, q3 = np.percentile(v, [25.0, 75.0])  # numpy's default "linear" method
    iqr = q3 - q1
    kept = v[(v >= q1 - iqr_k * iqr) & (v <= q3 + iqr_k * iqr)]
    if kept.size == 0:
        kept = v
    return float(kept.mean())


def sequence_pav(metrics: np.ndarray, *, iqr_k: float = 1.5) -> np.ndarray:
    """Aggregate per-frame metrics into one raw PAV (§6.3).

    metrics: ``(T, 8, 3)`` float, NaN where undefined. Returns ``(8, 3)`` float32: per column, the mean
    (in float64) of the finite values inside the IQR fence, or NaN when the column has no finite value
    (a pair never observed in the sequence, e.g. a wrist hidden behind the body throughout).
    """
    m = np.asarray(metrics, dtype=np.float64)
    if m.ndim != 3 or m.shape[1:] != (NUM_PAIRS, NUM_METRICS):
        raise BadInputError(f"metrics must have shape (T, {NUM_PAIRS}, {NUM_METRICS}), got {m.shape}")
    out = np.zeros((NUM_PAIRS, NUM_METRICS), dtype=np.float64)
    for i in range(NUM_PAIRS):
        for j in range(NUM_METRICS):
            out[i, j] = _robust_mean(m[:, i, j], iqr_k)
    return out.astype(np.float32)


def valid_frame_counts(metrics: np.ndarray) -> np.ndarray:
    """int64 (8,): per pair, the frames where the pair is defined (both joints valid, frame usable).

    metrics: ``(T, 8, 3)`` from :func:`frame_metrics`. A pair with 0 valid frames has a NaN raw PAV.
    """
    m = np.asarray(metrics, dtype=np.float64)
    return np.isfinite(m).all(axis=2).sum(axis=0).astype(np.int64)


def compute_raw_pav(spec: PavSpec, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw (unnormalised) PAV of one sequence.

    pose: ``(T, 17, 3)`` real, finite, T >= 1 (x, y image pixels; c). Returns ``(raw, per_frame)``:
    raw ``(8, 3)`` float32 (§6.3; NaN for a pair never observed) and per_frame ``(T, 8, 3)`` float32 with
    NaN where undefined (§6.2). Raises BadInputError for a wrong shape, T = 0, or any NaN/inf value.
    """
    p = check_pose(pose)  # float64 copy; rejects wrong shapes, T = 0 and NaN/inf
    per_frame = frame_metrics(p, angle_fold=spec.angle_fold, height_norm=spec.height_norm)
    raw = sequence_pav(per_frame, iqr_k=spec.iqr_k)
    return raw, per_frame.astype(np.float32)


def _check_raw_stack(raw: np.ndarray, what: str, allow_nan: bool = False) -> np.ndarray:
    r = np.asarray(raw)
    if r.shape[-2:] != (NUM_PAIRS, NUM_METRICS):
        raise BadInputError(f"{what} must end in shape ({NUM_PAIRS}, {NUM_METRICS}), got {r.shape}")
    r = r.astype(np.float64)
    bad = np.isinf(r) if allow_nan else ~np.isfinite(r)
    if bad.any():
        raise BadInputError(f"{what} holds {'infinite' if allow_nan else 'NaN or infinite'} values")
    return r


# How a raw PAV feature that is NaN (its pair never observed) becomes a finite normalised value.
IMPUTE_RULE = (
    "a NaN raw feature (pair never observed) takes the median of that feature over the fitting (TRAIN) "
    "sequences that observed it, then is normalised like any value; 0 when no fitting sequence did"
)


def fit_minmax(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column min and max over the fitting sequences (§6.4), ignoring NaN features.

    raw: ``(N, 8, 3)`` float raw PAVs of the fitting set (TRAIN only; see :func:`fit_set_ids`), N >= 1;
    NaN where a sequence never observed a pair. Returns ``(mn, mx)``, each ``(8, 3)`` float32; a column
    that is NaN in every fitting sequence gets ``mn = mx = 0``.
    """
    r = _check_raw_stack(raw, "raw PAV stack", allow_nan=True)
    if r.ndim != 3 or r.shape[0] == 0:
        raise BadInputError(f"fit_minmax needs a non-empty (N, 8, 3) stack, got shape {r.shape}")
    seen = np.isfinite(r).any(axis=0)
    mn = np.where(seen, np.min(np.where(np.isfinite(r), r, np.inf), axis=0), 0.0)
    mx = np.where(seen, np.max(np.where(np.isfinite(r), r, -np.inf), axis=0), 0.0)
    return mn.astype(np.float32), mx.astype(np.float32)


def fit_impute(raw: np.ndarray) -> np.ndarray:
    """The value a NaN raw feature takes before normalising (:data:`IMPUTE_RULE`): ``(8, 3)`` float32.

    raw: ``(N, 8, 3)`` raw PAVs of the fitting set. Per column, the median of its finite values (numpy's
    default linear method), or 0.0 when none is finite.
    """
    r = _check_raw_stack(raw, "raw PAV stack", allow_nan=True)
    out = np.zeros((NUM_PAIRS, NUM_METRICS), dtype=np.float64)
    for i in range(NUM_PAIRS):
        for j in range(NUM_METRICS):
            v = r[:, i, j][np.isfinite(r[:, i, j])]
            out[i, j] = float(np.median(v)) if v.size else 0.0
    return out.astype(np.float32)


def impute_raw(raw: np.ndarray, impute: np.ndarray) -> tuple[np.ndarray, int]:
    """``raw`` (``(..., 8, 3)``) with NaN features replaced by ``impute`` (``(8, 3)``), and how many were."""
    r = _check_raw_stack(raw, "raw PAV", allow_nan=True)
    fill = _check_raw_stack(impute, "impute")
    nan = np.isnan(r)
    return np.where(nan, np.broadcast_to(fill, r.shape), r), int(nan.sum())


def apply_minmax(
    raw: np.ndarray, mn: np.ndarray, mx: np.ndarray, impute: np.ndarray | None = None
) -> np.ndarray:
    """Normalise raw PAVs: ``clip((raw - mn) / max(mx - mn, 1e-6), 0, 1)`` (§6.4).

    raw: ``(8, 3)`` (or any ``(..., 8, 3)`` stack); mn, mx: ``(8, 3)`` from :func:`fit_minmax`. NaN raw
    features are replaced by ``impute`` (``(8, 3)``, from :func:`fit_impute`) first; without ``impute`` a
    NaN is refused. Computed in float64, returned as float32 with raw's shape, every value in [0, 1].
    """
    if impute is not None:
        r, _ = impute_raw(raw, impute)
    else:
        r = _check_raw_stack(raw, "raw PAV")
    lo = _check_raw_stack(mn, "mn")
    hi = _check_raw_stack(mx, "mx")
    if lo.shape != (NUM_PAIRS, NUM_METRICS) or hi.shape != (NUM_PAIRS, NUM_METRICS):
        raise BadInputError(f"mn and mx must have shape ({NUM_PAIRS}, {NUM_METRICS})")
    if (hi < lo).any():
        raise BadInputError("min-max stats are inconsistent: some mx < mn")
    scale = np.maximum(hi - lo, MINMAX_SCALE_FLOOR)
    return np.clip((r - lo) / scale, 0.0, 1.0).astype(np.float32)


def fit_set_ids(partition: Partition, seq_ids: Iterable[str], fit_on: str = DEFAULT_FIT_ON) -> list[str]:
    """The sorted ids whose raw PAVs the min-max stats are fitted on.

    seq_ids: the ids available (e.g. every sequence built). ``fit_on="train"`` keeps those in the
    partition's TRAIN_SET (ids outside the partition are never fitted on); ``fit_on="all"`` keeps every
    given id, test ids included, and must be asked for explicitly because it leaks test statistics into
    the normalisation (§6.4). Any other value is refused, as is an empty result.
    """
    ids = sorted(set(seq_ids))
    if fit_on == "train":
        chosen = [i for i in ids if partition.split_of(i) == "train"]
    elif fit_on == "all":
        chosen = ids
    else:
        raise BadInputError(
            f"PAV min-max fit_on must be {' or '.join(map(repr, FIT_ON))}, got {fit_on!r}; fitting on test ids "
            "leaks test statistics and is only done with an explicit fit_on='all'",
            partition.name,
        )
    if not chosen:
        raise BadInputError(
            f"no sequences to fit the PAV min-max stats on (fit_on={fit_on!r}, {len(ids)} ids given, "
            f"{len(partition.train)} TRAIN ids in the partition)",
            partition.name,
        )
    check_fit_ids(partition, chosen, fit_on)
    return chosen


def check_fit_ids(partition: Partition, fit_ids: Iterable[str], fit_on: str) -> None:
    """Refuse a fitting set that holds TEST ids (or ids the partition does not know) unless fit_on="all".

    Use it on an explicit list of ids, e.g. one read back from a manifest.
    """
    if fit_on == "all":
        return
    ids = sorted(set(fit_ids))
    test = [i for i in ids if partition.split_of(i) == "test"]
    if test:
        shown = ", ".join(test[:5]) + (" ..." if len(test) > 5 else "")
        raise BadInputError(
            f"refusing to fit PAV min-max stats on {len(test)} TEST ids of partition {partition.name} "
            f"({shown}): that leaks test statistics; fit on TRAIN only, or pass fit_on='all' explicitly",
            partition.name,
        )
    unknown = [i for i in ids if partition.split_of(i) is None]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise BadInputError(
            f"refusing to fit PAV min-max stats on {len(unknown)} ids that are not in partition "
            f"{partition.name} ({shown}); pass fit_on='all' explicitly to fit on them",
            partition.name,
        )
