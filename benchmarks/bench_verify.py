"""Verification throughput: ``verify_dataset`` at the files and content levels vs raw ``hashlib.sha256``.

Builds a synthetic skeleton-map dataset (default 300 sequences × 300 frames of uint8 (T, 2, 64, 64),
≈737 MB logical) straight through a ``BuildPlan`` with a fast process function, then times, in one run:

- ``files``: sha256 of every stored file (compressed Zarr chunks, metadata) against the manifest;
- ``content``: the files level plus decoding every array and recomputing its logical digest;
- raw ``hashlib.sha256`` over the same stored bytes (already in memory) and over the decoded array bytes.

Figures are MB/s (10^6 bytes per second) of stored bytes for the files level and of logical (decoded)
bytes for the content level. The files were just written, so they are read from the page cache.

    python benchmarks/bench_verify.py [--sequences 300] [--frames 300] [--format zarr|pkl|both] [--dir D]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from gaitprep.build import BuildOptions, BuildPlan, ProcessResult, SourceItem, build_dataset
from gaitprep.io.store import read_sequence
from gaitprep.manifest import ArraySpec, Layout, SourceInfo, json_digest
from gaitprep.verify import verify_dataset

FORMATS = {"zarr": ("zarr",), "pkl": ("opengait-pkl",), "both": ("zarr", "opengait-pkl")}
BANK_SIZE = 128


def _frame_bank(seed: int = 0) -> np.ndarray:
    """uint8 (BANK_SIZE, 2, 64, 64): 17 quantised Gaussian joints per frame (σ 2-4 px), limb channel blurred.

    Mostly zeros with smooth blobs, so zstd compresses it about as well as rendered skeleton maps.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    bank = np.zeros((BANK_SIZE, 2, 64, 64), np.float32)
    for f in range(BANK_SIZE):
        centres = rng.uniform(12, 52, size=(17, 2)).astype(np.float32)
        sigmas = rng.uniform(2, 4, size=17).astype(np.float32)
        for (cx, cy), s in zip(centres, sigmas, strict=True):
            g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
            np.maximum(bank[f, 1], g, out=bank[f, 1])
            np.maximum(bank[f, 0], np.sqrt(g) * 0.8, out=bank[f, 0])
    return np.floor(bank * 255 + 0.5).astype(np.uint8)


_BANK: np.ndarray | None = None


def bench_process(item: SourceItem) -> ProcessResult:
    """Frames picked from a shared bank by a per-sequence walk, with the index stamped in a corner."""
    global _BANK
    if _BANK is None:
        _BANK = _frame_bank()
    index, frames = item.inputs
    picks = (index * 7 + np.arange(frames) * (1 + index % 5)) % BANK_SIZE
    maps = _BANK[picks].copy()
    maps[:, 0, 0, 0] = index % 256  # no two sequences share their bytes
    maps[:, 0, 0, 1] = index // 256
    return ProcessResult({"maps": maps}, frames, frames)


def make_plan(out: Path, sequences: int, frames: int, formats: tuple[str, ...]) -> BuildPlan:
    classes = ("negative", "neutral", "positive")
    items = [
        SourceItem(
            f"{i:05d}", classes[i % 3], classes[i % 3], "000_180", None, json_digest([i, frames]), (i, frames)
        )
        for i in range(sequences)
    ]
    spec = ArraySpec(
        dtype="uint8",
        per_frame=True,
        item_shape=(2, 64, 64),
        axes=("T", "C", "H", "W"),
        channels=("limb", "joint"),
    )
    return BuildPlan(
        out=out,
        name="bench-verify",
        version="1.0.0",
        modality="skeleton_map",
        algo_version="bench-verify-1",
        layout=Layout(formats=formats, primary="maps", arrays={"maps": spec}),  # type: ignore[arg-type]
        params={"bank": BANK_SIZE, "sequences": sequences, "frames": frames},
        items=items,
        process=bench_process,
        source=SourceInfo(
            kind="tree",
            release="synthetic",
            root="synthetic",
            digest=json_digest(sorted((i.key, i.source_digest) for i in items)),
            sequences=sequences,
        ),
    )


def _mbps(nbytes: float, seconds: float) -> float:
    return nbytes / 1e6 / seconds if seconds > 0 else float("inf")


def run(sequences: int, frames: int, fmt: str, workers: int, base: Path, repeats: int) -> None:
    out = base / "bench-verify"
    t0 = time.perf_counter()
    result = build_dataset(
        make_plan(out, sequences, frames, FORMATS[fmt]), BuildOptions(workers=workers, quiet=True)
    )
    build_s = time.perf_counter() - t0
    m = result.manifest
    stored = sum(f.bytes for f in m.files)
    logical = sum(int(np.prod(r.arrays["maps"].shape)) for r in m.records) * len(m.layout.formats)
    print(
        f"dataset: {sequences} seq × {frames} frames uint8 (T, 2, 64, 64), format {fmt}, {len(m.files)} files"
    )
    print(
        f"  stored {stored / 1e6:.1f} MB, logical {logical / 1e6:.1f} MB (×{logical / stored:.1f} compression)"
    )
    print(f"  build: {build_s:.1f} s with {workers} worker(s) ({sequences * frames / build_s:,.0f} frames/s)")

    # Raw sha256 over the same stored bytes, read into memory first so only hashing is timed.
    blobs = [(out / f.path).read_bytes() for f in m.files]
    best_files = best_content = best_raw_files = best_raw_logical = float("inf")
    for _ in range(repeats):
        rep = verify_dataset(out, "files")
        assert rep.ok and rep.bytes_checked == stored, rep.problems[:3]
        best_files = min(best_files, rep.seconds)
        rep = verify_dataset(out, "content")
        assert rep.ok, rep.problems[:3]
        best_content = min(best_content, rep.seconds)
        t = time.perf_counter()
        for blob in blobs:
            hashlib.sha256(blob).hexdigest()
        best_raw_files = min(best_raw_files, time.perf_counter() - t)
        # Raw sha256 over the decoded arrays (decoding not timed).
        raw_logical = 0.0
        for fmt_name in m.layout.formats:
            for rec in m.records:
                arr = read_sequence(out, rec, m.layout, fmt=fmt_name)["maps"]
                t = time.perf_counter()
                hashlib.sha256(arr.data).hexdigest()
                raw_logical += time.perf_counter() - t
        best_raw_logical = min(best_raw_logical, raw_logical)

    decode_s = best_content - best_files
    print(f"best of {repeats}:")
    print(
        f"  verify --files   {best_files:7.2f} s  {_mbps(stored, best_files):8.0f} MB/s stored"
        f"   (raw sha256 of the same bytes: {best_raw_files:.2f} s, {_mbps(stored, best_raw_files):.0f} MB/s)"
    )
    print(
        f"  verify --content {best_content:7.2f} s  {_mbps(logical, best_content):8.0f} MB/s logical"
        f"  (decode + re-digest alone: {decode_s:.2f} s, {_mbps(logical, decode_s):.0f} MB/s;"
        f" raw sha256 of the decoded bytes: {best_raw_logical:.2f} s, {_mbps(logical, best_raw_logical):.0f} MB/s)"
    )
    print(
        f"  files level at {100 * best_raw_files / best_files:.0f}% of raw sha256 speed;"
        f" content level {best_content / best_files:.1f}× the files level"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sequences", type=int, default=300)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--format", choices=sorted(FORMATS), default="zarr")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="Where to build (default: a temporary directory).")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-verify-", dir=args.dir))
    try:
        run(args.sequences, args.frames, args.format, args.workers, base, args.repeats)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
