"""Keypoint cleaning and the centred, span-scaled canvas transform (domain reference §4.1 A–B and variants).

Every function is pure numpy over a pose array ``P (T, 17, 3)``: x, y in image pixels and a confidence c,
for T frames and the 17 COCO joints. A coordinate exactly 0.0 is *missing* (the upstream convention).

- :func:`knn_fill` is the upstream KNN gap fill (scikit-learn ``KNNImputer(missing_values=0.0,
  n_neighbors=4, weights="distance")``), reimplemented without scikit-learn.
- :func:`interpolate_low_confidence` is a non-upstream option: linear interpolation over time of joints
  whose confidence is below a threshold.
- :func:`frame_transforms` and :func:`to_canvas` are the per-frame centring (on the hips, upstream, or on the
  body's own vertical extent) and span scaling (per frame, per sequence, or smoothed by :func:`smoothed_span`)
  onto the square canvas that the skeleton-map renderer draws on. The silhouette registration uses the same
  transform (through :func:`gaitprep.heatmaps.sequence_geometry`) so silhouettes and maps share one box.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.skeleton import LEFT_HIP, NUM_JOINTS, RIGHT_HIP

ScaleMode = Literal["per_frame", "per_sequence", "smoothed"]
Placement = Literal["hip", "extent"]
HipMissing = Literal["invalid", "draw"]

# Rows of receivers handled at once in the KNN distance computation: bounds a (rows, T, 2J) float64 temporary.
_KNN_ROW_CHUNK = 32


def check_pose(pose: object, *, what: str = "pose") -> np.ndarray:
    """Return ``pose`` as a float64 ``(T, 17, 3)`` copy, or raise BadInputError saying what is wrong.

    Rejects other shapes, T = 0 and non-finite values (NaN/inf in coordinates or confidences).
    """
    arr = np.asarray(pose)
    if arr.dtype.kind not in "fiu":
        raise BadInputError(f"{what} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1:] != (NUM_JOINTS, 3):
        raise BadInputError(f"{what} must have shape (T, 17, 3) (x, y, confidence), got {arr.shape}")
    if arr.shape[0] == 0:
        raise BadInputError(f"{what} has no frames (T = 0)")
    arr = arr.astype(np.float64, copy=True)
    bad = ~np.isfinite(arr)
    if bad.any():
        t, v, k = np.argwhere(bad)[0]
        field = ("x", "y", "confidence")[k]
        raise BadInputError(
            f"{what} has {int(bad.sum())} non-finite value(s), first at frame {t}, joint {v}, {field}"
        )
    return arr


def missing_joints(pose: np.ndarray) -> np.ndarray:
    """``(T, 17) bool``: joints whose x and y are both exactly 0.0 (the upstream 'missing' marker)."""
    return (pose[..., 0] == 0.0) & (pose[..., 1] == 0.0)


def _nan_euclidean(rows: np.ndarray, rows_obs: np.ndarray, X: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """scikit-learn ``nan_euclidean_distances``: ``(R, T)`` float64, NaN where no coordinate is co-observed.

    ``d = sqrt(n_cols / n_common * sum over co-observed coordinates of (a_i - b_i)^2)``.
    """
    n_cols = X.shape[1]
    out = np.empty((rows.shape[0], X.shape[0]), dtype=np.float64)
    for s in range(0, rows.shape[0], _KNN_ROW_CHUNK):
        a, a_obs = rows[s : s + _KNN_ROW_CHUNK], rows_obs[s : s + _KNN_ROW_CHUNK]
        common = a_obs[:, None, :] & obs[None, :, :]  # (r, T, n_cols)
        sq = np.where(common, (a[:, None, :] - X[None, :, :]) ** 2, 0.0).sum(axis=-1)
        n_common = common.sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.sqrt(sq * n_cols / n_common)
        d[n_common == 0] = np.nan
        out[s : s + _KNN_ROW_CHUNK] = d
    return out


def knn_fill(
    pose: np.ndarray,
    *,
    joints: Sequence[int] | None = None,
    n_neighbors: int = 4,
    upstream_empty_column: bool = True,
) -> np.ndarray:
    """Fill missing coordinates with the upstream KNN gap fill (domain reference §4.1 A).

    The x, y of the chosen joints form a ``(T, 2J)`` matrix (x0, y0, x1, y1, ...) in which every value exactly
    0.0 is missing. Each missing value is the inverse-distance-weighted mean of its column over the
    ``n_neighbors`` nearest frames that observe that column, with the nan-Euclidean distance over
    co-observed coordinates ``d = sqrt(2J / n_common * sum (a_i - b_i)^2)``. As in scikit-learn:

    - donors with a zero distance get weight 1 and the others weight 0;
    - a donor with no co-observed coordinate (NaN distance) gets weight 0; if every donor is like that,
      the column mean over observed frames is used;
    - ties in distance are broken by frame order (scikit-learn's ``argpartition`` leaves them unspecified).

    A column with no observation at all is never filled. With ``upstream_empty_column`` (the default,
    upstream behaviour) such a column makes the whole pose come back unfilled: scikit-learn drops the column,
    upstream's reshape fails and its ``except`` keeps the raw data. With ``upstream_empty_column=False``
    only that column stays as it is, and every other one is filled as scikit-learn fills it (distances over
    the columns observed at least once).

    Args:
        pose: ``(T, 17, 3)`` x, y (pixels), confidence.
        joints: the joints whose columns form the matrix (default all 17; ``impute_on: selected`` passes the
            joint set). Other joints are returned unchanged.
        n_neighbors: donors per missing value (upstream 4).
        upstream_empty_column: see above.

    Returns:
        ``(T, 17, 3) float64``; confidences untouched.
    """
    out = check_pose(pose)
    cols = np.arange(NUM_JOINTS) if joints is None else np.asarray(sorted(set(joints)), dtype=np.intp)
    T = out.shape[0]
    X = out[:, cols, :2].reshape(T, 2 * len(cols))  # a copy: fancy indexing
    miss = X == 0.0
    if not miss.any():
        return out
    obs = ~miss
    empty = ~obs.any(axis=0)
    if empty.any() and upstream_empty_column:
        return out
    need = miss & ~empty[None, :]
    receivers_any = np.flatnonzero(need.any(axis=1))
    if receivers_any.size == 0:
        return out
    # scikit-learn drops never-observed columns before measuring distances (their count scales every distance).
    kept = ~empty
    dist = _nan_euclidean(X[receivers_any][:, kept], obs[receivers_any][:, kept], X[:, kept], obs[:, kept])
    row_of = np.full(T, -1, dtype=np.intp)
    row_of[receivers_any] = np.arange(receivers_any.size)
    filled = X.copy()
    for col in np.flatnonzero(need.any(axis=0)):
        donors = np.flatnonzero(obs[:, col])
        receivers = np.flatnonzero(need[:, col])
        d = dist[row_of[receivers]][:, donors]  # (r, n_donors)
        values = X[donors, col]
        nan_d = np.isnan(d)
        all_nan = nan_d.all(axis=1)
        filled[receivers[all_nan], col] = values.mean()
        if all_nan.all():
            continue
        d, nan_d, receivers = d[~all_nan], nan_d[~all_nan], receivers[~all_nan]
        k = min(n_neighbors, donors.size)
        # NaN distances sort last, like argpartition; a stable sort breaks ties by frame order.
        order = np.argsort(np.where(nan_d, np.inf, d), axis=1, kind="stable")[:, :k]
        dk = np.take_along_axis(d, order, axis=1)
        with np.errstate(divide="ignore"):
            w = 1.0 / dk
        zero_row = (dk == 0.0).any(axis=1)
        w[zero_row] = (dk[zero_row] == 0.0).astype(np.float64)
        w[np.isnan(w)] = 0.0
        filled[receivers, col] = (w * values[order]).sum(axis=1) / w.sum(axis=1)
    out[:, cols, :2] = filled.reshape(T, len(cols), 2)
    return out


def interpolate_low_confidence(pose: np.ndarray, threshold: float) -> np.ndarray:
    """Replace the x, y of joints with ``0 < c < threshold`` by linear interpolation over time (non-upstream).

    For each joint, frames with ``c >= threshold`` are the anchors; x and y of the low-confidence frames are
    interpolated linearly in the frame index between the nearest anchors before and after, and held at the
    first/last anchor beyond the ends. A joint with no anchor is left as it is. Joints with c = 0 (missing)
    and all confidences are left untouched.

    Args:
        pose: ``(T, 17, 3)`` x, y (pixels), confidence.
        threshold: confidence below which a joint is interpolated, in (0, 1].

    Returns:
        ``(T, 17, 3) float64``.
    """
    if not threshold > 0:
        raise BadInputError(f"low-confidence threshold must be > 0, got {threshold}")
    out = check_pose(pose)
    frames = np.arange(out.shape[0], dtype=np.float64)
    conf = out[..., 2]
    low = (conf > 0) & (conf < threshold)
    good = conf >= threshold
    for v in np.flatnonzero(low.any(axis=0) & good.any(axis=0)):
        lo, ok = low[:, v], good[:, v]
        for k in (0, 1):
            out[lo, v, k] = np.interp(frames[lo], frames[ok], out[ok, v, k])
    return out


def smoothed_span(values: np.ndarray, valid: np.ndarray, window: int) -> np.ndarray:
    """Per-frame spans smoothed by a centred local-linear fit with triangular weights over ``window`` frames.

    For frame t and offsets ``d = -h..h`` (``h = window // 2``), weights ``w_d = h + 1 - |d|`` on the valid
    frames ``t + d`` that exist; the fitted line ``a + b d`` (weighted least squares) gives ``a``. A linear
    trend (a subject walking toward the camera at constant speed) is followed exactly, even at the ends of
    the sequence, while the stride-to-stride "breathing" of the span is averaged out (the triangular window
    passes a 19-frame period at about 3% for ``window = 45``). A window with a single valid frame gives that
    frame's span. The sums run over ``d`` in ascending order (documented so that a reference can reproduce the
    bits).

    Args:
        values: ``(T,)`` spans (image px); valid: ``(T,) bool``.

    Returns:
        ``(T,) float64``, NaN where the window holds no valid frame.
    """
    T = values.shape[0]
    y = np.where(valid, np.asarray(values, dtype=np.float64), 0.0)
    v = np.asarray(valid, dtype=np.float64)
    h = max(int(window), 1) // 2
    s0, s1, s2, t0, t1 = (np.zeros(T) for _ in range(5))
    for d in range(-h, h + 1):
        lo, hi = max(0, -d), min(T, T - d)
        if lo >= hi:
            continue
        w = float(h + 1 - abs(d))
        wd, wdd = w * d, w * d * d
        vv, yy = v[lo + d : hi + d], y[lo + d : hi + d]
        s0[lo:hi] += w * vv
        s1[lo:hi] += wd * vv
        s2[lo:hi] += wdd * vv
        t0[lo:hi] += w * yy
        t1[lo:hi] += wd * yy
    den = s0 * s2 - s1 * s1
    out = np.full(T, np.nan)
    line = den > 0
    out[line] = (s2[line] * t0[line] - s1[line] * t1[line]) / den[line]
    single = ~line & (s0 > 0)
    out[single] = t0[single] / s0[single]
    return out


def frame_transforms(
    pose: np.ndarray,
    *,
    scale_mode: ScaleMode,
    span_joints: Sequence[int],
    canvas: int = 128,
    placement: Placement = "hip",
    span_target: float | None = None,
    scale_window: int = 1,
    hip_missing: HipMissing = "invalid",
    fit_target: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame centre and scale of the canvas transform (domain reference §4.1 B and its variants).

    :func:`to_canvas` maps ``q = (p - centre_t) * s_t + canvas // 2``. ``h_t`` is the midpoint of the hips
    (joints 11, 12).

    ``placement="hip"`` (upstream): centre ``h_t``; the span is ``max - min`` of ``y - h_t.y`` over
    ``span_joints`` (all of them, whatever their confidence or presence, as upstream).
    ``placement="extent"`` (not upstream): the body's own vertical extent, ``top_t`` / ``bottom_t`` = min /
    max image y over the ``span_joints`` that are present (not (0, 0)); centre ``(h_t.x, (top_t +
    bottom_t) / 2)`` and span ``bottom_t - top_t``. The body's extent, not the hip, sits in the middle.

    The scale is ``target / span_t`` (``per_frame``, upstream), ``target / median(span)`` over valid frames
    (``per_sequence``) or ``target / smoothed_span(span, scale_window)`` (``smoothed``: a centred
    local-linear fit over ``scale_window`` frames; follows slow changes of apparent size such as a subject
    walking toward the camera, not the stride-to-stride "breathing" of the span). ``target`` is ``span_target`` canvas px, or
    upstream's ``canvas // 1.5`` (85 px for 128) when None.

    This exact function is shared with the silhouette registration, which crops silhouettes with the same
    box; keep it stable.

    Args:
        pose: ``(T, 17, 3)``, x, y in image pixels; confidences are ignored.
        scale_mode: ``"per_frame"``, ``"per_sequence"`` or ``"smoothed"``.
        span_joints: joint indices that define the vertical span.
        canvas: side of the square canvas in pixels.
        placement: ``"hip"`` or ``"extent"``, see above.
        span_target: canvas px the (smoothed) span maps to; None: ``canvas // 1.5``.
        scale_window: frames of the ``smoothed`` window.
        hip_missing: ``"invalid"``: a frame with a hip at (0, 0) is invalid; ``"draw"`` (upstream): it is
            centred on the midpoint all the same (upstream never blanks such a frame).
        fit_target: ``placement="extent"`` only: cap each frame's scale at ``fit_target / span_t``, so that
            its own extent never exceeds ``fit_target`` canvas px even when it is much larger than the
            smoothed span (a subject turning or coming close quickly); None: no cap.

    Returns:
        ``centre (T, 2) float64`` (image px), ``scale (T,) float64`` (canvas px per image px) and
        ``valid (T,) bool``. A frame is invalid where its span is 0 or non-finite, where a hip is missing
        (unless ``hip_missing="draw"``) or, in ``per_sequence``/``smoothed`` mode, where no frame of the
        sequence (window) is valid. Invalid frames have centre 0 and scale 0: never use them.
    """
    if scale_mode not in ("per_frame", "per_sequence", "smoothed"):
        raise BadInputError(
            f"scale_mode must be 'per_frame', 'per_sequence' or 'smoothed', got {scale_mode!r}"
        )
    if placement not in ("hip", "extent"):
        raise BadInputError(f"placement must be 'hip' or 'extent', got {placement!r}")
    span_idx = np.asarray(list(span_joints), dtype=np.intp)
    if span_idx.size == 0 or span_idx.min() < 0 or span_idx.max() >= NUM_JOINTS:
        raise BadInputError(f"span_joints must be non-empty joint indices in 0..16, got {list(span_joints)}")
    pose = np.asarray(pose, dtype=np.float64)
    xy = pose[..., :2]
    hip = (xy[:, LEFT_HIP] + xy[:, RIGHT_HIP]) / 2.0
    if placement == "hip":
        # Upstream measures the span after centring; doing the same keeps the scale bit-identical.
        rel_y = xy[:, span_idx, 1] - hip[:, None, 1]
        with np.errstate(invalid="ignore"):
            span = rel_y.max(axis=1) - rel_y.min(axis=1)
        mid_y = hip[:, 1]
    else:
        present = ~missing_joints(pose)[:, span_idx]
        y = xy[:, span_idx, 1]
        top = np.where(present, y, np.inf).min(axis=1)
        bottom = np.where(present, y, -np.inf).max(axis=1)
        with np.errstate(invalid="ignore"):
            span = bottom - top
            mid_y = (top + bottom) / 2.0
    hips_missing = missing_joints(pose)[:, [LEFT_HIP, RIGHT_HIP]].any(axis=1)
    valid = np.isfinite(span) & (span > 0) & np.isfinite(hip).all(axis=1) & np.isfinite(mid_y)
    if hip_missing != "draw":
        valid &= ~hips_missing
    target = canvas // 1.5 if span_target is None else float(span_target)
    scale = np.zeros(len(pose), dtype=np.float64)
    if scale_mode == "per_frame":
        scale[valid] = target / span[valid]
    elif scale_mode == "per_sequence":
        if valid.any():
            scale[valid] = target / np.median(span[valid])
    else:
        smooth = smoothed_span(span, valid, scale_window)
        valid &= np.isfinite(smooth) & (smooth > 0)
        scale[valid] = target / smooth[valid]
    if fit_target is not None:
        if placement != "extent":
            raise BadInputError("fit_target needs placement='extent' (the extent is centred)")
        scale[valid] = np.minimum(scale[valid], float(fit_target) / span[valid])
    centre = np.where(valid[:, None], np.stack([hip[:, 0], mid_y], axis=1), 0.0)
    return centre, scale, valid


def to_canvas(pose: np.ndarray, centre: np.ndarray, scale: np.ndarray, canvas: int = 128) -> np.ndarray:
    """Map image-pixel joints onto the canvas: ``q = (p - centre) * scale + canvas // 2``.

    Args:
        pose: ``(T, 17, 3)`` x, y (image px), confidence.
        centre: ``(T, 2)`` hip midpoints from :func:`frame_transforms`.
        scale: ``(T,)`` scales from :func:`frame_transforms`.
        canvas: canvas side in pixels (the hips land on ``(canvas // 2, canvas // 2)``).

    Returns:
        ``(T, 17, 3) float64``: x, y in canvas pixels (pixel centres at integers), confidence unchanged.
    """
    pose = np.asarray(pose, dtype=np.float64)
    out = pose.copy()
    out[..., :2] = (pose[..., :2] - centre[:, None, :]) * scale[:, None, None] + canvas // 2
    return out
