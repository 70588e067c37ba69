"""Which detected person of a frame is the walking subject (domain reference §4.1; OpenGait PR #280).

A pose detector lists everyone it finds, in no promised order: a bystander may come first. Upstream takes
``people[0]`` of every frame, so for those frames its maps and PAVs describe the bystander. Here
(``person = "auto"``) the subject is chosen once and followed:

1. every person gets a size, the diagonal of the bounding box of its valid joints (confidence > 0, finite
   x and y; at least 1 px), a centre (the box centre) and a confidence (the mean over valid joints);
2. the seed is the detection with the largest ``size × confidence`` in the whole sequence (the earliest
   frame and the lowest list index on ties);
3. from the seed, forwards and then backwards in frame order, each frame takes the detection closest to
   the one chosen last: cost ``|centre - centre_prev| / size_prev + |log(size / size_prev)|`` (the lowest
   list index on ties). A walker moves a few hundredths of its size per frame (about 0.02 at 1.2 m/s and
   30 fps), so a best cost above ``MAX_JUMP + WALK_STEP * (frames since the last choice - 1)`` (1 + 0.05
   per extra frame) means the subject was not detected in that frame, only someone else: the frame has no
   subject (``lost``) and the track keeps its last position.

A sequence in which no frame lists several people is read as is (one person per frame, nothing to tell
apart).

So the choice never depends on list order, only on position and size continuity. ``person = "first"``
takes the first listed person, as upstream. Entries whose numbers are all 0 are "no person" and never
chosen (they are removed before this step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gaitprep.errors import BadInputError

# Largest cost that still continues the track from the previous frame, and its growth per extra frame
# since the last choice (see the module docstring).
MAX_JUMP = 1.0
WALK_STEP = 0.05


@dataclass(frozen=True)
class PersonCounts:
    """Per sequence: frames listing more than one person, frames whose chosen person is not the first
    listed entry (where upstream's ``people[0]`` would have read someone else, or an all-zero entry), and
    frames where only people other than the followed subject were detected (``lost``)."""

    multiple: int = 0
    not_first: int = 0
    lost: int = 0

    def as_dict(self) -> dict[str, int]:
        out = {"multiple": self.multiple, "not_first": self.not_first}
        if self.lost:
            out["lost"] = self.lost
        return out


def _describe_all(people: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres ``(N, 2)``, sizes ``(N,)`` (px, at least 1) and mean confidences ``(N,)`` of ``(N, 17, 3)``
    detections, from their valid joints (confidence > 0, finite x and y); a detection without one falls
    back to its finite non-zero joints, and one without those has centre (0, 0), size 1 and confidence 0."""
    xy, c = people[..., :2], people[..., 2]
    finite = np.isfinite(xy).all(axis=-1)
    with np.errstate(invalid="ignore"):
        valid = (c > 0) & finite
    fallback = finite & (xy != 0).any(axis=-1)
    use = np.where(valid.any(axis=1, keepdims=True), valid, fallback)  # (N, 17)
    safe_xy = np.where(use[..., None], xy, 0.0)
    lo = np.where(use[..., None], safe_xy, np.inf).min(axis=1)
    hi = np.where(use[..., None], safe_xy, -np.inf).max(axis=1)
    has = use.any(axis=1)
    centre = np.where(has[:, None], (lo + hi) / 2.0, 0.0)
    with np.errstate(invalid="ignore"):
        size = np.where(has, np.hypot(*(hi - lo).T), 1.0)
    size = np.maximum(np.nan_to_num(size, nan=1.0), 1.0)
    conf_vals = np.where(valid, np.clip(np.nan_to_num(c, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None), 0.0)
    n_valid = valid.sum(axis=1)
    conf = np.where(n_valid > 0, conf_vals.sum(axis=1) / np.maximum(n_valid, 1), 0.0)
    return centre, size, conf


def select_people(
    frames: Sequence[Sequence[np.ndarray]], listed: Sequence[Sequence[int]], mode: str = "auto"
) -> tuple[list[int | None], PersonCounts]:
    """Choose one person per frame.

    Args:
        frames: per frame, the detections that are not all zero, each ``(17, 3)`` float (x, y px, c), in
            listed order.
        listed: per frame, each detection's index in the frame's original ``people`` list.
        mode: ``"auto"`` (follow the subject, see the module docstring) or ``"first"``.

    Returns:
        per frame the chosen position in ``frames[t]`` (None when the frame has no person, or only people
        other than the subject), and the counts.
    """
    if mode not in ("auto", "first"):
        raise BadInputError(f"person selection must be 'auto' or 'first', got {mode!r}")
    chosen: list[int | None] = [0 if people else None for people in frames]
    lost = 0
    multi = [t for t, people in enumerate(frames) if len(people) > 1]
    if mode == "auto" and multi:
        flat = np.stack([np.asarray(p, dtype=np.float64) for people in frames for p in people])
        centres, sizes, confs = _describe_all(flat)
        desc, k = [], 0
        for people in frames:
            desc.append(
                [(centres[k + i], float(sizes[k + i]), float(confs[k + i])) for i in range(len(people))]
            )
            k += len(people)
        scores = [(d[1] * d[2], t, i) for t, ds in enumerate(desc) for i, d in enumerate(ds)]
        # Largest score; earliest frame and lowest index on ties.
        _, seed_t, seed_i = max(scores, key=lambda s: (s[0], -s[1], -s[2]))
        chosen[seed_t] = seed_i
        for direction in (range(seed_t + 1, len(frames)), range(seed_t - 1, -1, -1)):
            prev_centre, prev_size = desc[seed_t][seed_i][0], desc[seed_t][seed_i][1]
            gap = 0
            for t in direction:
                gap += 1
                if not desc[t]:
                    continue
                costs = [
                    float(np.hypot(*(centre - prev_centre))) / prev_size + abs(np.log(size / prev_size))
                    for centre, size, _ in desc[t]
                ]
                pick = int(np.argmin(costs))  # the first minimum: lowest list index on ties
                if costs[pick] > MAX_JUMP + WALK_STEP * (gap - 1):
                    chosen[t] = None
                    lost += 1
                    continue
                chosen[t] = pick
                prev_centre, prev_size = desc[t][pick][0], desc[t][pick][1]
                gap = 0
    not_first = sum(1 for t, i in enumerate(chosen) if i is not None and listed[t][i] != 0)
    return chosen, PersonCounts(multiple=len(multi), not_first=not_first, lost=lost)
