"""Real human walking for tests: LaFAN1 motion capture → COCO-17 keypoints as Scoliosis1K films them.

Source (``shared/reference/real-walking-data.md`` §1): the LaFAN1 take ``testBvhFiles/test.bvh`` inside the
``bvhtools==1.6.0`` sdist, 7184 frames at 30 fps, Y up, centimetres. **Licence**: the package is MIT but the
motion is Ubisoft La Forge's LaFAN1, CC BY-NC-ND 4.0: it is downloaded at test time into a user cache
(:func:`gaitprep.synth.lafan1.fetch_lafan1_bvh`) and never committed, nor are arrays or pictures derived
from it.

Conversion (:func:`walking_sequences`), one sequence per clean forward-walking run (:data:`WALKING_RUNS`):

1. **Forward kinematics** of the BVH (:mod:`gaitprep.synth.bvh`).
2. **Heading**: the subject's left is the horizontal direction of the hip line ``LeftUpLeg − RightUpLeg``,
   forward = left × up. Its yaw is unwrapped and smoothed by a centred moving average over
   ``smooth_seconds`` (≈ 1 s, shrinking symmetrically at the run's ends so a steady turn is followed
   exactly). The path origin is the root's horizontal position smoothed the same way. Each frame is
   expressed in that smoothed frame (forward, left, up), so the curved capture path becomes a straight
   walk while the pelvic rotation and the lateral sway of each stride stay.
3. **Distance**: ``travel=False`` keeps the smoothed origin at ``distance`` cm from the camera
   (treadmill-like: the forward travel is removed, the in-stride motion stays); ``travel=True`` keeps the
   real forward progress along the path: the subject walks toward (front) or away from (back) the camera,
   and the frames whose origin lies between ``near`` and ``far`` cm are kept (the middle of the run), so
   the body's image height changes about 1.9-fold (≈ 200 → 370 px with the defaults).
4. **COCO-17** (COCO's left is the subject's left in every view): shoulders = ``*Arm``, elbows =
   ``*ForeArm``, wrists = ``*Hand``, hips = ``*UpLeg`` widened ``hip_widening`` (1.2) times about their
   midpoint [decision: detectors trained on COCO place the hips wider than the joint centres, ≈ 21 cm
   apart here], knees = ``*Leg``, ankles = ``*Foot``. The face is synthesised from the ``Head`` joint's
   position and rotation (its local axes are x up, y forward, z left): nose 10 cm forward, eyes 8 cm
   forward and ± 3 cm sideways, ears ± 7.5 cm sideways.
5. **Camera**: pinhole at ``camera_height`` (100 cm), looking horizontally along the walking line, focal
   ``focal`` (1100 px), principal point at the centre of a 1280×720 image. Front view: the subject walks
   toward the camera (its left on the image right); back view: away from it (its left on the image left).
6. **Confidences** (deterministic, seeded by ``(seed, view, travel, run)``): N(0.90, 0.03) clipped to
   [0.75, 0.99]; in the back view the five face points U(0.3, 0.5); an elbow or wrist hidden behind the
   torso (farther from the camera than the torso and inside its outline) N(0.5, 0.03). Coordinates are
   rounded to 1/1000 px and confidences to 1e-4 (so JSON text and pickles hold the same numbers).

:func:`silhouettes_from_pose` draws a plausible body mask around a pose (limb capsules, torso polygon,
head disc) so that silhouette code sees real motion too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.synth.bvh import BvhMotion, parse_bvh, world_transforms
from gaitprep.synth.lafan1 import fetch_lafan1_bvh

# Clean forward-walking runs of the LaFAN1 take, as half-open BVH frame ranges [start, stop).
WALKING_RUNS: tuple[tuple[int, int], ...] = ((3924, 4203), (2631, 2807), (5370, 5508), (6116, 6330))

IMAGE_SIZE = (1280, 720)  # (W, H) pixels
VIEWS: tuple[str, ...] = ("front", "back")

# COCO-17 index -> BVH joint (None: synthesised face point).
COCO_FROM_BVH: tuple[str | None, ...] = (
    None, None, None, None, None,
    "LeftArm", "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand",
    "LeftUpLeg", "RightUpLeg", "LeftLeg", "RightLeg", "LeftFoot", "RightFoot",
)  # fmt: skip
# Face points in the Head joint's local frame (x up, y forward, z left), cm: nose, eyes, ears.
FACE_OFFSETS_CM = np.array(
    [
        [0.0, 10.0, 0.0],  # nose
        [0.0, 8.0, 3.0],  # left eye
        [0.0, 8.0, -3.0],  # right eye
        [0.0, 0.0, 7.5],  # left ear
        [0.0, 0.0, -7.5],  # right ear
    ]
)
_ARM_JOINTS = (7, 8, 9, 10)  # elbows, wrists: the joints a torso can hide


@dataclass(frozen=True, eq=False)
class RealWalk:
    """One real walking sequence as a pose detector would report it.

    ``name``: e.g. ``lafan1-3924-4202-front-fixed``. ``pose``: float64 ``(T, 17, 3)``, COCO-17 order,
    ``x, y`` pixels in a 1280×720 image and a confidence in (0, 1). ``source_frames``: the BVH frame
    range ``(start, stop)``, half-open, that the ``T`` frames come from. ``view``: ``"front"`` or
    ``"back"``; ``travel``: whether the real forward travel was kept. ``distance``: float64 ``(T,)`` cm
    from the camera to the subject's smoothed path origin in each frame.
    """

    name: str
    pose: np.ndarray
    source_frames: tuple[int, int]
    view: str = "front"
    travel: bool = False
    distance: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return int(self.pose.shape[0])


# --- conversion -----------------------------------------------------------------------------------------


def load_motion(bvh_path: Path) -> BvhMotion:
    """Read and parse a BVH file (bounded by :data:`gaitprep.synth.bvh.MAX_TEXT_CHARS`)."""
    path = Path(bvh_path)
    stat = path.stat()
    return _load_motion_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _load_motion_cached(path: str, mtime_ns: int, size: int) -> BvhMotion:
    from gaitprep.synth.bvh import MAX_TEXT_CHARS

    if size > MAX_TEXT_CHARS:
        raise BadInputError(f"BVH file is larger than {MAX_TEXT_CHARS} bytes", path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInputError("BVH file is not UTF-8 text", path) from None
    try:
        return parse_bvh(text)
    except BadInputError as exc:
        raise BadInputError(str(exc), path) from None


def centred_mean(x: np.ndarray, half: int) -> np.ndarray:
    """Centred moving average along axis 0 over ``2 * half + 1`` frames, the window shrinking
    symmetrically at both ends (so a linear trend passes unchanged). ``x``: float ``(T, ...)``."""
    x = np.asarray(x, dtype=np.float64)
    t = x.shape[0]
    csum = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])
    idx = np.arange(t)
    k = np.minimum(np.minimum(idx, t - 1 - idx), half)
    lo, hi = idx - k, idx + k + 1
    count = (hi - lo).reshape((t,) + (1,) * (x.ndim - 1))
    return (csum[hi] - csum[lo]) / count


def _coco_world(
    positions: dict[str, np.ndarray], rotations: dict[str, np.ndarray], hip_widening: float
) -> np.ndarray:
    """float64 ``(T, 17, 3)`` COCO-17 points in the BVH world (cm, Y up)."""
    t = positions["Hips"].shape[0]
    out = np.empty((t, 17, 3))
    for k, joint in enumerate(COCO_FROM_BVH):
        if joint is not None:
            out[:, k] = positions[joint]
    out[:, 0:5] = positions["Head"][:, None, :] + np.einsum("tij,kj->tki", rotations["Head"], FACE_OFFSETS_CM)
    mid = (out[:, 11] + out[:, 12]) / 2
    half = (out[:, 11] - out[:, 12]) / 2
    out[:, 11] = mid + hip_widening * half
    out[:, 12] = mid - hip_widening * half
    return out


def _canonical(
    positions: dict[str, np.ndarray], points: np.ndarray, fps: float, smooth_seconds: float
) -> tuple[np.ndarray, np.ndarray]:
    """Express ``points`` ``(T, K, 3)`` in the smoothed walking frame: ``(forward, left, up)`` cm relative to
    the smoothed path origin, and the forward progress of that origin ``(T,)`` cm from the first frame."""
    hip_line = positions["LeftUpLeg"] - positions["RightUpLeg"]
    # left = (lx, lz) horizontal; forward = left x up = (-lz, lx) in (x, z).
    fx, fz = -hip_line[:, 2], hip_line[:, 0]
    yaw = np.unwrap(np.arctan2(fx, fz))
    half = max(0, int(round(smooth_seconds * fps / 2)))
    yaw_s = centred_mean(yaw, half)
    forward = np.stack([np.sin(yaw_s), np.cos(yaw_s)], axis=1)  # (x, z)
    left = np.stack([np.cos(yaw_s), -np.sin(yaw_s)], axis=1)
    origin = centred_mean(positions["Hips"][:, [0, 2]], half)
    rel = points[..., [0, 2]] - origin[:, None, :]
    fwd = np.einsum("tkc,tc->tk", rel, forward)
    lat = np.einsum("tkc,tc->tk", rel, left)
    step = np.diff(origin, axis=0)
    progress = np.concatenate([[0.0], np.cumsum(np.einsum("tc,tc->t", step, forward[1:]))])
    return np.stack([fwd, lat, points[..., 1]], axis=-1), progress


def _confidences(cam: np.ndarray, view: str, rng: np.random.Generator) -> np.ndarray:
    """Detector-like confidences ``(T, 17)`` for camera-frame points ``cam`` ``(T, 17, 3)`` =
    (right, up, depth) cm."""
    t = cam.shape[0]
    conf = np.clip(rng.normal(0.90, 0.03, size=(t, 17)), 0.75, 0.99)
    face = rng.uniform(0.3, 0.5, size=(t, 5))
    hidden_conf = np.clip(rng.normal(0.5, 0.03, size=(t, 17)), 0.35, 0.65)
    if view == "back":
        conf[:, :5] = face
    shoulders, hips = cam[:, 5:7], cam[:, 11:13]
    torso_depth = (shoulders[..., 2].mean(axis=1) + hips[..., 2].mean(axis=1)) / 2
    centre_x = (shoulders[..., 0].mean(axis=1) + hips[..., 0].mean(axis=1)) / 2
    half_width = np.abs(shoulders[:, 0, 0] - shoulders[:, 1, 0]) / 2
    top = shoulders[..., 1].mean(axis=1)
    bottom = hips[..., 1].mean(axis=1)
    for k in _ARM_JOINTS:
        behind = cam[:, k, 2] > torso_depth + 5.0
        inside = np.abs(cam[:, k, 0] - centre_x) < 0.9 * half_width
        level = (cam[:, k, 1] < top) & (cam[:, k, 1] > bottom - 10.0)
        hidden = behind & inside & level
        conf[hidden, k] = hidden_conf[hidden, k]
    return conf


def walking_sequences(
    bvh_path: Path,
    view: Literal["front", "back"],
    travel: bool,
    *,
    runs: Sequence[tuple[int, int]] = WALKING_RUNS,
    focal: float = 1100.0,
    camera_height: float = 100.0,
    distance: float = 500.0,
    near: float = 440.0,
    far: float = 820.0,
    hip_widening: float = 1.2,
    smooth_seconds: float = 1.0,
    seed: int = 0,
) -> list[RealWalk]:
    """One :class:`RealWalk` per run of ``runs`` (half-open BVH frame ranges), seen from ``view``.

    ``travel=False``: constant ``distance`` (cm) from the camera. ``travel=True``: the real forward travel,
    frames whose path origin lies between ``near`` and ``far`` cm (front: approaching, back: receding).
    Every point lies inside the 1280×720 image with the defaults. See the module docstring for the steps.
    """
    if view not in VIEWS:
        raise BadInputError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    if not 0 < near < far or distance <= 0 or focal <= 0:
        raise BadInputError("need 0 < near < far, distance > 0 and focal > 0")
    motion = load_motion(bvh_path)
    fps = 1.0 / motion.frame_time
    width, height = IMAGE_SIZE
    sign = 1.0 if view == "front" else -1.0  # front: the subject faces the camera
    walks: list[RealWalk] = []
    for r, (start, stop) in enumerate(runs):
        if not 0 <= start < stop <= motion.n_frames:
            raise BadInputError(f"run {start}-{stop} is outside the take's {motion.n_frames} frames")
        positions, rotations = world_transforms(motion, slice(start, stop))
        points = _coco_world(positions, rotations, hip_widening)
        local, progress = _canonical(positions, points, fps, smooth_seconds)
        if travel:
            mid = (near + far) / 2
            centre = (progress[0] + progress[-1]) / 2
            origin_depth = mid - sign * (progress - centre)
            keep = np.flatnonzero((origin_depth >= near) & (origin_depth <= far))
            if keep.size == 0:
                raise BadInputError(f"run {start}-{stop} never lies between {near} and {far} cm")
            lo, hi = int(keep[0]), int(keep[-1]) + 1
        else:
            origin_depth = np.full(len(progress), float(distance))
            lo, hi = 0, len(progress)
        local, origin_depth = local[lo:hi], origin_depth[lo:hi]
        # Camera frame (right, up, depth) in cm; front: the subject's left is the camera's right.
        cam = np.stack(
            [sign * local[..., 1], local[..., 2], origin_depth[:, None] - sign * local[..., 0]], axis=-1
        )
        x = width / 2 + focal * cam[..., 0] / cam[..., 2]
        y = height / 2 - focal * (cam[..., 1] - camera_height) / cam[..., 2]
        rng = np.random.default_rng([seed, VIEWS.index(view), int(travel), r])
        conf = _confidences(cam, view, rng)
        pose = np.stack([np.round(x, 3), np.round(y, 3), np.round(conf, 4)], axis=-1)
        kind = "travel" if travel else "fixed"
        walks.append(
            RealWalk(
                name=f"lafan1-{start + lo}-{start + hi - 1}-{view}-{kind}",
                pose=pose,
                source_frames=(start + lo, start + hi),
                view=view,
                travel=travel,
                distance=origin_depth.copy(),
            )
        )
    return walks


def load_real_walking(
    cache_dir: Path | None = None, *, seed: int = 0
) -> dict[tuple[str, bool], list[RealWalk]]:
    """``{(view, travel): [RealWalk, ...]}`` for the four camera set-ups (front/back × fixed/travel), one
    walk per run of :data:`WALKING_RUNS`, from the cached take (:func:`fetch_lafan1_bvh`; raises
    :class:`~gaitprep.synth.lafan1.RealWalkingUnavailable` when it cannot be fetched). About 0.4 s once the
    take is cached."""
    path = fetch_lafan1_bvh(cache_dir)
    return {
        (view, travel): walking_sequences(path, view, travel, seed=seed)  # type: ignore[arg-type]
        for view in VIEWS
        for travel in (False, True)
    }


# --- silhouettes ----------------------------------------------------------------------------------------

_SHIFT = 4  # cv2 sub-pixel drawing: coordinates in 1/16 pixel
_ONE = 1 << _SHIFT
TORSO_CM = 50.0  # shoulder-midpoint to hip-midpoint length the radii below are relative to
# (a, b, radius in cm) capsules: upper arms, forearms, thighs, shanks.
_CAPSULES: tuple[tuple[int, int, float], ...] = (
    (5, 7, 5.0), (7, 9, 4.0), (6, 8, 5.0), (8, 10, 4.0),
    (11, 13, 8.0), (13, 15, 6.0), (12, 14, 8.0), (14, 16, 6.0),
)  # fmt: skip
_NECK_CM, _HEAD_CM, _FOOT_CM, _TORSO_PAD_CM = 6.0, 10.5, 5.0, 4.0


def _fx(p: np.ndarray) -> tuple[int, int]:
    q = np.round(np.asarray(p, dtype=np.float64) * _ONE).astype(np.int64)
    return int(q[0]), int(q[1])


def silhouettes_from_pose(pose: np.ndarray, image_size: tuple[int, int] = (720, 1280)) -> np.ndarray:
    """Binary body masks uint8 ``(T, H, W)`` (0/255) drawn around COCO-17 poses ``(T, 17, 3)`` (pixels).

    ``image_size``: ``(H, W)``. Sizes scale with each frame's torso length (shoulder midpoint to hip
    midpoint, taken as 50 cm): limb capsules (upper arm 5, forearm 4, thigh 8, shank 6 cm radius), the
    torso quadrilateral padded by 4 cm, a neck capsule, a head disc of 10.5 cm around the ears and eyes
    (raised 4 cm) and a foot capsule from each ankle down to the ground. Confidences are ignored: the
    silhouette is the body, seen or not.
    """
    pose = np.asarray(pose, dtype=np.float64)
    if pose.ndim != 3 or pose.shape[1:] != (17, 3) or not np.isfinite(pose).all():
        raise BadInputError(f"pose must be a finite (T, 17, 3) array, got shape {pose.shape}")
    h, w = image_size
    out = np.zeros((pose.shape[0], h, w), dtype=np.uint8)
    for t, frame in enumerate(pose[..., :2]):
        mask = out[t]
        shoulder_mid = (frame[5] + frame[6]) / 2
        hip_mid = (frame[11] + frame[12]) / 2
        px_per_cm = max(float(np.linalg.norm(shoulder_mid - hip_mid)), 1.0) / TORSO_CM

        def thick(radius_cm: float, scale: float = px_per_cm) -> int:
            return max(1, int(round(2.0 * radius_cm * scale)))

        quad = np.array([frame[5], frame[6], frame[12], frame[11]])
        hull = cv2.convexHull(np.array([_fx(p) for p in quad], dtype=np.int32).reshape(-1, 1, 2))
        cv2.fillConvexPoly(mask, hull, 255, cv2.LINE_8, _SHIFT)
        pad = thick(_TORSO_PAD_CM)
        cv2.polylines(mask, [hull], True, 255, pad, cv2.LINE_8, _SHIFT)
        for a, b, radius in _CAPSULES:
            cv2.line(mask, _fx(frame[a]), _fx(frame[b]), 255, thick(radius), cv2.LINE_8, _SHIFT)
        for ankle in (15, 16):
            ground = frame[ankle] + np.array([0.0, 7.0 * px_per_cm])
            cv2.line(mask, _fx(frame[ankle]), _fx(ground), 255, thick(_FOOT_CM), cv2.LINE_8, _SHIFT)
        head = frame[1:5].mean(axis=0) - np.array([0.0, 4.0 * px_per_cm])
        cv2.line(mask, _fx(shoulder_mid), _fx(head), 255, thick(_NECK_CM), cv2.LINE_8, _SHIFT)
        radius = max(1, int(round(_HEAD_CM * px_per_cm * _ONE)))
        cv2.circle(mask, _fx(head), radius, 255, -1, cv2.LINE_8, _SHIFT)
    return out
