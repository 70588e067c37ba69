"""The manifest of a finished build: its files, counts, statistics, versions and provenance, sealed."""

from __future__ import annotations

import platform
import socket
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gaitprep import __version__
from gaitprep.build.staging import DONE_DIR
from gaitprep.io.tree import sha256_file
from gaitprep.manifest import (
    MANIFEST_NAME,
    FileEntry,
    Generator,
    Manifest,
    PartitionInfo,
    Provenance,
    SequenceRecord,
    content_digest,
    seal,
)
from gaitprep.partition import Partition
from gaitprep.skeleton import CLASS_INDEX, CLASS_ORDER

if TYPE_CHECKING:
    from gaitprep.build.engine import BuildPlan, SourceItem


def bit_relevant_versions() -> dict[str, str]:
    import cv2
    import zarr

    return {
        "gaitprep": __version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "zarr": zarr.__version__,
        "python": platform.python_version(),
    }


def default_aggregate(stats: list[dict[str, float]]) -> dict[str, Any]:
    """Dataset-level mean and p95 of every per-sequence statistic."""
    keys = sorted({k for s in stats for k in s})
    out: dict[str, Any] = {}
    for k in keys:
        vals = np.array([s[k] for s in stats if k in s], dtype=np.float64)
        out[k] = {"mean": round(float(vals.mean()), 6), "p95": round(float(np.percentile(vals, 95)), 6)}
    return out


def partition_info(partition: Partition, items: list[SourceItem]) -> PartitionInfo:
    label_of = {i.id: i.label for i in items}
    counts = {
        split: {c: sum(1 for i in ids if label_of.get(i) == c) for c in CLASS_ORDER}
        for split, ids in (("train", partition.train), ("test", partition.test))
    }
    return PartitionInfo(
        name=partition.name,
        sha256=partition.sha256,
        train_ids=partition.train,
        test_ids=partition.test,
        class_counts=counts,
    )


def _reader_counts(records: list[SequenceRecord]) -> dict[str, Any]:
    """Dataset totals of what the raw-tree readers reported (only those that occurred)."""
    out: dict[str, Any] = {}
    person = sum((Counter(r.person_frames) for r in records), Counter())
    if any(person.values()):
        out["person_frames"] = dict(sorted(person.items()))
    unpaired = sum((Counter(r.unpaired_frames) for r in records), Counter())
    if unpaired:
        out["unpaired_frames"] = dict(sorted(unpaired.items()))
    if n := sum(r.nonfinite_joints for r in records):
        out["nonfinite_joints"] = n
    if n := sum(r.unpadded_frame_names for r in records):
        out["unpadded_frame_names"] = n
    return out


def assemble(
    plan: BuildPlan, records: list[SequenceRecord], stage: Path, deriv: str, started: float, workers: int
) -> Manifest:
    files = []
    for path in sorted(p for p in stage.rglob("*") if p.is_file()):
        rel = path.relative_to(stage).as_posix()
        if rel.startswith(f"{DONE_DIR}/") or rel == MANIFEST_NAME:
            continue
        files.append(FileEntry(path=rel, bytes=path.stat().st_size, sha256=sha256_file(path)))
    counts: dict[str, Any] = {
        "sequences": len(records),
        "frames": sum(r.frames for r in records),
        "frames_in": sum(r.frames_in for r in records),
        "frames_dropped": dict(sorted(sum((Counter(r.frames_dropped) for r in records), Counter()).items())),
        **_reader_counts(records),
        "per_class": {c: sum(1 for r in records if r.label == c) for c in CLASS_ORDER},
        "per_split": {
            s: {c: sum(1 for r in records if r.label == c and r.split == s) for c in CLASS_ORDER}
            for s in ("train", "test")
        },
    }
    aggregate = plan.aggregate or default_aggregate
    folders = {c: sorted({r.class_folder for r in records if r.label == c}) for c in CLASS_ORDER}
    manifest = Manifest(
        name=plan.name,
        version=plan.version,
        modality=plan.modality,  # type: ignore[arg-type]
        generator=Generator(version=__version__, algo_version=plan.algo_version),
        layout=plan.layout,
        params=plan.params,
        params_digest=plan.params_digest,
        layout_digest=plan.layout_digest,
        class_order=dict(CLASS_INDEX),
        class_folders={c: ",".join(v) for c, v in folders.items() if v},
        source=plan.source,
        partition=partition_info(plan.partition, plan.items) if plan.partition else None,
        partition_missing_ids=tuple(plan.partition_missing),
        fitted=plan.fitted,
        records=tuple(records),
        files=tuple(files),
        counts=counts,
        statistics=aggregate([r.stats for r in records]),
        versions=bit_relevant_versions(),
        derivation_id=deriv,
        content_digest=content_digest(records),
        owner=plan.owner,
        provenance=Provenance(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            host=socket.gethostname(),
            python=sys.version.split()[0],
            duration_s=round(time.time() - started, 3),
            workers=workers,
        ),
    )
    return seal(manifest)
