"""Summaries of release trees for ``gaitprep inspect``: layout, counts, frames, shapes, every problem found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.io.load import load_sequence
from gaitprep.io.tree import Tree, check_frame_names, discover_tree, release_layouts
from gaitprep.partition import Partition
from gaitprep.skeleton import CLASS_ORDER


def inspect_tree(tree: Tree, partition: Partition | None = None, quiet: bool = True) -> dict[str, Any]:
    """Load every sequence of ``tree`` and summarise it; problems are collected, never raised."""
    from gaitprep.progress import progress

    problems = list(tree.problems)
    frames: dict[str, int] = {}
    dropped: dict[str, dict[str, int]] = {}
    shapes: set[str] = set()
    dtypes: set[str] = set()
    for ref in progress(tree.sequences, total=len(tree.sequences), desc=tree.layout, quiet=quiet):
        warning = check_frame_names(ref)
        if warning:
            problems.append(f"{ref.folder}: {warning}")
        try:
            seq = load_sequence(ref)
        except BadInputError as exc:
            problems.append(str(exc))
            continue
        frames[ref.key] = int(seq.array.shape[0])
        if seq.dropped:
            dropped[ref.key] = seq.dropped
        shapes.add(str(tuple(seq.array.shape[1:])))
        dtypes.add(str(seq.array.dtype))
    per_class = {c: sum(1 for s in tree.sequences if s.label == c) for c in CLASS_ORDER}
    folders = sorted({s.class_folder for s in tree.sequences})
    summary: dict[str, Any] = {
        "root": str(tree.root),
        "layout": tree.layout,
        "sequences": len(tree.sequences),
        "per_class": per_class,
        "class_folders": folders,
        "frame_shapes": sorted(shapes),
        "dtypes": sorted(dtypes),
        "frames_per_sequence": _frame_stats(list(frames.values())),
        "frames": frames,
        "reader_dropped": dropped,
    }
    if partition is not None:
        ids = tree.ids
        summary["partition"] = {
            "name": partition.name,
            "sha256": partition.sha256,
            "per_split": {
                split: {
                    c: sum(1 for s in tree.sequences if s.label == c and s.id in set(lst))
                    for c in CLASS_ORDER
                }
                for split, lst in (("train", partition.train), ("test", partition.test))
            },
            "missing_on_disk": sorted((set(partition.train) | set(partition.test)) - ids),
            "not_in_partition": sorted(ids - set(partition.train) - set(partition.test)),
        }
        missing = summary["partition"]["missing_on_disk"]
        if missing:
            problems.append(
                f"{partition.name}: {len(missing)} partition ids are not on disk: {', '.join(missing[:5])}"
            )
    summary["problems"] = problems
    return summary


def _frame_stats(counts: list[int]) -> dict[str, float]:
    if not counts:
        return {"min": 0, "median": 0, "max": 0, "total": 0}
    arr = np.array(counts)
    return {
        "min": int(arr.min()),
        "median": float(np.median(arr)),
        "max": int(arr.max()),
        "total": int(arr.sum()),
    }


def cross_check(summaries: dict[str, dict[str, Any]]) -> list[str]:
    """Compare layouts of one release: same sequences and labels; frame counts explained."""
    notes: list[str] = []
    keysets = {name: set(s["frames"]) for name, s in summaries.items()}
    names = sorted(keysets)
    for other in names[1:]:
        a, b = keysets[names[0]], keysets[other]
        if a != b:
            notes.append(
                f"problem: {names[0]} and {other} hold different sequences "
                f"({len(a - b)} only in {names[0]}, {len(b - a)} only in {other})"
            )
    if "pose-pkl" in summaries and "sil-pkl" in summaries:
        pose, sil = summaries["pose-pkl"]["frames"], summaries["sil-pkl"]["frames"]
        diff = sorted(k for k in set(pose) & set(sil) if pose[k] != sil[k])
        if diff:
            notes.append(
                f"note: {len(diff)} sequence(s) have fewer sil-pkl than pose-pkl frames because the silhouette "
                f"algorithm dropped near-empty masks (e.g. {diff[0]}: {pose[diff[0]]} pose vs {sil[diff[0]]} sil)"
            )
    if "pose-raw" in summaries and "pose-pkl" in summaries:
        raw, pkl = summaries["pose-raw"]["frames"], summaries["pose-pkl"]["frames"]
        diff = sorted(k for k in set(raw) & set(pkl) if raw[k] != pkl[k])
        if diff:
            notes.append(f"problem: pose-raw and pose-pkl frame counts differ for {len(diff)} sequence(s)")
    return notes


def inspect_path(path: str | Path, partition: Partition | None = None, quiet: bool = True) -> dict[str, Any]:
    """Inspect a single tree, or every layout of a release root (and cross-check them)."""
    path = Path(path)
    releases = release_layouts(path)
    if not releases:
        tree = discover_tree(path, strict=False)
        summary = inspect_tree(tree, partition, quiet)
        return {
            "path": str(path),
            "layouts": {tree.layout: summary},
            "cross_check": [],
            "problems": summary["problems"],
        }
    summaries = {}
    for name, root in releases.items():
        summaries[name] = inspect_tree(discover_tree(root, name, strict=False), partition, quiet)
    notes = cross_check(summaries)
    problems = [p for s in summaries.values() for p in s["problems"]] + [
        n for n in notes if n.startswith("problem")
    ]
    return {"path": str(path), "layouts": summaries, "cross_check": notes, "problems": problems}
