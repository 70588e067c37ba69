"""Pose JSON reading: ``read_pose_sequence`` (numeric frame order, every person parsed, person selection,
all-zero entries, non-finite joints, BODY_25) vs upstream's reader (sorted names, ``people[0]``).

Writes ``--sequences`` pose-raw sequences of ``--frames`` frames (unpadded names ``0.json …``), a bystander
listed first in every ``--crowded``-th frame, then times in one run:

- ``gaitprep``: :func:`gaitprep.io.frames.read_pose_sequence` with ``person="auto"`` (the default);
- ``reference``: ``sorted(os.listdir)``, ``json.loads`` and ``np.asarray(people[0]["pose_keypoints_2d"])``
  per frame, which is what upstream's ``pretreatment_heatmap.py`` does.

Both read the same files, already in the page cache. Figures are frames per second; the ratio is
gaitprep / reference (below 1: slower).

    python benchmarks/bench_pose_reader.py [--sequences 40] [--frames 200] [--crowded 3] [--dir D]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from gaitprep.io.frames import read_pose_sequence
from gaitprep.io.tree import discover_tree


def write_tree(root: Path, sequences: int, frames: int, crowded: int) -> None:
    rng = np.random.default_rng(0)
    for s in range(sequences):
        folder = root / f"{s:05d}" / "negative" / "000_180"
        folder.mkdir(parents=True)
        base = rng.uniform(300, 700, size=(17, 2))
        for t in range(frames):
            subject = np.concatenate([base + t * 2.0, rng.uniform(0.8, 1.0, (17, 1))], axis=1).round(3)
            people = [subject]
            if crowded and t % crowded == 0:
                bystander = subject.copy()
                bystander[:, :2] = bystander[:, :2] * 0.6 + 500.0
                bystander[:, 2] = 0.5
                people = [bystander, subject]
            doc = {"people": [{"pose_keypoints_2d": p.reshape(-1).tolist()} for p in people]}
            (folder / f"{t}.json").write_text(json.dumps(doc))


def reference_read(folder: Path) -> np.ndarray:
    frames = []
    for name in sorted(os.listdir(folder)):
        doc = json.loads((folder / name).read_bytes())
        if doc["people"]:
            frames.append(np.asarray(doc["people"][0]["pose_keypoints_2d"], dtype=np.float64).reshape(17, 3))
    return np.stack(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=40)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--crowded", type=int, default=3, help="a bystander in every N-th frame (0: none)")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        root = tmp / "pose-raw"
        write_tree(root, args.sequences, args.frames, args.crowded)
        tree = discover_tree(root, "pose-raw")
        total = args.sequences * args.frames
        for ref in tree.sequences:  # warm the page cache
            reference_read(ref.folder)
        t0 = time.perf_counter()
        for ref in tree.sequences:
            reference_read(ref.folder)
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        for ref in tree.sequences:
            read_pose_sequence(ref)
        t_ours = time.perf_counter() - t0
        print(
            f"{args.sequences} sequences x {args.frames} frames, bystander in every {args.crowded}-th frame"
        )
        print(f"reference (sorted names, people[0]): {total / t_ref:10.0f} frames/s")
        print(f"gaitprep  (numeric order, auto)    : {total / t_ours:10.0f} frames/s")
        print(f"ratio gaitprep / reference          : {t_ref / t_ours:10.2f}")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
