"""A parametric walking adolescent seen by a frontal camera, with label-driven postural asymmetry.

The model is deliberately simple but physically consistent, so that keypoints, silhouettes and the
asymmetry the PAV measures (domain reference §6) all come from one 3-D body:

* **Subject** (:func:`gaitprep.synth.subject.make_subject`): height ~1.60 m, segment lengths, build, gait
  amplitudes and the asymmetry drawn from the class (shoulder height difference, trunk lean, pelvic tilt;
  the table is in :mod:`gaitprep.synth.subject`). The lean rotates the rigid shoulder line too and adds to
  the explicit difference, so the shoulder height difference seen in the image is about 4.8 % / 2.2 % /
  0.6 % of body height on average (positive / neutral / negative), with overlapping tails: a real but
  imperfect signal.
* **Gait** (:func:`walk`): sagittal hip and knee flexion curves, arm swing with elbow flexion, opposite
  pelvic and thoracic rotation, lateral trunk sway at stride frequency, slow postural sway, and a vertical
  bounce that follows from keeping the lower ankle on the ground.
* **Path** [decision, a documented simplification of the ``000_180`` view]: every sequence is one round
  trip on the camera axis: walk toward the camera from 6.5–8 m to 3.3–3.8 m, turn on the spot (about
  1 s, the subject is side-on half-way) and walk away again. The ``n_frames`` frames are spread evenly
  over the whole trip, i.e. a temporally subsampled video (every 5th–8th frame of 30 fps), so a short
  synthetic sequence still shows both facing directions.
* **Camera**: a pinhole at 0.95 m height looking horizontally, focal length 1.45 × image height, principal
  point at the image centre, so a 1.6 m subject is ~70 % of the image height at the near point and
  ~30 % at the far point.

Coordinates: body-local vectors are ``(forward, left, up)`` in metres, left being the subject's own left.
World ``X`` is the camera's right, ``Y`` up, ``Z`` the depth along the optical axis. Image points are
``(x, y)`` pixels, y down; COCO-17 left/right are the subject's sides, so facing the camera the left
shoulder is on the image right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.synth.subject import SubjectParams

# Extra rendering points after the 17 COCO joints in BodyGeometry.points.
NECK, HEAD, LEFT_TOE, RIGHT_TOE = 17, 18, 19, 20
NUM_POINTS = 21

# Capsules drawn for the silhouette, as (point a, point b) into BodyGeometry.points.
SEGMENTS: tuple[tuple[int, int], ...] = (
    (5, 7), (7, 9), (6, 8), (8, 10),            # upper arms, forearms
    (11, 13), (13, 15), (12, 14), (14, 16),     # thighs, shanks
    (15, LEFT_TOE), (16, RIGHT_TOE),            # feet
    (NECK, HEAD),                               # neck
)  # fmt: skip

# Camera [decision]: see the module docstring.
CAMERA_HEIGHT_M = 0.95
FOCAL_PER_IMAGE_HEIGHT = 1.45

# Face points relative to the head centre, (forward, left, up) in units of body height.
_FACE_OFFSETS = np.array(
    [
        [0.055, 0.0, -0.010],  # nose
        [0.045, 0.020, 0.005],  # left eye
        [0.045, -0.020, 0.005],  # right eye
        [-0.005, 0.047, 0.000],  # left ear
        [-0.005, -0.047, 0.000],  # right ear
    ]
)


@dataclass(frozen=True)
class BodyGeometry:
    """Everything :func:`render_silhouette` needs, per frame, in image pixels.

    ``points``: ``float64 (T, 21, 2)``: the 17 COCO joints (true, noise-free), then neck base, head
    centre, left toe, right toe. ``radii``: ``float64 (T, len(SEGMENTS))`` capsule radii.
    ``torso``: ``float64 (T, 8, 2)``: projected corners of the torso box (filled as their convex hull).
    ``head_axes``: ``float64 (T, 2)``: head ellipse half-width and half-height. ``depth``: ``float64 (T,)``
    distance of the pelvis from the camera in metres. ``facing_camera``: ``bool (T,)``.
    ``image_size``: ``(W, H)``.
    """

    image_size: tuple[int, int]
    points: np.ndarray
    radii: np.ndarray
    torso: np.ndarray
    head_axes: np.ndarray
    depth: np.ndarray
    facing_camera: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.points.shape[0])


# --- small vector helpers over (..., 3) arrays in (forward, left, up) -------------------------------


def _rot_up(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate about the vertical axis; a positive angle brings the right side forward."""
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]
    a, b, z = v[..., 0:1], v[..., 1:2], v[..., 2:3]
    return np.concatenate([a * c - b * s, a * s + b * c, z], axis=-1)


def _rot_front(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate in the frontal plane; a positive angle raises the left side (the top moves right)."""
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]
    a, b, z = v[..., 0:1], v[..., 1:2], v[..., 2:3]
    return np.concatenate([a, b * c - z * s, b * s + z * c], axis=-1)


def _down_dir(theta: np.ndarray, lateral: float | np.ndarray = 0.0) -> np.ndarray:
    """Unit vector pointing down, swung forward by ``theta`` and outward by ``lateral`` (left positive)."""
    cl = np.cos(lateral)
    return np.stack(
        [np.sin(theta) * cl, np.broadcast_to(np.sin(lateral), np.shape(theta)), -np.cos(theta) * cl], axis=-1
    )


def _bump(phase: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = (phase - centre + 0.5) % 1.0 - 0.5
    return np.exp(-0.5 * (d / width) ** 2)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _body_local(s: SubjectParams, phase: np.ndarray, posture_noise: np.ndarray) -> np.ndarray:
    """Joint positions in the body frame, ``(T, 21, 3)`` metres (forward, left, up), feet on the ground."""
    T = phase.shape[0]
    h = s.height
    two_pi = 2 * np.pi
    cyc = np.cos(two_pi * phase)
    pts = np.zeros((T, NUM_POINTS, 3))

    # Pelvis: transverse rotation (right hip forward at right heel strike), frontal obliquity, lateral sway.
    rho_p = s.pelvis_rotation * cyc
    tau = s.pelvis_side * s.pelvic_tilt + 0.3 * s.trunk_sway * np.sin(two_pi * phase)
    centre = np.zeros((T, 3))
    centre[:, 1] = 0.02 * np.sin(two_pi * phase)  # weight shifts over the stance leg
    for idx, sign in ((11, 1.0), (12, -1.0)):
        off = np.tile([0.0, sign * s.hip_half_width, 0.0], (T, 1))
        pts[:, idx] = centre + _rot_up(_rot_front(off, tau), rho_p)

    # Legs: sagittal hip and knee flexion; the left leg is half a stride behind the right.
    for hip, knee, ankle, toe, shift in ((12, 14, 16, RIGHT_TOE, 0.0), (11, 13, 15, LEFT_TOE, 0.5)):
        ph = phase + shift
        th_hip = s.hip_offset + s.hip_amp * np.cos(two_pi * ph)
        th_knee = s.knee_min + s.knee_stance * _bump(ph, 0.13, 0.07) + s.knee_swing * _bump(ph, 0.72, 0.11)
        pts[:, knee] = pts[:, hip] + s.thigh * _down_dir(th_hip)
        pts[:, ankle] = pts[:, knee] + s.shank * _down_dir(th_hip - th_knee)
        pts[:, toe] = pts[:, ankle] + np.array([s.foot, 0.0, -0.6 * s.ankle_height])

    # Trunk: lateral lean (the class signal) + sway at stride frequency + slow postural noise.
    lam = s.side * s.trunk_lean + s.trunk_sway * np.sin(two_pi * phase) + posture_noise
    up = np.tile([np.sin(s.forward_lean), 0.0, np.cos(s.forward_lean)], (T, 1))
    neck = centre + s.trunk_length * _rot_front(up, lam)
    pts[:, NECK] = neck
    rho_t = -s.thorax_rotation * cyc
    half_diff = 0.5 * s.side * s.shoulder_diff * h
    for idx, sign in ((5, 1.0), (6, -1.0)):
        off = np.tile([0.0, sign * s.shoulder_half_width, sign * half_diff], (T, 1))
        pts[:, idx] = neck + _rot_up(_rot_front(off, lam), rho_t)

    # Arms: swing opposite to the same-side leg, elbows flex more when the arm is forward.
    for sh, el, wr, sign in ((6, 8, 10, -1.0), (5, 7, 9, 1.0)):
        alpha = sign * s.arm_swing * cyc
        beta = s.elbow_flex + 0.5 * np.maximum(alpha, 0.0)
        lateral = sign * s.arm_abduction
        pts[:, el] = pts[:, sh] + s.upper_arm * _down_dir(alpha, lateral)
        pts[:, wr] = pts[:, el] + s.forearm * _down_dir(alpha + beta, lateral)

    # Head: kept level (righting reflex), turned with half the thoracic rotation.
    head = neck + np.array([0.02 * h, 0.0, s.neck_length])
    pts[:, HEAD] = head
    face = np.broadcast_to(_FACE_OFFSETS * h, (T, 5, 3))
    pts[:, 0:5] = head[:, None, :] + _rot_up(face, np.repeat(0.5 * rho_t[:, None], 5, axis=1))

    # Ground contact: the lower ankle sits at ankle height; this also produces the vertical bounce.
    ground = np.minimum(pts[:, 15, 2], pts[:, 16, 2]) - s.ankle_height
    pts[..., 2] -= ground[:, None]
    return pts


@dataclass(frozen=True)
class _Path:
    root_x: np.ndarray  # (T,) world X of the pelvis, metres
    root_z: np.ndarray  # (T,) world Z (depth), metres
    heading: np.ndarray  # (T,) 0 = facing the camera, ±pi = facing away
    time: np.ndarray  # (T,) seconds


def _path(s: SubjectParams, n_frames: int, rng: np.random.Generator) -> _Path:
    z_far = float(rng.uniform(6.5, 8.0))
    z_near = float(rng.uniform(3.3, 3.8))
    x0 = float(rng.uniform(-0.3, 0.3))
    drift = float(rng.uniform(-0.1, 0.1))
    turn_s = float(rng.uniform(0.8, 1.2))
    turn_dir = 1.0 if rng.random() < 0.5 else -1.0
    leg_s = (z_far - z_near) / s.speed
    total = 2 * leg_s + turn_s
    time = (np.arange(n_frames) + 0.5) * (total / n_frames)
    t_in = np.clip(time, 0.0, leg_s)
    t_out = np.clip(time - leg_s - turn_s, 0.0, leg_s)
    root_z = z_far - s.speed * t_in + s.speed * t_out
    root_x = x0 + drift * (t_in - t_out) / leg_s
    heading = turn_dir * np.pi * _smoothstep((time - leg_s) / turn_s)
    return _Path(root_x=root_x, root_z=root_z, heading=heading, time=time)


def _focal(image_size: tuple[int, int]) -> tuple[float, float, float]:
    width, height = image_size
    return FOCAL_PER_IMAGE_HEIGHT * height, width / 2.0, height / 2.0


def _to_world(local: np.ndarray, path: _Path) -> np.ndarray:
    """(T, K, 3) body-local (forward, left, up) -> (T, K, 3) world (X, Y, Z)."""
    dx, dz = np.sin(path.heading)[:, None], -np.cos(path.heading)[:, None]
    lx, lz = -dz, dx
    a, b, c = local[..., 0], local[..., 1], local[..., 2]
    x = path.root_x[:, None] + a * dx + b * lx
    z = path.root_z[:, None] + a * dz + b * lz
    return np.stack([x, c, z], axis=-1)


def _project(world: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    f, cx, cy = _focal(image_size)
    z = world[..., 2]
    return np.stack([cx + f * world[..., 0] / z, cy - f * (world[..., 1] - CAMERA_HEIGHT_M) / z], axis=-1)


def walk(
    subject: SubjectParams, n_frames: int, image_size: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, BodyGeometry]:
    """Simulate one round trip (toward the camera, turn, away) in ``n_frames`` frames.

    ``image_size`` is ``(W, H)`` in pixels. Returns ``pose``: ``float64 (T, 17, 3)``, noise-free COCO-17
    ``(x, y, confidence)`` in image pixels with confidence 1.0 (every joint is known; see
    :func:`gaitprep.synth.detector.detect` for detector-like noise), and the :class:`BodyGeometry` to
    render silhouettes that agree with it frame by frame.
    """
    if n_frames < 1:
        raise BadInputError(f"n_frames must be >= 1, got {n_frames}")
    width, height = image_size
    if width < 8 or height < 8:
        raise BadInputError(f"image_size must be at least 8x8 pixels, got {image_size}")
    path = _path(subject, n_frames, rng)
    phase0 = float(rng.random())
    phase = phase0 + subject.stride_freq * path.time
    # Slow postural sway: a smoothed random walk of about 0.3 degrees.
    noise = np.cumsum(rng.normal(0.0, math.radians(0.12), n_frames))
    noise -= np.linspace(noise[0], noise[-1], n_frames)
    local = _body_local(subject, phase, noise)
    world = _to_world(local, path)
    img = _project(world, image_size)
    pose = np.concatenate([img[:, :17], np.ones((n_frames, 17, 1))], axis=-1)

    f, _, _ = _focal(image_size)
    s = subject
    seg_radius = np.array(
        [s.r_upper_arm, s.r_forearm, s.r_upper_arm, s.r_forearm,
         s.r_thigh, s.r_shank, s.r_thigh, s.r_shank, s.r_foot, s.r_foot, s.r_neck]
    )  # fmt: skip
    seg_depth = np.stack([0.5 * (world[:, a, 2] + world[:, b, 2]) for a, b in SEGMENTS], axis=1)
    radii = f * seg_radius[None, :] / seg_depth

    # Torso box: shoulder and hip lines widened by a margin, +-half the torso depth front to back.
    corners = []
    for left_idx, right_idx, margin in ((5, 6, s.torso_margin_shoulder), (11, 12, s.torso_margin_hip)):
        lft, rgt = local[:, left_idx], local[:, right_idx]
        across = lft - rgt
        across /= np.linalg.norm(across, axis=-1, keepdims=True)
        for p in (lft + margin * across, rgt - margin * across):
            for sign in (1.0, -1.0):
                corners.append(p + sign * np.array([0.5 * s.torso_depth, 0.0, 0.0]))
    torso_local = np.stack(corners, axis=1)
    torso = _project(_to_world(torso_local, path), image_size)

    head_depth = world[:, HEAD, 2]
    head_axes = np.stack([f * s.head_rx / head_depth, f * s.head_ry / head_depth], axis=-1)
    geometry = BodyGeometry(
        image_size=(int(width), int(height)),
        points=img,
        radii=radii,
        torso=torso,
        head_axes=head_axes,
        depth=world[:, NECK, 2].copy(),
        facing_camera=np.cos(path.heading) > 0,
    )
    return pose, geometry


_SHIFT = 4  # cv2 sub-pixel drawing: coordinates in 1/16 pixel
_ONE = 1 << _SHIFT


def _fixed(p: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(p) * _ONE).astype(np.int32)


def render_silhouette(geometry: BodyGeometry, t: int) -> np.ndarray:
    """Render frame ``t`` as a filled binary mask ``uint8 (H, W)`` with values 0 and 255.

    Torso: convex hull of the projected torso box; limbs, feet and neck: capsules (thick lines with
    round caps) of per-subject radius scaled by depth; head: a filled ellipse.
    """
    width, height = geometry.image_size
    mask = np.zeros((height, width), dtype=np.uint8)
    hull = cv2.convexHull(_fixed(geometry.torso[t]).reshape(-1, 1, 2))
    cv2.fillConvexPoly(mask, hull, 255, cv2.LINE_8, _SHIFT)
    pts = _fixed(geometry.points[t])
    for k, (a, b) in enumerate(SEGMENTS):
        thickness = max(1, int(round(2.0 * geometry.radii[t, k])))
        cv2.line(mask, tuple(map(int, pts[a])), tuple(map(int, pts[b])), 255, thickness, cv2.LINE_8, _SHIFT)
    axes = tuple(int(v) for v in np.maximum(_fixed(geometry.head_axes[t]), _ONE))
    cv2.ellipse(mask, tuple(map(int, pts[HEAD])), axes, 0.0, 0.0, 360.0, 255, -1, cv2.LINE_8, _SHIFT)
    return mask


def render_silhouettes(geometry: BodyGeometry) -> np.ndarray:
    """Render every frame: ``uint8 (T, H, W)`` binary masks (0/255)."""
    return np.stack([render_silhouette(geometry, t) for t in range(geometry.n_frames)])
