"""OpenPose BODY_25 keypoints read as COCO-17.

BODY_25 lists 25 joints (75 numbers): 0 nose, 1 neck, 2–4 right shoulder/elbow/wrist, 5–7 left
shoulder/elbow/wrist, 8 mid-hip, 9–11 right hip/knee/ankle, 12–14 left hip/knee/ankle, 15/16 right/left
eye, 17/18 right/left ear, 19–24 feet (big toe, small toe, heel; left then right). COCO-17 is the same
body without the neck, the mid-hip and the feet, in another order; :data:`BODY25_TO_COCO17` gives, for
each COCO-17 joint, the BODY_25 joint it is read from. Neck, mid-hip and the six foot points are dropped.
"""

from __future__ import annotations

import numpy as np

BODY25_NUMBERS = 75
COCO17_NUMBERS = 51

# COCO-17 joint j is BODY_25 joint BODY25_TO_COCO17[j].
BODY25_TO_COCO17: tuple[int, ...] = (
    0,  # nose
    16, 15,  # left eye, right eye
    18, 17,  # left ear, right ear
    5, 2,  # left shoulder, right shoulder
    6, 3,  # left elbow, right elbow
    7, 4,  # left wrist, right wrist
    12, 9,  # left hip, right hip
    13, 10,  # left knee, right knee
    14, 11,  # left ankle, right ankle
)  # fmt: skip
DROPPED_BODY25: tuple[int, ...] = (1, 8, 19, 20, 21, 22, 23, 24)  # neck, mid-hip, feet


def body25_to_coco17(person: np.ndarray) -> np.ndarray:
    """``(25, 3)`` BODY_25 x, y, c -> ``(17, 3)`` COCO-17 (a copy)."""
    return np.asarray(person)[list(BODY25_TO_COCO17)].copy()
