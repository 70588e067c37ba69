"""COCO-17 joints, the upstream limb list, named joint sets and the canonical class order.

Domain reference §1.2 and §2. Everything here is data; nothing reads files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from gaitprep.errors import BadInputError

COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
NUM_JOINTS = 17
LEFT_HIP, RIGHT_HIP = 11, 12
LEFT_SHOULDER, RIGHT_SHOULDER = 5, 6

# The 17 upstream edges in upstream order (OpenGait pretreatment_heatmap.py). No (5, 6) edge.
UPSTREAM_LIMBS: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8),
    (8, 10), (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12),
)  # fmt: skip

# Left/right pairs used by the PAV, head to feet: eyes, ears, shoulders, elbows, wrists, hips, knees, ankles.
LR_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)  # fmt: skip
PAIR_NAMES: tuple[str, ...] = ("eyes", "ears", "shoulders", "elbows", "wrists", "hips", "knees", "ankles")

SHOULDER_EDGE = (5, 6)


@dataclass(frozen=True)
class JointSet:
    """A named subset of COCO-17 joints and the limbs drawn among them."""

    name: str
    joints: tuple[int, ...]
    limbs: tuple[tuple[int, int], ...]

    def with_shoulder_edge(self) -> JointSet:
        if SHOULDER_EDGE in self.limbs:
            return self
        return JointSet(self.name, self.joints, self.limbs + (SHOULDER_EDGE,))


_BODY_JOINTS = tuple(range(5, 17))
_BODY_LIMBS = tuple(limb for limb in UPSTREAM_LIMBS if limb[0] >= 5 and limb[1] >= 5)

JointSetName = Literal["coco17", "body", "head-lite"]
"""The named joint sets: the one declaration that the heatmap spec, recipes and the CLI take them from."""
JOINT_SET_NAMES: tuple[str, ...] = get_args(JointSetName)

JOINT_SETS: dict[str, JointSet] = {
    "coco17": JointSet("coco17", tuple(range(17)), UPSTREAM_LIMBS),
    "body": JointSet("body", _BODY_JOINTS, _BODY_LIMBS),
    # head-lite [decision]: body + nose, the nose hung from both shoulders.
    "head-lite": JointSet("head-lite", (0,) + _BODY_JOINTS, _BODY_LIMBS + ((0, 5), (0, 6))),
}


def joint_set(name: str, shoulder_edge: bool = False) -> JointSet:
    """Return the named joint set, optionally with the (5, 6) shoulder edge added."""
    try:
        js = JOINT_SETS[name]
    except KeyError:
        raise BadInputError(f"unknown joint set {name!r}; expected one of {sorted(JOINT_SET_NAMES)}") from None
    return js.with_shoulder_edge() if shoulder_edge else js


# Canonical class order (current upstream): negative=0, neutral=1, positive=2.
CLASS_ORDER: tuple[str, ...] = ("negative", "neutral", "positive")
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASS_ORDER)}


def canonical_class(folder: str, path: object | None = None) -> str:
    """Map a class folder name to its canonical lowercase name, or fail naming the folder.

    Matching is case-insensitive ("Positive" is positive); anything else ("maybe", "critical") is an error,
    never a silent fallback to class 0.
    """
    name = folder.lower()
    if name not in CLASS_INDEX:
        raise BadInputError(
            f"unknown class folder {folder!r}; expected one of {', '.join(CLASS_ORDER)} (any case)",
            path if path is not None else folder,
        )
    return name
