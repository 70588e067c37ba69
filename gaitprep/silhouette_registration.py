"""Silhouettes registered with the skeleton maps: the same centred, span-scaled box per frame.

Upstream silhouettes (domain §3) are centred on the mask's mass median and scaled to the mask height,
so they do not line up with skeleton maps, which are centred on the hips and scaled by the joint span
(§4.1 B). Here each raw camera-resolution mask goes through exactly the transform of the skeleton maps'
``crop_mode = full_canvas`` path:

    q = (p - centre_t) * scale_t + canvas // 2        image pixel p -> canvas pixel q (canvas x canvas)
    output = INTER_AREA resize of the canvas to size x size (an exact 2x block mean for 128 -> 64)

with ``centre_t, scale_t`` from :func:`gaitprep.heatmaps.sequence_geometry` (given the maps' HeatmapSpec:
gap filling, hip or extent placement, per-frame/per-sequence/smoothed scale, margins), the function the
renderer uses, or from :func:`gaitprep.keypoints.frame_transforms` directly. Pixel centres are integer positions in both the image and the canvas (as in the renderer), so a
joint at image position p lands at output pixel-centre coordinate ``(q + 0.5) * size / canvas - 0.5``,
i.e. ``q / 2 - 0.25`` for 128 -> 64: the hips (q = 64) land at (31.75, 31.75), within half a pixel of
(32, 32), and exactly where the maps put their hip Gaussians.

Resampling [decision]: ``cv2.warpAffine`` has no INTER_AREA. When the mask is shrunk (scale < 1, the
usual case: a person hundreds of pixels tall is mapped to the 85-px span) a bilinear warp would sample
the mask sparsely and alias, so the frame is first shrunk with ``cv2.resize(fx=fy=scale, INTER_AREA)``
(an exact-scale box filter, whose pixel-centre mapping is ``r = (p + 0.5) * scale - 0.5``) and then
shifted into place by a sub-pixel translation with ``warpAffine(INTER_LINEAR)``. When it is enlarged
(scale >= 1) one ``warpAffine(INTER_LINEAR)`` does both. Outside the source image the canvas is 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict

from gaitprep.errors import BadInputError
from gaitprep.frame_ids import pair_ids
from gaitprep.heatmaps.spec import HeatmapSpec
from gaitprep.keypoints import check_pose, frame_transforms
from gaitprep.skeleton import NUM_JOINTS

PAIRING_POLICY = "equal_count_by_index"


class FramePairing(BaseModel):
    """How silhouette frames and pose frames of one sequence are paired (recorded in the manifest).

    ``policy = "equal_count_by_index"``: both modalities must have the same number of frames, counted
    before any frame is dropped, and frame i of one is frame i of the other.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)  # finite numbers only

    policy: Literal["equal_count_by_index"] = PAIRING_POLICY
    n_frames: int


def pair_frames(sil_frames: int, pose_frames: int, seq_name: str) -> FramePairing:
    """Pair a sequence's silhouette and pose frames, or refuse naming the sequence.

    sil_frames, pose_frames: frame counts (T) of the raw masks and of the pose array. Counts that differ
    cannot be paired without guessing which frames are missing, so they raise BadInputError; so does a
    sequence with no frames.
    """
    for what, n in (("silhouette", sil_frames), ("pose", pose_frames)):
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise BadInputError(f"{what} frame count must be a non-negative integer, got {n!r}", seq_name)
    if sil_frames != pose_frames:
        raise BadInputError(
            f"sequence {seq_name} has {sil_frames} silhouette frames but {pose_frames} pose frames; "
            "frames cannot be paired when the counts differ",
            seq_name,
        )
    if sil_frames == 0:
        raise BadInputError(f"sequence {seq_name} has no frames", seq_name)
    return FramePairing(n_frames=int(sil_frames))


@dataclass(frozen=True)
class NamePairing:
    """Mask and pose frames paired by frame number: ``sil_index[k]`` pairs with ``pose_index[k]`` (int64,
    increasing); ``unpaired`` counts the frames of one side without a partner, by reason."""

    sil_index: np.ndarray
    pose_index: np.ndarray
    unpaired: dict[str, int]


def pair_by_name(sil_numbers: np.ndarray, pose_numbers: np.ndarray) -> NamePairing:
    """Pair frames whose file names carry the same number (``12.png`` with ``000012.json``).

    sil_numbers: int ``(T_s,)`` frame numbers of the masks; pose_numbers: int ``(T_p,)`` of the pose
    frames kept by the reader (frames with no person are already gone). Frames present on both sides are
    kept in the masks' reading order; the others are counted as ``no_pose_frame`` (a mask whose pose frame is absent or
    held no person) and ``no_silhouette_frame`` (a pose frame without a mask). A number written twice on
    one side (``1.png`` and ``01.png``) is refused: it cannot be paired without guessing.
    """
    s = np.asarray(sil_numbers, dtype=np.int64)
    p = np.asarray(pose_numbers, dtype=np.int64)
    for what, a in (("silhouette", s), ("pose", p)):
        if np.unique(a).size != a.size:
            raise BadInputError(f"two {what} frame files carry the same frame number; cannot pair by name")
    si, pi = pair_ids(s, p)  # in the masks' reading order
    unpaired = {"no_pose_frame": int(s.size - si.size), "no_silhouette_frame": int(p.size - si.size)}
    return NamePairing(si, pi, {k: v for k, v in unpaired.items() if v})


def _place_frame(frame: np.ndarray, cx: float, cy: float, s: float, canvas: int) -> np.ndarray:
    """One mask ``(H, W)`` uint8 -> ``(canvas, canvas)`` uint8 under q = (p - (cx, cy)) * s + canvas // 2."""
    half = canvas // 2
    if s >= 1.0:
        m = np.array([[s, 0.0, half - s * cx], [0.0, s, half - s * cy]])
        return cv2.warpAffine(
            frame, m, (canvas, canvas), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
    # Crop (zero-padded) the source window that maps onto the canvas, with a margin for the area boxes
    # and the bilinear shift, so the shrink costs O(canvas^2 / s^2) whatever the camera resolution.
    margin = 2.0 / s + 2.0
    x0 = math.floor(cx - half / s - margin)
    y0 = math.floor(cy - half / s - margin)
    x1 = math.ceil(cx + (canvas - half) / s + margin) + 1
    y1 = math.ceil(cy + (canvas - half) / s + margin) + 1
    h, w = frame.shape
    crop = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    sy0, sy1, sx0, sx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if sy0 < sy1 and sx0 < sx1:
        crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    small = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    # small pixel r holds crop position (r + 0.5) / s - 0.5, i.e. image position that + (x0, y0); so
    # q = r + 0.5 - 0.5 s + ((x0, y0) - centre) s + half.
    tx = half + 0.5 - 0.5 * s + (x0 - cx) * s
    ty = half + 0.5 - 0.5 * s + (y0 - cy) * s
    m = np.array([[1.0, 0.0, tx], [0.0, 1.0, ty]])
    return cv2.warpAffine(
        small, m, (canvas, canvas), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def register_silhouettes(
    frames: np.ndarray,
    pose: np.ndarray,
    *,
    scale_mode: str = "per_sequence",
    span_joints: tuple[int, ...] = tuple(range(NUM_JOINTS)),
    canvas: int = 128,
    size: int = 64,
    spec: HeatmapSpec | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Crop and scale raw masks with the skeleton maps' hip-centred full-canvas box.

    frames: ``(T, H, W)`` uint8 raw camera-resolution masks (0 background, 255 person); pose:
    ``(T, 17, 3)`` x, y in the same image pixels, and c. ``scale_mode``, ``span_joints`` and ``canvas``
    are passed to :func:`gaitprep.keypoints.frame_transforms` and must equal the skeleton-map export's.
    With ``spec`` (a full-canvas :class:`~gaitprep.heatmaps.spec.HeatmapSpec`) the pose is cleaned and placed
    by :func:`gaitprep.heatmaps.sequence_geometry`, exactly as the maps of that spec are (gap filling,
    placement, smoothed scale, margins), and ``canvas``/``size`` come from the spec; the other geometry
    arguments are then ignored.

    Returns ``(sil, valid)``: sil ``(T, size, size)`` uint8 greyscale (edges are interpolated, not
    binary) and valid ``(T,)`` bool, False where frame_transforms found no usable centre or scale (zero
    or non-finite span, a missing hip; that frame of sil is all 0). Nothing is dropped here: T in equals
    T out. Raises BadInputError for a wrong dtype or shape, differing frame counts (use
    :func:`pair_frames` first to get the sequence named), T = 0 or a non-finite pose.
    """
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 3:
        got = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames).__name__
        raise BadInputError(f"silhouette frames must be a uint8 (T, H, W) array, got {got}")
    pose = check_pose(pose)  # (T, 17, 3) float64, T >= 1, finite
    if frames.shape[0] != pose.shape[0]:
        raise BadInputError(f"{frames.shape[0]} silhouette frames but {pose.shape[0]} pose frames")
    if spec is not None:
        if spec.crop != "full_canvas":
            raise BadInputError(
                f"silhouettes can only be registered with full-canvas skeleton maps (crop={spec.crop!r})"
            )
        canvas, size = spec.canvas, spec.size
    if not (isinstance(canvas, int) and isinstance(size, int) and 0 < size <= canvas and canvas % size == 0):
        raise BadInputError(f"canvas ({canvas}) must be a positive multiple of size ({size})")

    if spec is not None:
        from gaitprep.heatmaps import sequence_geometry

        geo = sequence_geometry(spec, pose)
        centre, scale, valid = geo.centre, geo.scale, geo.valid
    else:
        centre, scale, valid = frame_transforms(
            pose, scale_mode=scale_mode, span_joints=span_joints, canvas=canvas
        )
    valid = np.asarray(valid, dtype=bool) & np.isfinite(centre).all(axis=1) & np.isfinite(scale) & (scale > 0)

    out = np.zeros((frames.shape[0], size, size), dtype=np.uint8)
    for t in np.flatnonzero(valid):
        placed = _place_frame(frames[t], float(centre[t, 0]), float(centre[t, 1]), float(scale[t]), canvas)
        out[t] = placed if size == canvas else cv2.resize(placed, (size, size), interpolation=cv2.INTER_AREA)
    return out, valid
