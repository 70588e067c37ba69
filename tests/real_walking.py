"""Real walking for the test suite: the LaFAN1 fixture and a writer of Scoliosis1K-layout trees from it.

``real_walking`` (session-scoped) maps ``(view, travel)`` — ``view`` in ``("front", "back")``, ``travel`` in
``(False, True)`` — to the four :class:`~gaitprep.synth.realwalk.RealWalk` sequences of that camera set-up
(one per clean LaFAN1 walking run). The take is downloaded once into the user cache (``$GAITPREP_CACHE`` or
``~/.cache/gaitprep``; CC BY-NC-ND 4.0, never committed) and converted once per session; tests that use the
fixture are skipped with the reason when the download is unavailable.

Use::

    def test_something(real_walking, tmp_path):
        walks = real_walking[("front", True)]
        root = write_real_release(tmp_path / "release", walks)
        # root/pose-raw/00000/positive/000_180/000001.json ..., root/Scoliosis1K_118.json
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from gaitprep.partition import write_partition
from gaitprep.synth.lafan1 import RealWalkingUnavailable
from gaitprep.synth.realwalk import RealWalk, load_real_walking, silhouettes_from_pose
from gaitprep.synth.release import VIEW, choose_partition, class_blocks, ratio_code, write_sequence_layouts

RealWalking = dict[tuple[str, bool], list[RealWalk]]
__all__ = ["REAL_LAYOUTS", "RealWalking", "load_real_walking", "real_walking", "write_real_release"]
REAL_LAYOUTS: tuple[str, ...] = ("pose-raw", "pose-pkl", "sil-raw", "sil-pkl")


@pytest.fixture(scope="session")
def real_walking() -> RealWalking:
    """``{(view, travel): [RealWalk, ...]}`` for front/back × fixed distance/forward travel (4 walks each).

    Read-only (shared by the session): copy a pose before editing it.
    """
    try:
        walks = load_real_walking()
    except RealWalkingUnavailable as exc:
        pytest.skip(f"real-walking data unavailable: {exc.reason}")
    for group in walks.values():
        for walk in group:
            walk.pose.flags.writeable = False  # shared by the session: edits need a copy
            if walk.distance is not None:
                walk.distance.flags.writeable = False
    return walks


def write_real_release(
    root: Path,
    walks: Sequence[RealWalk],
    layouts: Sequence[str] = ("pose-raw", "pose-pkl", "sil-raw"),
    *,
    labels: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    views: Sequence[str] | None = None,
    ratio: str = "1:1:8",
    seed: int = 0,
    frame_name: Callable[[int], str] = lambda k: f"{k + 1:06d}",
    no_person: Sequence[np.ndarray] | None = None,
) -> Path:
    """Write ``walks`` in the Scoliosis1K layouts under ``root`` and return ``root``.

    Same tree as the synthetic release (:mod:`gaitprep.synth.release`, whose writer it uses):
    ``<layout>/<id>/<class>/<view>/`` with frames ``000001.json`` / ``000001.png`` (1280×720 masks from
    :func:`silhouettes_from_pose`) and ``<view>.pkl`` pickles (pose float64 ``(T, 17, 3)``, silhouettes
    uint8 ``(T, 64, 64)``), plus ``Scoliosis1K_<code>.json`` (upstream partition format). Defaults: ids
    ``00000``…, classes class-blocked like the release (:func:`class_blocks`), view folder ``000_180``,
    the partition chosen by :func:`choose_partition` at ``ratio``. ``ids`` may repeat an id (e.g. one id
    with several ``views``). ``frame_name(k)`` names frame ``k`` (0-based; default ``000001``…; e.g.
    ``str`` for unpadded ``0.json … 175.json``). ``no_person``: per walk, bool ``(T,)`` frames written as
    ``{"people": []}`` and left out of the pose pickle. ``root`` must be absent or empty.
    """
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} is not empty")
    unknown = sorted(set(layouts) - set(REAL_LAYOUTS))
    if unknown or not layouts:
        raise ValueError(f"layouts must be a non-empty subset of {REAL_LAYOUTS}, got {list(layouts)}")
    n = len(walks)
    labels = list(labels) if labels is not None else class_blocks(n)
    ids = list(ids) if ids is not None else [f"{i:05d}" for i in range(n)]
    views = list(views) if views is not None else [VIEW] * n
    absent = list(no_person) if no_person is not None else [np.zeros(w.n_frames, dtype=bool) for w in walks]
    if not len(labels) == len(ids) == len(views) == len(absent) == n:
        raise ValueError("labels, ids, views and no_person need one entry per walk")
    need_masks = bool({"sil-raw", "sil-pkl"} & set(layouts))
    for walk, seq_id, label, view, empty in zip(walks, ids, labels, views, absent, strict=True):
        t = walk.n_frames
        masks = silhouettes_from_pose(walk.pose) if need_masks else None
        write_sequence_layouts(
            root,
            Path(seq_id) / label / view,
            [frame_name(k) for k in range(t)],
            walk.pose.astype(np.float64),
            masks,
            np.asarray(empty, dtype=bool).reshape(t),
            tuple(layouts),
        )
    r, code = ratio_code(ratio)
    label_of = dict(zip(ids, labels, strict=True))
    unique = sorted(label_of)
    # choose_partition indexes classes by position; map its 5-digit positions back to our ids.
    train_pos, _ = choose_partition([label_of[i] for i in unique], r, seed)
    train = sorted(unique[int(p)] for p in train_pos)
    test = sorted(set(unique) - set(train))
    write_partition(root / f"Scoliosis1K_{code}.json", train, test)
    return root
