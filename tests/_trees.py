"""Tiny hand-made input trees, partitions and build plans for the manifest / build / verify tests.

Trees follow the OpenGait layout ``<root>/<id>/<class>/<view>/<view>.pkl`` (domain §1.3):
- sil-pkl: uint8 (T, 64, 64) silhouettes;
- pose-pkl: float32 (T, 17, 3) poses (x, y, confidence in image pixels).
Every array is a pure function of (seed, sequence index), so two calls write byte-identical trees.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from gaitprep.build import BuildPlan, ProcessResult, SourceItem
from gaitprep.errors import GaitprepError
from gaitprep.io.safe_pickle import dump_array_pickle
from gaitprep.manifest import ArraySpec, Layout, SourceInfo, json_digest
from gaitprep.partition import Partition, write_partition
from gaitprep.skeleton import CLASS_ORDER

# On-disk class folder spellings as the release has them (case differs from the canonical names).
CLASS_FOLDERS = {"negative": "negative", "neutral": "neutral", "positive": "Positive"}
VIEW = "000_180"
SLEEP_ENV = "GAITPREP_TEST_PROCESS_SLEEP"
FAIL_ENV = "GAITPREP_TEST_PROCESS_FAIL_INDEX"


def seq_ids(n: int) -> list[str]:
    return [f"{i:05d}" for i in range(n)]


def label_of(index: int) -> str:
    return CLASS_ORDER[index % len(CLASS_ORDER)]


def silhouette_array(seed: int, index: int, frames: int) -> np.ndarray:
    """uint8 (frames, 64, 64): a binary blob (0 or 255) that moves with the frame index."""
    rng = np.random.default_rng([seed, index])
    yy, xx = np.mgrid[0:64, 0:64]
    cx, cy, r = rng.integers(20, 44), rng.integers(20, 44), rng.integers(6, 14)
    out = np.zeros((frames, 64, 64), dtype=np.uint8)
    for t in range(frames):
        out[t][(xx - cx - t) ** 2 + (yy - cy) ** 2 <= r * r] = 255
    # A few speckles so that no two sequences share their bytes.
    speckle = rng.random(out.shape) < 0.01
    out[speckle] = 255
    return out


def pose_array(seed: int, index: int, frames: int) -> np.ndarray:
    """float32 (frames, 17, 3): x, y in [0, 200) px and confidence in (0.5, 1)."""
    rng = np.random.default_rng([seed, index, 1])
    pose = np.empty((frames, 17, 3), dtype=np.float32)
    pose[..., :2] = rng.uniform(0, 200, size=(frames, 17, 2))
    pose[..., 2] = rng.uniform(0.5, 1.0, size=(frames, 17))
    return pose


def _write_tree(root: Path, n: int, frames: int, seed: int, make) -> list[str]:
    ids = seq_ids(n)
    for i, seq_id in enumerate(ids):
        folder = root / seq_id / CLASS_FOLDERS[label_of(i)] / VIEW
        dump_array_pickle(make(seed, i, frames), folder / f"{VIEW}.pkl")
    return ids


def write_sil_pkl_tree(root: Path, n: int = 9, frames: int = 7, seed: int = 0) -> list[str]:
    """A sil-pkl tree of ``n`` sequences × ``frames`` frames; returns the sequence ids."""
    return _write_tree(Path(root), n, frames, seed, silhouette_array)


def write_pose_pkl_tree(root: Path, n: int = 9, frames: int = 7, seed: int = 0) -> list[str]:
    """A pose-pkl tree of ``n`` sequences × ``frames`` frames; returns the sequence ids."""
    return _write_tree(Path(root), n, frames, seed, pose_array)


def write_partitions(folder: Path, ids: list[str]) -> tuple[Partition, Partition]:
    """Two different splits of ``ids``: ``Scoliosis1K_A`` (first two thirds train) and ``Scoliosis1K_B``."""
    folder = Path(folder)
    cut = 2 * len(ids) // 3
    a = write_partition(folder / "Scoliosis1K_A.json", ids[:cut], ids[cut:])
    b = write_partition(folder / "Scoliosis1K_B.json", ids[len(ids) - cut :], ids[: len(ids) - cut])
    return a, b


# --- synthetic build plans (no input files: the process function makes the arrays) ----------------------


def synthetic_process(item: SourceItem) -> ProcessResult:
    """Top-level (picklable) process: uint8 (T, 2, 64, 64) maps from ``item.inputs = (seed, index, T)``.

    Sleeps ``$GAITPREP_TEST_PROCESS_SLEEP`` seconds first, so a test can kill a build midway, and fails on
    the sequence index ``$GAITPREP_TEST_PROCESS_FAIL_INDEX``, so a test can interrupt one with an error.
    """
    delay = float(os.environ.get(SLEEP_ENV, "0") or 0)
    if delay:
        time.sleep(delay)
    seed, index, frames, offset = item.inputs
    if os.environ.get(FAIL_ENV) == str(index):
        raise GaitprepError(f"injected failure on sequence {item.key}")
    return ProcessResult({"maps": synthetic_maps(seed, index, frames, offset)}, frames, frames)


def synthetic_maps(seed: int, index: int, frames: int, offset: int = 0) -> np.ndarray:
    """uint8 (frames, 2, 64, 64): smooth ramps plus sparse noise, compressible like rendered maps.

    ``offset`` (grey levels, mod 256) stands for a parameter that changes every sequence's bits.
    """
    rng = np.random.default_rng([seed, index, 2])
    yy, xx = np.mgrid[0:64, 0:64].astype(np.int32)
    base = ((xx * rng.integers(1, 4) + yy * rng.integers(1, 4)) % 256).astype(np.uint8)
    t = np.arange(frames, dtype=np.int32)[:, None, None, None]
    ch = np.arange(2, dtype=np.int32)[None, :, None, None]
    maps = ((base[None, None] + 3 * t + 40 * ch + offset) % 256).astype(np.uint8)
    noise = rng.random(maps.shape) < 0.02
    maps[noise] = rng.integers(0, 256, size=int(noise.sum()), dtype=np.uint8)
    return maps


MAPS_SPEC = ArraySpec(
    dtype="uint8",
    per_frame=True,
    item_shape=(2, 64, 64),
    axes=("T", "C", "H", "W"),
    channels=("limb", "joint"),
)


def synthetic_plan(
    out: Path,
    n: int = 9,
    frames: int = 7,
    seed: int = 0,
    formats: tuple[str, ...] = ("zarr",),
    params: dict | None = None,
    partition: Partition | None = None,
) -> BuildPlan:
    """A ``BuildPlan`` of ``n`` synthetic skeleton-map sequences processed by ``synthetic_process``.

    ``params["offset"]`` (default 0) shifts every map's grey levels, so it changes content.
    """
    params = params if params is not None else {"sigma_limb": 4.0, "sigma_joint": 4.0}
    offset = int(params.get("offset", 0))
    items = []
    for i, seq_id in enumerate(seq_ids(n)):
        label = label_of(i)
        split = partition.split_of(seq_id) if partition else None
        items.append(
            SourceItem(
                seq_id,
                label,
                CLASS_FOLDERS[label],
                VIEW,
                split,
                json_digest([seed, i, frames]),
                (seed, i, frames, offset),
            )
        )
    source = SourceInfo(
        kind="tree",
        release="synthetic",
        root="synthetic",
        digest=json_digest(sorted((it.key, it.source_digest) for it in items)),
        sequences=len(items),
    )
    return BuildPlan(
        out=Path(out),
        name=Path(out).name,
        version="1.0.0",
        modality="skeleton_map",
        algo_version="test-synthetic-1",
        layout=Layout(formats=formats, primary="maps", arrays={"maps": MAPS_SPEC}),  # type: ignore[arg-type]
        params=params,
        items=items,
        process=synthetic_process,
        source=source,
        partition=partition,
    )


# --- comparing built trees --------------------------------------------------------------------------


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except ``manifest.json``, by relative path."""
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).as_posix() != "manifest.json"
    }


def manifest_without_provenance(root: Path) -> dict:
    """The manifest JSON minus ``provenance`` (time, host, durations, worker count)."""
    import json

    doc = json.loads((Path(root) / "manifest.json").read_text())
    doc.pop("provenance")
    return doc
