"""A synthetic subject: body proportions, build, gait amplitudes and the class's postural asymmetry.

:func:`make_subject` draws one :class:`SubjectParams` (the walker, :mod:`gaitprep.synth.walker`, moves it):
height ~1.60 m, segment lengths as anthropometric fractions of height with per-subject jitter, limb
thickness from a per-subject build factor, walking speed and stride frequency, gait amplitudes, and the
asymmetry drawn from the class:

============  =====================================  ==================  ==================
class         shoulder height difference (param.)    trunk lean          pelvic tilt
============  =====================================  ==================  ==================
positive      N(3.5 %, 0.9 %) of body height         N(3.0°, 1.2°)       N(2.0°, 0.8°)
neutral       N(1.6 %, 0.5 %)                        N(1.5°, 0.8°)       N(1.0°, 0.5°)
negative      abs(N(0, 0.5 %))                       abs(N(0, 0.7°))     abs(N(0, 0.5°))
============  =====================================  ==================  ==================

Which shoulder is high, and which hip, is random per subject.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gaitprep.skeleton import canonical_class

# Per-class asymmetry distributions: (mean, sd) of shoulder difference (fraction of height), trunk lean
# (degrees) and pelvic tilt (degrees); negative draws the absolute value of a zero-mean normal.
_ASYMMETRY: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "positive": ((0.035, 0.009), (3.0, 1.2), (2.0, 0.8)),
    "neutral": ((0.016, 0.005), (1.5, 0.8), (1.0, 0.5)),
    "negative": ((0.0, 0.005), (0.0, 0.7), (0.0, 0.5)),
}


@dataclass(frozen=True)
class SubjectParams:
    """One synthetic subject. Lengths and radii in metres, angles in radians, speed in m/s."""

    label: str
    height: float
    # skeleton
    hip_half_width: float
    shoulder_half_width: float
    trunk_length: float
    neck_length: float
    thigh: float
    shank: float
    ankle_height: float
    foot: float
    upper_arm: float
    forearm: float
    # body thickness (capsule radii, torso box)
    r_upper_arm: float
    r_forearm: float
    r_thigh: float
    r_shank: float
    r_foot: float
    r_neck: float
    head_rx: float
    head_ry: float
    torso_depth: float
    torso_margin_shoulder: float
    torso_margin_hip: float
    # gait
    speed: float
    stride_freq: float
    hip_offset: float
    hip_amp: float
    knee_min: float
    knee_stance: float
    knee_swing: float
    arm_swing: float
    arm_abduction: float
    elbow_flex: float
    pelvis_rotation: float
    thorax_rotation: float
    trunk_sway: float
    forward_lean: float
    # postural asymmetry
    shoulder_diff: float  # explicit shoulder height difference, fraction of height
    trunk_lean: float  # frontal-plane trunk lean
    pelvic_tilt: float  # frontal-plane pelvic obliquity
    side: int  # +1: left shoulder high (trunk top leans right), -1: mirrored
    pelvis_side: int  # +1: left hip high


def _normal(rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float) -> float:
    return float(np.clip(rng.normal(mean, sd), lo, hi))


def make_subject(rng: np.random.Generator, label: str) -> SubjectParams:
    """Draw one subject of class ``label`` (``negative``, ``neutral`` or ``positive``, any case)."""
    label = canonical_class(label)
    h = _normal(rng, 1.60, 0.08, 1.38, 1.85)
    j = rng.normal(1.0, 0.025, size=10).clip(0.93, 1.07)  # per-segment proportion jitter
    build = float(rng.uniform(0.85, 1.2))
    sh_mean, lean_mean, tilt_mean = _ASYMMETRY[label]
    if label == "negative":
        shoulder_diff = abs(rng.normal(0.0, sh_mean[1]))
        lean = abs(rng.normal(0.0, lean_mean[1]))
        tilt = abs(rng.normal(0.0, tilt_mean[1]))
    else:
        shoulder_diff = max(0.0, rng.normal(*sh_mean))
        lean = max(0.0, rng.normal(*lean_mean))
        tilt = max(0.0, rng.normal(*tilt_mean))
    side = 1 if rng.random() < 0.5 else -1
    pelvis_side = 1 if rng.random() < 0.5 else -1
    deg = math.radians
    return SubjectParams(
        label=label,
        height=h,
        hip_half_width=0.5 * 0.18 * h * j[0],
        shoulder_half_width=0.5 * 0.245 * h * j[1],
        trunk_length=0.295 * h * j[2],
        neck_length=0.115 * h * j[3],
        thigh=0.242 * h * j[4],
        shank=0.242 * h * j[5],
        ankle_height=0.036 * h,
        foot=0.13 * h * j[6],
        upper_arm=0.186 * h * j[7],
        forearm=0.146 * h * j[8],
        r_upper_arm=0.026 * h * build,
        r_forearm=0.020 * h * build,
        r_thigh=0.042 * h * build,
        r_shank=0.029 * h * build,
        r_foot=0.020 * h,
        r_neck=0.030 * h * build,
        head_rx=0.050 * h * j[9],
        head_ry=0.065 * h * j[9],
        torso_depth=0.12 * h * build,
        torso_margin_shoulder=0.015 * h * build,
        torso_margin_hip=0.035 * h * build,
        speed=float(rng.uniform(0.95, 1.35)),
        stride_freq=float(rng.uniform(0.85, 1.0)),
        hip_offset=deg(_normal(rng, 8.0, 2.0, 3.0, 13.0)),
        hip_amp=deg(_normal(rng, 20.0, 2.0, 15.0, 25.0)),
        knee_min=deg(_normal(rng, 5.0, 1.5, 1.0, 10.0)),
        knee_stance=deg(_normal(rng, 12.0, 3.0, 4.0, 20.0)),
        knee_swing=deg(_normal(rng, 55.0, 4.0, 45.0, 65.0)),
        arm_swing=deg(_normal(rng, 16.0, 4.0, 6.0, 26.0)),
        arm_abduction=deg(_normal(rng, 7.0, 1.5, 4.0, 11.0)),
        elbow_flex=deg(_normal(rng, 18.0, 4.0, 8.0, 30.0)),
        pelvis_rotation=deg(_normal(rng, 4.0, 1.0, 1.5, 7.0)),
        thorax_rotation=deg(_normal(rng, 5.0, 1.5, 1.5, 9.0)),
        trunk_sway=deg(_normal(rng, 1.5, 0.4, 0.5, 2.5)),
        forward_lean=deg(_normal(rng, 3.0, 1.5, 0.0, 7.0)),
        shoulder_diff=float(shoulder_diff),
        trunk_lean=deg(float(lean)),
        pelvic_tilt=deg(float(tilt)),
        side=side,
        pelvis_side=pelvis_side,
    )
