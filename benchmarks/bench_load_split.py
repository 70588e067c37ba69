"""Benchmark: loading a whole split into RAM from the Zarr store and from the OpenGait pickle tree.

1. Renders a pool of real skeleton maps (the synthetic walker, ``recommended`` preset) and builds ONE
   dataset stored both ways (``--format both``) at Scoliosis1K scale: 1,493 sequences of 280-320 frames
   (about 448,000 frames, uint8 (T, 2, 64, 64): 3.7 GB of arrays) with a 1:1:2 partition. Each sequence is
   a rolled, cut window of a pool sequence, so chunks compress like real maps.
2. Loads the TRAIN split, warm (median of ``--repeats``) and cold (every file of the format dropped from
   the page cache first, by ``posix_fadvise(POSIX_FADV_DONTNEED)`` after ``sync``), with:
   - ``gaitprep.open_dataset(...).load("train")``: what users and training call; every file's sha256 is
     checked against the manifest as it is read;
   - the same with the pickle copy (``format="opengait-pkl"``);
   - the straightforward reference: ``pickle.load`` of each ``.pkl`` in turn, as OpenGait does (no checks);
   - the store's plain reader one sequence after another (``gaitprep.io.store.read_sequence``, no checks:
     what ``gaitmodels`` calls), and zarr's own reader likewise (``zarr.open_array(...)[...]``: what
     ``read_sequence`` did before it decoded the store's one-chunk arrays directly).
3. Prints seconds, GB/s of array data and the ratio Zarr / pickle (target: at most 2x warm).

    python benchmarks/bench_load_split.py                    # full scale (about 5 GB of disk under --work)
    python benchmarks/bench_load_split.py --sequences 150    # quick run
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

VIEW = "000_180"
POOL_SEQUENCES = 24
POOL_FRAMES = 400


def render_pool(path: Path, seed: int) -> None:
    """``POOL_SEQUENCES`` rendered map sequences, uint8 (POOL_SEQUENCES, POOL_FRAMES, 2, 64, 64), as .npy."""
    from gaitprep.heatmaps import render_sequence
    from gaitprep.heatmaps.spec import preset
    from gaitprep.skeleton import CLASS_ORDER
    from gaitprep.synth.detector import detect
    from gaitprep.synth.subject import make_subject
    from gaitprep.synth.walker import walk

    spec = preset("recommended")
    pool = np.zeros((POOL_SEQUENCES, POOL_FRAMES, 2, 64, 64), np.uint8)
    for j in range(POOL_SEQUENCES):
        rng = np.random.default_rng([seed, 23, j])
        subject = make_subject(rng, CLASS_ORDER[j % 3])
        pose, _ = walk(subject, POOL_FRAMES, (640, 360), rng)
        maps = render_sequence(spec, detect(pose, rng)).maps
        pool[j, : len(maps)] = maps
    np.save(path, pool)


def pool_process(item):
    """Top-level (picklable) process: a rolled window of one pool sequence."""
    from gaitprep.build import ProcessResult

    pool_path, j, shift, frames = item.inputs
    pool = np.load(pool_path, mmap_mode="r")
    maps = np.ascontiguousarray(np.roll(pool[j], shift, axis=0)[:frames])
    return ProcessResult({"maps": maps}, frames, frames)


def build(work: Path, sequences: int, frames: tuple[int, int], seed: int, workers: int) -> Path:
    from gaitprep.build import BuildOptions, BuildPlan, SourceItem, build_dataset
    from gaitprep.manifest import ArraySpec, Layout, SourceInfo, json_digest
    from gaitprep.partition import Partition
    from gaitprep.synth.release import choose_partition, class_blocks

    pool = work / "pool.npy"
    if not pool.is_file():
        render_pool(pool, seed)
    labels = class_blocks(sequences)
    train, test = choose_partition(labels, 2, seed)
    partition = Partition(name="Scoliosis1K_112", train=tuple(train), test=tuple(test), sha256="bench")
    rng = np.random.default_rng([seed, 5])
    items = []
    for i, label in enumerate(labels):
        sid = f"{i:05d}"
        n = int(rng.integers(frames[0], frames[1] + 1))
        inputs = (str(pool), i % POOL_SEQUENCES, int(rng.integers(0, POOL_FRAMES)), n)
        split = "train" if sid in partition.train else "test"
        items.append(SourceItem(sid, label, label, VIEW, split, json_digest(inputs), inputs))
    spec = ArraySpec(
        dtype="uint8",
        per_frame=True,
        item_shape=(2, 64, 64),
        axes=("T", "C", "H", "W"),
        channels=("limb", "joint"),
    )
    plan = BuildPlan(
        out=work / "maps",
        name="bench-load-split",
        version="1.0.0",
        modality="skeleton_map",
        algo_version="bench",
        layout=Layout(formats=("zarr", "opengait-pkl"), primary="maps", arrays={"maps": spec}),
        params={"pool": POOL_SEQUENCES, "seed": seed},
        items=items,
        process=pool_process,
        source=SourceInfo(
            kind="tree", release="bench", root="bench", digest=json_digest([i.source_digest for i in items]),
            sequences=len(items),
        ),
        partition=partition,
    )  # fmt: skip
    return build_dataset(plan, BuildOptions(workers=workers, quiet=False)).path


def drop_cache(files: list[Path]) -> None:
    os.sync()
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed(fn, files: list[Path], repeats: int) -> dict[str, float]:
    """Cold (cache dropped first) once, then warm ``repeats`` times: wall seconds, and CPU seconds of the
    process (all threads: what the wall time would be on one otherwise idle core)."""
    drop_cache(files)
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
    nbytes = sum(a.nbytes for a in out)
    del out
    warm, warm_cpu = [], []
    for _ in range(repeats):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        warm.append(time.perf_counter() - t0)
        warm_cpu.append(time.process_time() - c0)
        del out
    return {
        "cold_s": cold,
        "cold_cpu_s": cold_cpu,
        "warm_s": statistics.median(warm),
        "warm_min_s": min(warm),
        "warm_cpu_s": statistics.median(warm_cpu),
        "bytes": nbytes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sequences", type=int, default=1493)
    ap.add_argument("--frames", default="280-320", help="inclusive range of frames per sequence")
    ap.add_argument("--split", default="train", choices=["train", "test"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="build workers")
    ap.add_argument("--threads", type=int, default=0, help="open_dataset.load threads (0: its default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--work", type=Path, help="folder for the pool and the dataset (default: a temporary one)"
    )
    ap.add_argument("--keep", action="store_true", help="keep --work (and reuse its dataset next time)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    lo, hi = (int(v) for v in args.frames.split("-"))

    import gaitprep
    from gaitprep.io.store import ZARR_DIR, pkl_path, read_sequence

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-load-split-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        path = build(work, args.sequences, (lo, hi), args.seed, args.workers)
        build_s = time.perf_counter() - t0
        z = gaitprep.open_dataset(path)
        p = gaitprep.open_dataset(path, format="opengait-pkl")
        m = z.manifest
        records = m.split_records(args.split)
        zarr_files = [path / f.path for r in records for f in r.files if f.path.startswith(f"{ZARR_DIR}/")]
        pkl_files = [path / pkl_path(r.id, r.label, r.view, "maps", "maps") for r in records]

        def pickle_reference() -> list[np.ndarray]:
            out = []
            for f in pkl_files:
                with open(f, "rb") as fh:
                    out.append(pickle.load(fh))
            return out

        def store_sequential() -> list[np.ndarray]:
            return [read_sequence(path, r, m.layout, names=["maps"], fmt="zarr")["maps"] for r in records]

        def zarr_api_sequential() -> list[np.ndarray]:
            import zarr
            from zarr.storage import LocalStore

            store = LocalStore(path / ZARR_DIR, read_only=True)
            return [zarr.open_array(store, path=f"{r.key}/maps", mode="r")[...] for r in records]

        cases = {
            "zarr: open_dataset().load (sha256-checked)": (lambda: z.load(args.split, threads=args.threads)[0], zarr_files),
            "pickle: open_dataset().load (sha256-checked)": (lambda: p.load(args.split, threads=args.threads)[0], pkl_files),
            "pickle: plain pickle.load per file (reference)": (pickle_reference, pkl_files),
            "zarr: store.read_sequence per sequence (unchecked)": (store_sequential, zarr_files),
            "zarr: zarr.open_array per sequence (zarr's reader)": (zarr_api_sequential, zarr_files),
        }  # fmt: skip
        results = {name: timed(fn, files, args.repeats) for name, (fn, files) in cases.items()}
        disk = {
            "zarr": sum(f.stat().st_size for f in zarr_files),
            "pickle": sum(f.stat().st_size for f in pkl_files),
        }
        names = list(results)

        def ratio(a: int, b: int, what: str) -> float:
            return results[names[a]][what] / results[names[b]][what]

        ratios = {
            "zarr/pickle, open_dataset, warm": ratio(0, 1, "warm_s"),
            "zarr/pickle, open_dataset, cold": ratio(0, 1, "cold_s"),
            "zarr/pickle, open_dataset, warm CPU": ratio(0, 1, "warm_cpu_s"),
            "zarr open_dataset / plain pickle reference, warm": ratio(0, 2, "warm_s"),
            "zarr open_dataset / plain pickle reference, cold": ratio(0, 2, "cold_s"),
            "zarr unchecked sequential / plain pickle reference, warm": ratio(3, 2, "warm_s"),
            "zarr unchecked sequential / plain pickle reference, warm CPU": ratio(3, 2, "warm_cpu_s"),
            "zarr.open_array sequential / plain pickle reference, warm": ratio(4, 2, "warm_s"),
        }
        doc = {
            "sequences": len(m.records),
            "split": args.split,
            "split_sequences": len(records),
            "split_frames": sum(r.frames for r in records),
            "array_bytes": results[names[0]]["bytes"],
            "disk_bytes": disk,
            "build_s": round(build_s, 1),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "results": results,
            "ratios": ratios,
        }
        if args.json:
            print(json.dumps(doc, indent=2))
            return
        gb = doc["array_bytes"] / 1e9
        print(
            f"{args.split} split: {len(records)} of {len(m.records)} sequences, {doc['split_frames']} frames, "
            f"{gb:.2f} GB of uint8 arrays; on disk zarr {disk['zarr'] / 1e9:.2f} GB, pickle "
            f"{disk['pickle'] / 1e9:.2f} GB (build {build_s:.0f} s); load average "
            f"{' '.join(f'{v:.1f}' for v in doc['load_average'])} on {os.cpu_count()} CPUs"
        )
        for name, r in results.items():
            print(
                f"  {name:<52} warm {r['warm_s']:6.2f} s ({gb / r['warm_s']:5.2f} GB/s, CPU {r['warm_cpu_s']:5.2f} s)"
                f"   cold {r['cold_s']:6.2f} s ({gb / r['cold_s']:5.2f} GB/s)"
            )
        for name, v in ratios.items():
            print(f"  {name:<58} {v:5.2f}x")
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
