"""Slow, obviously-correct skeleton-map reference written from the domain reference §4.1 A–G.

One frame, one joint or limb, one window at a time, float64 arithmetic stored into float32 planes exactly as
upstream does, then the colormap, the alignment and the stack. Nothing here imports gaitprep's renderer or
keypoint code: the tests compare the fast implementation against this one. Also a walking-pose generator and
a literal scikit-learn-style KNN gap fill.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

UPSTREAM_LIMBS = (
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8),
    (8, 10), (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12),
)  # fmt: skip
BODY_JOINTS = tuple(range(5, 17))
BODY_LIMBS = tuple(e for e in UPSTREAM_LIMBS if min(e) >= 5)


# ---------------------------------------------------------------------------------------------- poses


def walking_pose(
    T: int = 40,
    *,
    seed: int = 0,
    leg_scale: float = 1.0,
    torso_scale: float = 1.0,
    period: float = 24.0,
    x0: float = 300.0,
    speed: float = 4.0,
    conf_range: tuple[float, float] = (0.6, 1.0),
) -> np.ndarray:
    """A hand-made side-ish view walker: ``(T, 17, 3) float64`` x, y (image px, y down), confidence.

    The figure is about 330 px tall; legs and arms swing in antiphase with period ``period`` frames.
    """
    rng = np.random.default_rng(seed)
    pose = np.zeros((T, 17, 3))
    for t in range(T):
        ph = 2 * math.pi * t / period
        hx, hy = x0 + speed * t, 400.0 + 3.0 * math.cos(2 * ph)
        hip_l, hip_r = np.array([hx - 9.0, hy]), np.array([hx + 9.0, hy])
        sh_y = hy - 110.0 * torso_scale
        sh_l, sh_r = np.array([hx - 14.0 + 2, sh_y]), np.array([hx + 14.0 + 2, sh_y + 1.5])
        nose = np.array([hx + 12.0, sh_y - 45.0])
        eye_l, eye_r = nose + [-4.0, -6.0], nose + [4.0, -6.5]
        ear_l, ear_r = nose + [-11.0, -2.0], nose + [5.0, -1.0]
        joints = [nose, eye_l, eye_r, ear_l, ear_r, sh_l, sh_r]
        for side, sh in ((1.0, sh_l), (-1.0, sh_r)):
            a = 0.45 * side * math.sin(ph)
            el = sh + 48.0 * np.array([math.sin(a), math.cos(a)])
            wr = el + 42.0 * np.array([math.sin(a + 0.35), math.cos(a + 0.35)])
            joints += [el, wr]
        # reorder to COCO: 5 Lsh, 6 Rsh, 7 Lel, 8 Rel, 9 Lwr, 10 Rwr
        el_l, wr_l, el_r, wr_r = joints[7], joints[8], joints[9], joints[10]
        joints = joints[:7] + [el_l, el_r, wr_l, wr_r, hip_l, hip_r]
        legs = []
        for side, hp in ((-1.0, hip_l), (1.0, hip_r)):
            a = 0.42 * side * math.sin(ph)
            bend = 0.3 * max(0.0, math.sin(ph + (0 if side > 0 else math.pi)))
            kn = hp + 85.0 * leg_scale * np.array([math.sin(a), math.cos(a)])
            an = kn + 82.0 * leg_scale * np.array([math.sin(a - bend), math.cos(a - bend)])
            legs.append((kn, an))
        joints += [legs[0][0], legs[1][0], legs[0][1], legs[1][1]]
        pose[t, :, :2] = np.array(joints)
        pose[t, :, 2] = rng.uniform(*conf_range, size=17)
    pose[..., :2] += rng.normal(0.0, 0.7, size=(T, 17, 2))
    return pose


# ------------------------------------------------------------------------------------------- step A


def reference_knn_fill(pose: np.ndarray, n_neighbors: int = 4, *, leave_empty: bool = False) -> np.ndarray:
    """scikit-learn KNNImputer(missing_values=0.0, n_neighbors, weights='distance') on the (T, 34) x/y matrix,
    one missing value at a time. A column that is entirely missing makes upstream return the input unchanged;
    with ``leave_empty`` it is dropped as scikit-learn drops it (left as it is) and the rest is filled."""
    T = pose.shape[0]
    X = pose[:, :, :2].reshape(T, 34).astype(np.float64)
    missing = X == 0.0
    empty = missing.all(axis=0)
    if empty.any() and not leave_empty:
        return pose.astype(np.float64).copy()
    columns = [k for k in range(34) if not empty[k]]
    Y = X.copy()
    for i in range(T):
        for col in columns:
            if not missing[i, col]:
                continue
            cands = []
            for j in range(T):
                if missing[j, col]:
                    continue
                common = [k for k in columns if not missing[i, k] and not missing[j, k]]
                if not common:
                    cands.append((math.inf, j, math.nan))
                    continue
                sq = sum((X[i, k] - X[j, k]) ** 2 for k in common)
                cands.append((math.sqrt(len(columns) / len(common) * sq), j, X[j, col]))
            if all(math.isinf(d) for d, _, _ in cands):
                Y[i, col] = np.mean([X[j, col] for j in range(T) if not missing[j, col]])
                continue
            cands.sort(key=lambda c: (c[0], c[1]))
            near = cands[:n_neighbors]
            if any(d == 0.0 for d, _, _ in near):
                weights = [1.0 if d == 0.0 else 0.0 for d, _, _ in near]
            else:
                weights = [0.0 if math.isinf(d) else 1.0 / d for d, _, _ in near]
            values = [0.0 if math.isinf(d) else v for d, _, v in near]
            Y[i, col] = sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)
    out = pose.astype(np.float64).copy()
    out[:, :, :2] = Y.reshape(T, 17, 2)
    return out


# ------------------------------------------------------------------------------------------ steps B–G


def grey_lut() -> np.ndarray:
    """matplotlib ``gray`` (N = 256) as upstream uses it: ``trunc(255 * linspace(0, 1, 256)[i])``."""
    return (np.linspace(0.0, 1.0, 256) * 255).astype(np.uint8)


def _window(lo: float, hi: float, sigma: float, nsig: float, n: int) -> tuple[int, int]:
    """``[int(lo - 3σ), int(hi + 3σ)]`` inclusive (Python int() truncates), clipped, as a half-open range."""
    return max(int(lo - nsig * sigma), 0), min(int(hi + nsig * sigma) + 1, n)


def _point(
    plane: np.ndarray, mx: float, my: float, value: float, sigma: float, eps: float, nsig: float
) -> None:
    """Joint Gaussian ``value * exp(-((x - mx)^2 + (y - my)^2) / (2 sigma^2))`` on its window, max-written."""
    if value < eps:
        return
    st_x, ed_x = _window(mx, mx, sigma, nsig, plane.shape[1])
    st_y, ed_y = _window(my, my, sigma, nsig, plane.shape[0])
    if st_x >= ed_x or st_y >= ed_y:
        return
    x = np.arange(st_x, ed_x, dtype=np.float64)[None, :]
    y = np.arange(st_y, ed_y, dtype=np.float64)[:, None]
    patch = value * np.exp(-((x - mx) ** 2 + (y - my) ** 2) / (2 * sigma**2))
    plane[st_y:ed_y, st_x:ed_x] = np.maximum(plane[st_y:ed_y, st_x:ed_x], patch)


def _limb(plane, a, b, ca, cb, sigma, eps, nsig, point_below: float = 1.0) -> None:
    """Limb ``min(ca, cb) * exp(-d^2 / (2 sigma^2))``, d = pixel-to-segment distance, on the endpoints' box
    window; a limb shorter than ``point_below`` px (upstream: 1) is a point Gaussian at ``a`` with amplitude
    ``ca``."""
    m = min(ca, cb)
    if m < eps:
        return
    st_x, ed_x = _window(min(a[0], b[0]), max(a[0], b[0]), sigma, nsig, plane.shape[1])
    st_y, ed_y = _window(min(a[1], b[1]), max(a[1], b[1]), sigma, nsig, plane.shape[0])
    if st_x >= ed_x or st_y >= ed_y:
        return
    d_ab2 = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
    if d_ab2 < point_below**2:
        _point(plane, a[0], a[1], ca, sigma, eps, nsig)
        return
    x = np.arange(st_x, ed_x, dtype=np.float64)[None, :]
    y = np.arange(st_y, ed_y, dtype=np.float64)[:, None]
    da2 = (x - a[0]) ** 2 + (y - a[1]) ** 2
    db2 = (x - b[0]) ** 2 + (y - b[1]) ** 2
    u = (da2 - db2 + d_ab2) / (2 * d_ab2)
    px, py = a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1])
    dline2 = (x - px) ** 2 + (y - py) ** 2
    d2 = np.where(u <= 0, da2, np.where(u >= 1, db2, dline2))
    patch = m * np.exp(-d2 / (2 * sigma**2))
    plane[st_y:ed_y, st_x:ed_x] = np.maximum(plane[st_y:ed_y, st_x:ed_x], patch)


def _to_grey(M: np.ndarray, lut: np.ndarray) -> np.ndarray:
    idx = np.zeros(M.shape, dtype=np.int64)
    scaled = M.astype(np.float32) * np.float32(256)
    ok = np.isfinite(scaled)
    idx[ok] = np.minimum(scaled[ok], 255).astype(np.int64)
    return lut[idx]


def _crop_rows(G: np.ndarray) -> tuple[int, int]:
    rows = [y for y in range(G.shape[0]) if G[y].any()]
    return (rows[0], rows[-1]) if rows else (0, 0)


def _resize(G: np.ndarray, size: int) -> np.ndarray:
    A = G.astype(np.float64) / 255.0
    R = cv2.resize(A, (size, size), interpolation=cv2.INTER_AREA)
    return (R * 255).astype(np.uint8)


def reference_render(
    pose: np.ndarray,
    *,
    sigma_limb: float = 8.0,
    sigma_joint: float = 8.0,
    joints: tuple[int, ...] = tuple(range(17)),
    limbs: tuple[tuple[int, int], ...] = UPSTREAM_LIMBS,
    span_joints: tuple[int, ...] = tuple(range(17)),
    scale_mode: str = "per_frame",
    combine: str = "max",
    quantise: str = "lut_exact",
    align: str = "per_channel",
    crop: str = "content",
    channels: tuple[str, ...] = ("limb", "joint"),
    canvas: int = 128,
    size: int = 64,
    eps: float = 1e-3,
    nsig: float = 3.0,
    raster: str = "canvas",
    placement: str = "hip",
    scale_window: int = 1,
    margin_sigmas: float | None = None,
    hip_missing: str = "draw",
    min_margin_sigmas: float | None = None,
) -> np.ndarray:
    """Render ``pose (T, 17, 3)`` (already gap-free) to ``uint8 (T, C, size, size)``; frames that cannot be
    normalised come out blank.

    ``raster="output"`` (gaitprep's own mode, full-canvas crop only) skips the canvas: each canvas point q goes
    to output pixel ``(q + 0.5) * size / canvas - 0.5``, sigmas (and the 1-px point-limb rule) scale by
    ``size / canvas``, and the Gaussians are drawn, combined and quantised on the ``size x size`` grid with the
    same windows rule in output pixels; no resize follows.

    Geometry (gaitprep's variants): ``placement="extent"`` centres x on the hips and y on the middle of the span
    joints' own vertical extent (joints at (0, 0) left out); ``scale_mode="smoothed"`` divides by the value at
    frame t of the weighted least-squares line through the valid spans within ``h = scale_window // 2`` frames
    either side, weights ``h + 1 - |d|``; ``margin_sigmas`` maps the span to
    ``canvas - 2 margin_sigmas max(sigmas)`` instead of ``canvas // 1.5``; ``hip_missing="draw"`` (upstream)
    renders a frame whose hip is (0, 0) centred on that midpoint, ``"blank"`` leaves it blank;
    ``min_margin_sigmas`` caps the scale so that the frame's own extent fills at most ``canvas - 2
    min_margin_sigmas max(sigmas)``.
    """
    pose = np.asarray(pose, dtype=np.float64)
    T = pose.shape[0]
    lut = grey_lut() if quantise == "lut_exact" else np.arange(256, dtype=np.uint8)
    # B: centring and span scaling.
    spans, ok, centres = [], [], []
    for t in range(T):
        h = (pose[t, 11, :2] + pose[t, 12, :2]) / 2.0
        if placement == "hip":
            ys = [pose[t, v, 1] - h[1] for v in span_joints]
            span = max(ys) - min(ys)
            centre = h
        else:
            ys = [pose[t, v, 1] for v in span_joints if not (pose[t, v, 0] == 0.0 and pose[t, v, 1] == 0.0)]
            span = (max(ys) - min(ys)) if ys else math.nan
            centre = np.array([h[0], (min(ys) + max(ys)) / 2.0 if ys else math.nan])
        hips_missing = any(pose[t, v, 0] == 0.0 and pose[t, v, 1] == 0.0 for v in (11, 12))
        spans.append(span)
        centres.append(centre)
        ok.append(span > 0 and math.isfinite(span) and not (hips_missing and hip_missing != "draw"))
    med = float(np.median([s for s, k in zip(spans, ok, strict=True) if k])) if any(ok) else 1.0
    target = (
        canvas // 1.5
        if margin_sigmas is None
        else canvas - 2.0 * margin_sigmas * max(sigma_limb, sigma_joint)
    )
    out = np.zeros((T, len(channels), size, size), np.uint8)
    for t in range(T):
        if not ok[t]:
            continue
        if scale_mode == "per_frame":
            span = spans[t]
        elif scale_mode == "per_sequence":
            span = med
        else:  # weighted least-squares line through the window's valid spans, weights h + 1 - |d|
            h = scale_window // 2
            s0 = s1 = s2 = t0 = t1 = 0.0
            for d in range(-h, h + 1):
                if 0 <= t + d < T and ok[t + d]:
                    w = float(h + 1 - abs(d))
                    s0, s1, s2 = s0 + w, s1 + (w * d), s2 + (w * d * d)
                    t0, t1 = t0 + w * spans[t + d], t1 + (w * d) * spans[t + d]
            den = s0 * s2 - s1 * s1
            span = (s2 * t0 - s1 * t1) / den if den > 0 else t0 / s0
        s = target / span
        if min_margin_sigmas is not None:  # the frame's own extent fills at most the room between 2 margins
            s = min(s, (canvas - 2.0 * min_margin_sigmas * max(sigma_limb, sigma_joint)) / spans[t])
        q = (pose[t, :, :2] - centres[t]) * s + canvas // 2
        c = np.where(np.isin(np.arange(17), joints), pose[t, :, 2], 0.0)
        grid, k = canvas, 1.0
        if raster == "output":
            assert crop == "full_canvas", "raster='output' needs crop='full_canvas'"
            grid, k = size, size / canvas
            q = (q + 0.5) * k - 0.5
        greys = []
        for name in channels:
            planes = []
            if name == "limb":
                for a, b in limbs:
                    plane = np.zeros((grid, grid), np.float32)
                    _limb(plane, q[a], q[b], c[a], c[b], sigma_limb * k, eps, nsig, point_below=k)
                    planes.append(plane)
            else:
                for v in joints:
                    plane = np.zeros((grid, grid), np.float32)
                    _point(plane, q[v, 0], q[v, 1], c[v], sigma_joint * k, eps, nsig)
                    planes.append(plane)
            stack = np.array(planes) if planes else np.zeros((1, grid, grid), np.float32)
            M = stack.max(axis=0) if combine == "max" else np.clip(stack.sum(axis=0), 0.0, 1.0)
            greys.append(_to_grey(M, lut))
        if raster == "output":
            out[t] = np.stack(greys)
            continue
        if crop == "full_canvas":
            for i, G in enumerate(greys):
                out[t, i] = _resize(G, size)
            continue
        boxes = [_crop_rows(G) for G in greys]
        if align == "shared":
            shared = (min(b[0] for b in boxes), max(b[1] for b in boxes))
            boxes = [shared] * len(greys)
        for i, (G, (top, btm)) in enumerate(zip(greys, boxes, strict=True)):
            hgt = btm - top + 1
            mid = canvas // 2
            out[t, i] = _resize(G[top : btm + 1, mid - hgt // 2 : mid + hgt // 2 + 1], size)
    return out
