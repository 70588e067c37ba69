"""Raw release trees written the way real detectors and segmenters write them, for the reader tests.

A *walk* is ``(pose, masks)``: pose float64 (T, 17, 3) x, y in image pixels and a detector confidence,
masks uint8 (T, H, W) 0/255. Frames are written as ``pose-raw`` JSON (``{"people": [...]}``) and
``sil-raw`` PNG under ``<root>/<layout>/<id>/<class>/<view>/``; each writer takes the per-frame people
lists, so a test can insert a bystander, an all-zero entry or an empty frame exactly where it wants.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from gaitprep.io.body25 import BODY25_TO_COCO17


def frame_name(k: int, padded: bool, first: int = 0) -> str:
    return f"{k + first:06d}" if padded else str(k + first)


def to_body25(person: np.ndarray) -> np.ndarray:
    """COCO-17 ``(17, 3)`` -> BODY_25 ``(25, 3)``: the mapped joints, and made-up neck, mid-hip and feet."""
    out = np.zeros((25, 3))
    for coco, b25 in enumerate(BODY25_TO_COCO17):
        out[b25] = person[coco]
    out[1] = (person[5] + person[6]) / 2  # neck
    out[8] = (person[11] + person[12]) / 2  # mid-hip
    for k in range(19, 25):  # feet near the ankles
        out[k] = person[15 if k < 22 else 16] + (3.0 * (k - 18), 5.0, 0.0)
    return out


def write_pose_frames(
    folder: Path,
    people: Sequence[Sequence[np.ndarray]],
    *,
    padded: bool = True,
    body25: bool = False,
    first: int = 0,
    skip: Sequence[int] = (),
) -> None:
    """One JSON per frame k (``people[k]``: the listed persons, each ``(17, 3)``); frames in ``skip`` get no
    file at all."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, persons in enumerate(people):
        if k in skip:
            continue
        entries = [to_body25(p) if body25 else np.asarray(p) for p in persons]
        doc = {"version": 1.3, "people": [{"pose_keypoints_2d": e.reshape(-1).tolist()} for e in entries]}
        (folder / f"{frame_name(k, padded, first)}.json").write_text(json.dumps(doc))


def write_mask_frames(
    folder: Path, masks: np.ndarray, *, padded: bool = True, first: int = 0, skip: Sequence[int] = ()
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, mask in enumerate(masks):
        if k in skip:
            continue
        ok, png = cv2.imencode(".png", mask)
        assert ok
        (folder / f"{frame_name(k, padded, first)}.png").write_bytes(png.tobytes())


def single(pose: np.ndarray) -> list[list[np.ndarray]]:
    """Per-frame people lists holding just the subject."""
    return [[p] for p in pose]


def bystander_of(pose: np.ndarray, shift_x: float, scale: float = 0.6, conf: float = 0.55) -> np.ndarray:
    """A smaller, less confident person beside the subject: the subject's pose scaled about its hip centre
    and shifted ``shift_x`` pixels sideways."""
    hip = (pose[:, 11, :2] + pose[:, 12, :2]) / 2
    out = pose.copy()
    out[..., :2] = (pose[..., :2] - hip[:, None]) * scale + hip[:, None] + (shift_x, 0.0)
    out[..., 2] = np.where(pose[..., 2] > 0, conf, 0.0)
    return out
