"""Skeleton-map renderer: a :class:`HeatmapSpec` and a pose sequence in, ``uint8`` maps out (§4).

Pipeline per sequence (domain reference §4.1 A–G, with the §4.2 variants selected by the spec):

1. optional KNN gap fill and low-confidence interpolation (:mod:`gaitprep.keypoints`);
2. hip centring and span scaling onto the ``canvas`` (:func:`gaitprep.keypoints.frame_transforms`);
   frames that cannot be normalised are blanked or dropped (``unnormalisable``) and counted;
3. Gaussian limbs and joints of the joint set, max (or clipped-sum) combined and quantised to grey levels
   through the upstream colormap (:mod:`gaitprep.heatmap_raster`), chunk by chunk;
4. alignment: the upstream content crop per channel, or one shared crop box for both channels (the fork's
   registration fix), resampled with OpenCV ``INTER_AREA`` (bit-identical; :mod:`gaitprep.heatmap_resample`),
   or a fixed full-canvas 2x downsample in exact integer arithmetic;
5. per-sequence statistics (:mod:`gaitprep.heatmap_stats`).

The output channel order is ``spec.channels`` (upstream: 0 = limb, 1 = joint).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gaitprep.heatmap_raster import ChannelRaster, Workspace, render_joints, render_limbs
from gaitprep.heatmap_resample import area_half, area_half_floor, area_resample
from gaitprep.heatmap_spec import PRESET_NAMES, HeatmapSpec, preset
from gaitprep.heatmap_stats import aggregate_stats, sequence_stats
from gaitprep.keypoints import check_pose, frame_transforms, interpolate_low_confidence, knn_fill, to_canvas

__all__ = [
    "PRESET_NAMES",
    "HeatmapSpec",
    "RenderResult",
    "aggregate_stats",
    "canvas_pose",
    "preset",
    "render_sequence",
]

CHUNK_FRAMES = 64  # frames whose geometry is prepared at once (phase-sorted)
BLOCK_FRAMES = 16  # frames whose pixels are computed together: float32 temporaries stay near cache size


@dataclass(frozen=True)
class RenderResult:
    """Output of :func:`render_sequence`.

    Attributes:
        maps: ``uint8 (T', C, size, size)``, channels in ``spec.channels`` order.
        kept: ``bool (T,)``: input frames present in ``maps`` (all True unless ``unnormalisable="drop"``).
        blank_frames: unnormalisable frames written as all-zero frames (policy ``blank``).
        dropped_frames: unnormalisable frames removed (policy ``drop``).
        stats: per-sequence statistics (:func:`gaitprep.heatmap_stats.sequence_stats`).
    """

    maps: np.ndarray
    kept: np.ndarray
    blank_frames: int
    dropped_frames: int
    stats: dict[str, float] = field(default_factory=dict)


def canvas_pose(spec: HeatmapSpec, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clean and normalise a pose as ``spec`` says (steps A–B): canvas joints and the validity mask.

    Args:
        pose: ``(T, 17, 3)`` x, y (image px), confidence.

    Returns:
        ``q (T, 17, 3) float64`` on the canvas (rows of invalid frames are 0) and ``valid (T,) bool``.
        Confidences of joints outside the joint set are set to 0, so they are never drawn.
    """
    pose = check_pose(pose)
    if spec.knn_fill:
        pose = knn_fill(pose, joints=spec.impute_joints)
    if spec.low_conf_interpolate is not None:
        pose = interpolate_low_confidence(pose, spec.low_conf_interpolate)
    centre, scale, valid = frame_transforms(
        pose, scale_mode=spec.scale, span_joints=spec.span_joints, canvas=spec.canvas
    )
    q = np.zeros_like(pose)
    q[valid] = to_canvas(pose[valid], centre[valid], scale[valid], spec.canvas)
    outside = np.ones(pose.shape[1], dtype=bool)
    outside[list(spec.joints)] = False
    q[:, outside, 2] = 0.0
    return q, valid


def _content_rows(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upstream crop rows per frame: first and last non-zero row; an all-zero frame gives (0, 0)."""
    rows = levels.any(axis=2)  # (F, H)
    top = rows.argmax(axis=1)
    nonzero = rows.any(axis=1)
    btm = np.where(nonzero, rows.shape[1] - 1 - rows[:, ::-1].argmax(axis=1), 0)
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
    spec: HeatmapSpec, q: np.ndarray, maps: np.ndarray, boxes: np.ndarray
) -> np.ndarray:
    """Per-frame limb/joint registration offset in output px, NaN where undefined.

    Each channel shows the canvas box ``(x0, y0, w, h)`` resampled to ``size``, which maps a canvas pixel p to
    ``(p - x0 + 0.5) * size / w - 0.5``. The offset is the mean over the frame's drawn joints of the distance
    between a joint's positions under the limb and the joint channel's maps: 0 when both channels share one
    box. Undefined without both channels, when a channel is blank or no joint is drawn.
    """
    F = q.shape[0]
    names = spec.channel_names
    if "limb" not in names or "joint" not in names or F == 0:
        return np.full(F, np.nan)
    li, ji = names.index("limb"), names.index("joint")

    def place(box: np.ndarray) -> np.ndarray:  # (F, 4) -> (F, 17, 2)
        origin, extent = box[:, None, :2], box[:, None, 2:]
        return (q[..., :2] - origin + 0.5) * spec.size / extent - 0.5

    dist = np.linalg.norm(place(boxes[:, li]) - place(boxes[:, ji]), axis=-1)  # (F, 17)
    drawn = q[..., 2] >= spec.eps
    n = drawn.sum(axis=1)
    both = maps[:, li].any(axis=(1, 2)) & maps[:, ji].any(axis=(1, 2)) & (n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(drawn, dist, 0.0).sum(axis=1) / n
    return np.where(both, mean, np.nan)


def _phase_order(q: np.ndarray) -> np.ndarray:
    """Frame order that puts similar poses next to each other: by the angle in the plane of the first two
    principal components of the canvas joints (the gait phase for a walking sequence). Only speed depends on
    it: each limb is evaluated on the union of its windows over a block of frames."""
    n = q.shape[0]
    if n <= BLOCK_FRAMES:
        return np.arange(n)
    x = q[..., :2].reshape(n, -1)
    x = x - x.mean(axis=0)
    try:
        _, _, vt = np.linalg.svd(x, full_matrices=False)
    except np.linalg.LinAlgError:  # pragma: no cover - SVD of a finite matrix converges in practice
        return np.arange(n)
    pc = x @ vt[:2].T
    if pc.shape[1] < 2:
        return np.arange(n)
    return np.argsort(np.arctan2(pc[:, 1], pc[:, 0]), kind="stable")


def _render_canvas_frames(spec: HeatmapSpec, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Render normalised frames ``q (N, 17, 3)`` chunk by chunk, in phase order.

    Returns:
        ``uint8 (N, C, size, size)`` maps and ``(N,)`` registration offsets (see :func:`_registration_offsets`).
    """
    n = q.shape[0]
    out = np.zeros((n, len(spec.channels), spec.size, spec.size), np.uint8)
    reg = np.full(n, np.nan)
    common = {
        "eps": spec.eps,
        "window_sigmas": spec.window_sigmas,
        "canvas": spec.canvas,
        "combine": spec.combine,
        "quantise": spec.quantise,
        "block": BLOCK_FRAMES,
        "workspace": Workspace(),
    }
    order = _phase_order(q)
    for s in range(0, n, CHUNK_FRAMES):
        frames = order[s : s + CHUNK_FRAMES]
        chunk = q[frames]
        xy, conf = chunk[..., :2], chunk[..., 2]
        rasters = []
        for name in spec.channels:
            if name == "limb":
                rasters.append(render_limbs(xy, conf, spec.limbs, sigma=spec.sigma_limb, **common))
            else:
                rasters.append(render_joints(xy, conf, spec.joints, sigma=spec.sigma_joint, **common))
        maps, boxes = _align(spec, rasters)
        out[frames] = maps
        reg[frames] = _registration_offsets(spec, chunk, maps, boxes)
    return out, reg


def render_sequence(spec: HeatmapSpec, pose: np.ndarray) -> RenderResult:
    """Render one pose sequence to skeleton maps.

    Args:
        spec: every parameter that changes the output (:func:`gaitprep.heatmap_spec.preset` builds one).
        pose: ``(T, 17, 3)`` COCO-17 joints, x, y in image pixels (0.0 = missing), confidence; any real dtype.

    Returns:
        :class:`RenderResult` with ``maps uint8 (T', C, spec.size, spec.size)``.

    Raises:
        BadInputError: wrong shape, T = 0 or a NaN/inf value.
    """
    q, valid = canvas_pose(spec, pose)
    T = q.shape[0]
    rendered, reg = _render_canvas_frames(spec, q[valid])
    bad = int(T - valid.sum())
    if spec.unnormalisable == "drop":
        maps, registration, kept, blank, dropped = rendered, reg, valid.copy(), 0, bad
    else:
        maps = np.zeros((T,) + rendered.shape[1:], np.uint8)
        maps[valid] = rendered
        registration = np.full(T, np.nan)
        registration[valid] = reg
        kept, blank, dropped = np.ones(T, bool), bad, 0
    stats = sequence_stats(
        maps,
        spec.channel_names,
        frames_in=T,
        unnormalisable_frames=bad,
        dropped_frames=dropped,
        registration=registration,
    )
    return RenderResult(maps=maps, kept=kept, blank_frames=blank, dropped_frames=dropped, stats=stats)
