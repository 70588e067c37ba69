"""Skeleton-map renderer: a :class:`HeatmapSpec` and a pose sequence in, ``uint8`` maps out (§4).

Pipeline per sequence (domain reference §4.1 A–G, with the §4.2 variants selected by the spec):

1. optional KNN gap fill and low-confidence interpolation (:mod:`gaitprep.keypoints`);
2. hip centring and span scaling onto the ``canvas`` (:func:`gaitprep.keypoints.frame_transforms`);
   frames that cannot be normalised are blanked or dropped (``unnormalisable``) and counted;
3. Gaussian limbs and joints of the joint set, max (or clipped-sum) combined and quantised to grey levels
   through the upstream colormap (:mod:`gaitprep.heatmaps.raster`), chunk by chunk, in blocks of similar
   (phase-sorted) frames;
4. alignment: the upstream content crop per channel, or one shared crop box for both channels (the fork's
   registration fix), resampled with OpenCV ``INTER_AREA`` (bit-identical; :mod:`gaitprep.heatmaps.resample`),
   or a fixed full-canvas 2x downsample in exact integer arithmetic. With ``raster="output"`` (full-canvas
   crop only, not upstream) step 3 draws straight onto the output grid and there is nothing to align;
5. per-sequence statistics (:mod:`gaitprep.heatmaps.stats`).

Nothing here calls BLAS or LAPACK beyond tiny single-threaded matrix products: a multi-threaded BLAS woken
by a larger call (an SVD, a gemv) keeps spinning threads that cost more CPU than the rendering itself when no
thread limit is set (measured 2-4x the whole render's CPU time on a loaded 2-core machine).

The output channel order is ``spec.channels`` (upstream: 0 = limb, 1 = joint).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gaitprep.heatmaps.joints import render_joints
from gaitprep.heatmaps.limbs import render_limbs
from gaitprep.heatmaps.raster import ChannelRaster, Workspace
from gaitprep.heatmaps.resample import area_half, area_half_floor, area_resample
from gaitprep.heatmaps.spec import PRESET_NAMES, HeatmapSpec, preset
from gaitprep.heatmaps.stats import aggregate_stats, sequence_stats
from gaitprep.keypoints import (
    check_pose,
    frame_transforms,
    interpolate_low_confidence,
    knn_fill,
    missing_joints,
    to_canvas,
)
from gaitprep.skeleton import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER

__all__ = [
    "PRESET_NAMES",
    "HeatmapSpec",
    "Geometry",
    "RenderResult",
    "aggregate_stats",
    "canvas_pose",
    "sequence_geometry",
    "preset",
    "render_sequence",
]

# Frames whose pixels are computed together (a block) scale inversely with the grid's pixel count, so float32
# temporaries stay near cache size: 16 on a 128-px canvas, 64 on a 64-px output grid (measured best on a 2-core
# VM: 32 frames on the canvas were 9% slower, the blocks' window unions being larger). A chunk (geometry
# prepared at once, phase-sorted, its few ambiguous pixels re-evaluated exactly in one call) holds four blocks:
# 4% faster than two on the opengait canvas, no faster with eight.
BLOCK_PIXELS = 16 * 128 * 128
MIN_BLOCK_FRAMES, MAX_BLOCK_FRAMES = 16, 64
CHUNK_BLOCKS = 4


def block_frames(grid: int) -> int:
    """Frames per pixel block for a ``grid x grid`` raster: a power of two in [16, 64]."""
    b = MIN_BLOCK_FRAMES
    while b < MAX_BLOCK_FRAMES and 2 * b * grid * grid <= BLOCK_PIXELS:
        b *= 2
    return b


@dataclass(frozen=True)
class RenderResult:
    """Output of :func:`render_sequence`.

    Attributes:
        maps: ``uint8 (T', C, size, size)``, channels in ``spec.channels`` order.
        kept: ``bool (T,)``: input frames present in ``maps`` (all True unless ``unnormalisable="drop"``).
        blank_frames: unnormalisable frames written as all-zero frames (policy ``blank``).
        dropped_frames: unnormalisable frames removed (policy ``drop``).
        stats: per-sequence statistics (:func:`gaitprep.heatmaps.stats.sequence_stats`).
    """

    maps: np.ndarray
    kept: np.ndarray
    blank_frames: int
    dropped_frames: int
    stats: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Geometry:
    """Steps A-B of one sequence (:func:`sequence_geometry`).

    Attributes:
        pose: ``(T, 17, 3) float64`` the cleaned (gap-filled) pose, image px.
        centre: ``(T, 2) float64`` image point placed at the canvas centre ``canvas // 2``.
        scale: ``(T,) float64`` canvas px per image px.
        valid: ``(T,) bool`` frames that can be normalised.
        hip_missing: ``(T,) bool`` frames whose hip is still (0, 0) after gap filling.
    """

    pose: np.ndarray
    centre: np.ndarray
    scale: np.ndarray
    valid: np.ndarray
    hip_missing: np.ndarray


def sequence_geometry(spec: HeatmapSpec, pose: np.ndarray) -> Geometry:
    """Clean a pose and find each frame's canvas transform as ``spec`` says (steps A-B).

    The silhouette registration (``--register-with``) calls this too, so silhouettes share the maps' box.

    Args:
        pose: ``(T, 17, 3)`` x, y (image px), confidence.
    """
    pose = check_pose(pose)
    if spec.knn_fill:
        pose = knn_fill(
            pose, joints=spec.impute_joints, upstream_empty_column=spec.knn_never_observed == "keep_all_raw"
        )
    if spec.low_conf_interpolate is not None:
        pose = interpolate_low_confidence(pose, spec.low_conf_interpolate)
    centre, scale, valid = frame_transforms(
        pose,
        scale_mode=spec.scale,
        span_joints=spec.span_joints,
        canvas=spec.canvas,
        placement=spec.placement,
        span_target=spec.span_target,
        scale_window=spec.scale_window,
        hip_missing="draw" if spec.hip_missing == "draw" else "invalid",
        fit_target=spec.fit_target,
    )
    hip_missing = missing_joints(pose)[:, [LEFT_HIP, RIGHT_HIP]].any(axis=1)
    return Geometry(pose, centre, scale, valid, hip_missing)


def canvas_pose(spec: HeatmapSpec, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clean and normalise a pose as ``spec`` says (steps A–B): canvas joints and the validity mask.

    Args:
        pose: ``(T, 17, 3)`` x, y (image px), confidence.

    Returns:
        ``q (T, 17, 3) float64`` on the canvas (rows of invalid frames are 0) and ``valid (T,) bool``.
        Confidences of joints outside the joint set are set to 0, so they are never drawn.
    """
    return _canvas_pose(spec, sequence_geometry(spec, pose))


def _canvas_pose(spec: HeatmapSpec, geo: Geometry) -> tuple[np.ndarray, np.ndarray]:
    pose, valid = geo.pose, geo.valid
    q = np.zeros_like(pose)
    q[valid] = to_canvas(pose[valid], geo.centre[valid], geo.scale[valid], spec.canvas)
    outside = np.ones(pose.shape[1], dtype=bool)
    outside[list(spec.joints)] = False
    q[:, outside, 2] = 0.0
    return q, valid


def _content_rows(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upstream crop rows per frame: first and last non-zero row; an all-zero frame gives (0, 0).

    A frame whose first and last rows both hold content (the usual case: the body's tails reach both edges)
    needs no scan of the rows in between."""
    F, H = levels.shape[:2]
    top, btm = np.zeros(F, np.int64), np.full(F, H - 1, np.int64)
    rest = np.flatnonzero(~(levels[:, 0].any(axis=1) & levels[:, H - 1].any(axis=1)))
    if rest.size:
        rows = levels[rest].any(axis=2)  # (F', H)
        nonzero = rows.any(axis=1)
        top[rest] = rows.argmax(axis=1)
        btm[rest] = np.where(nonzero, H - 1 - rows[:, ::-1].argmax(axis=1), 0)
    return top, btm


def _align(spec: HeatmapSpec, rasters: list[ChannelRaster]) -> tuple[np.ndarray, np.ndarray]:
    """Crop and resample the chunk's channels (§4.1 F, §4.2).

    Args:
        rasters: one :class:`ChannelRaster` (grey levels) per output channel.

    Returns:
        ``uint8 (F, C, size, size)`` maps and the crop boxes ``int64 (F, C, 4)`` as ``(x0, y0, w, h)`` in
        canvas px (the part of the canvas each output channel shows).
    """
    F = rasters[0].levels.shape[0]
    C = len(rasters)
    size, canvas = spec.size, spec.canvas
    out = np.zeros((F, C, size, size), np.uint8)
    boxes = np.zeros((F, C, 4), np.int64)
    whole_canvas = (0, 0, canvas, canvas)
    if spec.crop == "full_canvas":
        boxes[:] = whole_canvas
        if canvas == 2 * size:
            for i, ras in enumerate(rasters):
                out[:, i] = area_half_floor(ras.levels, ras.box)
            return out, boxes
    else:
        mid = canvas // 2
        rows = [_content_rows(r.levels) for r in rasters]
        if spec.align == "shared":
            top = np.minimum.reduce([t for t, _ in rows])
            btm = np.maximum.reduce([b for _, b in rows])
            rows = [(top, btm)] * C
        for i, (top, btm) in enumerate(rows):
            h = btm - top + 1
            x0 = mid - h // 2
            boxes[:, i] = np.stack([x0, top, np.minimum(mid + h // 2 + 1, canvas) - x0, h], axis=1)
    # A crop that is the whole canvas at twice the output size takes OpenCV's exact 2x path, vectorised;
    # any other crop is resampled by OpenCV itself.
    whole = (boxes == whole_canvas).all(axis=2) & (canvas == 2 * size)  # (F, C)
    for i, ras in enumerate(rasters):
        sel = np.flatnonzero(whole[:, i])
        if sel.size:
            out[sel, i] = area_half(ras.levels[sel] if sel.size < F else ras.levels, ras.box)
        for f in np.flatnonzero(~whole[:, i]):
            x0, y0, w, h = boxes[f, i].tolist()
            out[f, i] = area_resample(ras.levels[f, None, y0 : y0 + h, x0 : x0 + w], size)[0]
    return out, boxes


def _registration_offsets(
    spec: HeatmapSpec, q: np.ndarray, nonempty: np.ndarray, boxes: np.ndarray
) -> np.ndarray:
    """Per-frame limb/joint registration offset in output px, NaN where undefined.

    Each channel shows the canvas box ``(x0, y0, w, h)`` resampled to ``size``, which maps a canvas pixel p to
    ``(p - x0 + 0.5) * size / w - 0.5``. The offset is the mean over the frame's drawn joints of the distance
    between a joint's positions under the limb and the joint channel's maps: 0 when both channels share one
    box. Undefined without both channels, when a channel is blank (``nonempty (F, C) bool`` is False) or no
    joint is drawn.
    """
    F = q.shape[0]
    names = spec.channel_names
    if "limb" not in names or "joint" not in names or F == 0:
        return np.full(F, np.nan)
    li, ji = names.index("limb"), names.index("joint")

    def place(box: np.ndarray) -> np.ndarray:  # (F, 4) -> (F, 17, 2)
        origin, extent = box[:, None, :2], box[:, None, 2:]
        return (q[..., :2] - origin + 0.5) * spec.size / extent - 0.5

    drawn = q[..., 2] >= spec.eps
    n = drawn.sum(axis=1)
    both = nonempty[:, li] & nonempty[:, ji] & (n > 0)
    if np.array_equal(boxes[:, li], boxes[:, ji]):  # one box for both channels: registered exactly
        return np.where(both, 0.0, np.nan)
    dist = np.linalg.norm(place(boxes[:, li]) - place(boxes[:, ji]), axis=-1)  # (F, 17)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(drawn, dist, 0.0).sum(axis=1) / n
    return np.where(both, mean, np.nan)


def _phase_order(q: np.ndarray) -> np.ndarray:
    """Frame order that puts similar poses next to each other: by the angle in the plane of the first two
    principal components of the canvas joints (the gait phase for a walking sequence). Only speed depends on
    it: each limb is evaluated on the union of its windows over a block of frames."""
    n = q.shape[0]
    if n <= MIN_BLOCK_FRAMES:
        return np.arange(n)
    x = q[..., :2].reshape(n, -1)
    x = x - x.mean(axis=0)
    plane = _principal_plane(np.einsum("ti,tj->ij", x, x))
    if plane is None:
        return np.arange(n)
    pc = np.einsum("ti,ik->tk", x, plane)
    return np.argsort(np.arctan2(pc[:, 1], pc[:, 0]), kind="stable")


_PLANE_START = np.random.default_rng(0).standard_normal((34, 2))


def _principal_plane(scatter: np.ndarray, iterations: int = 10) -> np.ndarray | None:
    """Approximately the two leading eigenvectors ``(D, 2)`` of a symmetric ``(D, D)`` scatter matrix, by
    subspace iteration in plain numpy; None for a zero or degenerate matrix.

    Not ``np.linalg`` on purpose: LAPACK wakes a multi-threaded BLAS whose spinning threads cost more CPU than
    the rendering when nothing limits them (an SVD of the frames took 30 ms of CPU per 300-frame sequence on a
    loaded 2-core machine). An approximate plane only makes the ordering slightly less tight."""
    d = scatter.shape[0]
    scale = float(np.abs(scatter).max())
    if not scale > 0 or d > _PLANE_START.shape[0]:
        return None
    s = scatter / scale
    v = _PLANE_START[:d]
    for _ in range(iterations):
        v = np.einsum("ij,jk->ik", s, v)
        # Orthonormalise the two columns (Gram-Schmidt through their 2x2 Gram matrix, in Python floats).
        (g00, g01), (_, g11) = np.einsum("ik,il->kl", v, v).tolist()
        if not g00 > 0:
            return None
        b_sq = g11 - g01 * g01 / g00
        if not b_sq > 1e-24 * g00:
            return None
        n0, nb = math.sqrt(g00), math.sqrt(b_sq)
        v = np.einsum("ik,kl->il", v, np.array([[1.0 / n0, -g01 / (g00 * nb)], [0.0, 1.0 / nb]]))
    return v


def _render_canvas_frames(spec: HeatmapSpec, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render normalised frames ``q (N, 17, 3)`` chunk by chunk, in phase order.

    Returns:
        ``uint8 (N, C, size, size)`` maps, ``(N,)`` registration offsets (see :func:`_registration_offsets`)
        and ``int64 (N, 4)`` the first channel's canvas box ``(x0, y0, w, h)`` shown by each output frame.
    """
    n = q.shape[0]
    out = np.zeros((n, len(spec.channels), spec.size, spec.size), np.uint8)
    reg = np.full(n, np.nan)
    shown = np.zeros((n, 4), np.int64)
    # raster="output": canvas pixel p maps to output pixel (p + 0.5) * size / canvas - 0.5 (pixel centres at
    # integers on both grids, where an area downsample puts them); sigmas, windows and the under-one-pixel
    # limb rule scale alike.
    ratio = spec.size / spec.canvas if spec.raster == "output" else 1.0
    grid = spec.size if spec.raster == "output" else spec.canvas
    block = block_frames(grid)
    common = {
        "eps": spec.eps,
        "window_sigmas": spec.window_sigmas,
        "canvas": grid,
        "combine": spec.combine,
        "quantise": spec.quantise,
        "block": block,
        "workspace": Workspace(),
    }
    order = _phase_order(q)
    for s in range(0, n, CHUNK_BLOCKS * block):
        frames = order[s : s + CHUNK_BLOCKS * block]
        chunk = q[frames]
        xy, conf = chunk[..., :2], chunk[..., 2]
        if spec.raster == "output":
            xy = (xy + 0.5) * ratio - 0.5
        rasters = []
        for name in spec.channels:
            if name == "limb":
                rasters.append(
                    render_limbs(
                        xy, conf, spec.limbs, sigma=spec.sigma_limb * ratio, point_below=ratio, **common
                    )
                )
            else:
                rasters.append(render_joints(xy, conf, spec.joints, sigma=spec.sigma_joint * ratio, **common))
        if spec.raster == "output":  # already the output grid: one copy, straight into place
            boxes = np.broadcast_to(
                np.array([0, 0, spec.canvas, spec.canvas]), (len(frames), len(rasters), 4)
            )
            for i, ras in enumerate(rasters):
                out[frames, i] = ras.levels
            nonempty = np.stack([ras.levels.any(axis=(1, 2)) for ras in rasters], axis=1)
        else:
            maps, boxes = _align(spec, rasters)
            out[frames] = maps
            nonempty = maps.any(axis=(2, 3))
        reg[frames] = _registration_offsets(spec, chunk, nonempty, boxes)
        shown[frames] = boxes[:, 0]
    return out, reg, shown


def torso_lengths(spec: HeatmapSpec, q: np.ndarray, boxes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per-frame torso length in output px: shoulder midpoint to hip midpoint under the renderer's own transform.

    Args:
        q: ``(N, 17, 3)`` canvas joints; boxes: ``(N, 4)`` canvas box ``(x0, y0, w, h)`` each output frame shows
            (resampled to ``size`` x ``size``); present: ``(N,) bool`` frames whose four torso joints exist.

    Returns:
        ``(N,) float64``, NaN where not ``present``.
    """
    d = q[:, [LEFT_SHOULDER, RIGHT_SHOULDER], :2].mean(axis=1) - q[:, [LEFT_HIP, RIGHT_HIP], :2].mean(axis=1)
    extent = boxes[:, 2:].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        length = np.hypot(d[:, 0] * spec.size / extent[:, 0], d[:, 1] * spec.size / extent[:, 1])
    return np.where(present, length, np.nan)


def render_sequence(spec: HeatmapSpec, pose: np.ndarray) -> RenderResult:
    """Render one pose sequence to skeleton maps.

    Args:
        spec: every parameter that changes the output (:func:`gaitprep.heatmaps.spec.preset` builds one).
        pose: ``(T, 17, 3)`` COCO-17 joints, x, y in image pixels (0.0 = missing), confidence; any real dtype.

    Returns:
        :class:`RenderResult` with ``maps uint8 (T', C, spec.size, spec.size)``.

    Raises:
        BadInputError: wrong shape, T = 0 or a NaN/inf value.
    """
    geo = sequence_geometry(spec, pose)
    q, valid = _canvas_pose(spec, geo)
    T = q.shape[0]
    rendered, reg, boxes = _render_canvas_frames(spec, q[valid])
    torso_joints = [LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP]
    present = ~missing_joints(geo.pose)[valid][:, torso_joints].any(axis=1)
    torso = torso_lengths(spec, q[valid], boxes, present)
    bad = int(T - valid.sum())
    if spec.unnormalisable == "drop" or bad == 0:  # nothing to blank: no copy
        maps, registration, kept, blank, dropped = rendered, reg, valid.copy(), 0, bad
    else:
        maps = np.zeros((T,) + rendered.shape[1:], np.uint8)
        maps[valid] = rendered
        registration = np.full(T, np.nan)
        registration[valid] = reg
        full_torso = np.full(T, np.nan)
        full_torso[valid] = torso
        torso = full_torso
        kept, blank, dropped = np.ones(T, bool), bad, 0
    stats = sequence_stats(
        maps,
        spec.channel_names,
        frames_in=T,
        unnormalisable_frames=bad,
        dropped_frames=dropped,
        registration=registration,
        torso=torso,
        hip_missing_frames=int(geo.hip_missing.sum()),
    )
    return RenderResult(maps=maps, kept=kept, blank_frames=blank, dropped_frames=dropped, stats=stats)
