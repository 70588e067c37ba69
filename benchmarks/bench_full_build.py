"""Benchmark: a Scoliosis1K-scale build through ``gaitprep run`` (recommended skeleton maps + PAV).

1. Writes a synthetic pose-pkl release at full scale (default 1,493 sequences of 280-320 frames, about
   447,900 frames like the real dataset; class-blocked ids, float64 (T, 17, 3) pickles, detector noise) and
   a 1:1:2 partition, in the real data-root layout (``pose-pkl/``, ``partitions/Scoliosis1K_112.json``).
   Pose only: the walker's poses are written directly, without rendering silhouettes.
2. Runs a recipe whose two stages are taken from the shipped ``pipelines/body-sigma8-shared.yaml``
   (recommended maps, Zarr) and ``pipelines/pav-112.yaml`` (PAV fitted on TRAIN) with ``--workers``
   joblib processes, then runs it again (everything must be up to date).
3. Prints per stage: wall time, frames/s; overall: wall time, CPU time (user + system of the process
   and its workers: what the wall time would be on idle cores, whatever else shares the machine), peak
   memory and output size.

Peak memory is reported two ways: the peak of the summed RSS of this process and all its descendants,
sampled every 50 ms from /proc (the figure to compare with a machine's RAM), and
``getrusage(RUSAGE_SELF).ru_maxrss + getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the largest single
terminated child, counted after the worker pool is shut down).

    python benchmarks/bench_full_build.py                     # full scale, 2 workers
    python benchmarks/bench_full_build.py --sequences 150     # quick run
    python benchmarks/bench_full_build.py --work /data/bench --keep --json

Target: under 5 minutes end to end (fingerprint + maps + PAV) on 2 cores at full scale.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
VIEW = "000_180"
STREAM = 11  # keeps these random streams apart from gaitprep synth's


def write_sequence(root: Path, index: int, label: str, frames: tuple[int, int], seed: int) -> int:
    """One synthetic sequence's pose pickle (float64 (T, 17, 3), 640x360 image px); returns T."""
    from gaitprep.io.safe_pickle import dump_array_pickle
    from gaitprep.synth.detector import detect
    from gaitprep.synth.subject import make_subject
    from gaitprep.synth.walker import walk

    rng = np.random.default_rng([seed, STREAM, index])
    n = int(rng.integers(frames[0], frames[1] + 1))
    subject = make_subject(rng, label)
    pose, _ = walk(subject, n, (640, 360), rng)
    noisy = detect(pose, rng)
    dump_array_pickle(
        noisy.astype(np.float64), root / "pose-pkl" / f"{index:05d}" / label / VIEW / f"{VIEW}.pkl"
    )
    return n


def write_pose_release(root: Path, sequences: int, frames: tuple[int, int], seed: int, workers: int) -> int:
    """The data root: ``pose-pkl/`` and ``partitions/Scoliosis1K_112.json``. Returns the frame count."""
    from joblib import Parallel, delayed

    from gaitprep.partition import write_partition
    from gaitprep.synth.release import choose_partition, class_blocks

    labels = class_blocks(sequences)
    counts = Parallel(n_jobs=workers, batch_size=16)(
        delayed(write_sequence)(root, i, label, frames, seed) for i, label in enumerate(labels)
    )
    write_partition(root / "partitions" / "Scoliosis1K_112.json", *choose_partition(labels, 2, seed))
    return int(sum(counts))


def bench_recipe(path: Path) -> Path:
    """A recipe with the maps stage of body-sigma8-shared.yaml and the PAV stage of pav-112.yaml."""
    maps = yaml.safe_load((REPO / "pipelines" / "body-sigma8-shared.yaml").read_text())
    pav = yaml.safe_load((REPO / "pipelines" / "pav-112.yaml").read_text())
    recipe = {
        "name": "bench-full-build",
        "inputs": {"pose": "pose-pkl"},
        "partition": "partitions/Scoliosis1K_112.json",
        "stages": [maps["stages"][0], pav["stages"][0]],
    }
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


class TreeRss:
    """Samples the summed RSS (bytes) of this process and all its descendants; keeps the peak."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _children(self) -> dict[int, list[int]]:
        kids: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
        return kids

    def sample(self) -> int:
        kids = self._children()
        total, todo = 0, [os.getpid()]
        while todo:
            pid = todo.pop()
            todo.extend(kids.get(pid, ()))
            try:
                with open(f"/proc/{pid}/statm") as fh:
                    total += int(fh.read().split()[1]) * self._page
            except (OSError, IndexError, ValueError):
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeRss:
        if Path("/proc").is_dir():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def cpu_seconds() -> np.ndarray:
    """User + system CPU seconds so far: ``[this process, its reaped children]``."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return np.array([me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime])


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sequences", type=int, default=1493, help="sequences (default: Scoliosis1K's 1,493)"
    )
    parser.add_argument("--frames", default="280-320", help="frames per sequence, LO-HI (default 280-320)")
    parser.add_argument("--workers", type=int, default=2, help="joblib worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, deleted)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    lo, _, hi = args.frames.partition("-")
    frames = (int(lo), int(hi or lo))

    from joblib.externals.loky import get_reusable_executor

    from gaitprep.pipelines import run_pipeline

    work = args.work or Path(tempfile.mkdtemp(prefix="gaitprep-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    if data.exists():
        shutil.rmtree(data)
    try:
        t0 = time.perf_counter()
        total_frames = write_pose_release(data, args.sequences, frames, args.seed, args.workers)
        synth_s = time.perf_counter() - t0
        get_reusable_executor().shutdown(wait=True)  # start the build with a fresh worker pool
        recipe = bench_recipe(data / "bench.yaml")
        log = sys.stderr
        print(
            f"synthetic pose-pkl: {args.sequences} sequences, {total_frames} frames in {synth_s:.1f} s",
            file=log,
        )

        cpu0 = cpu_seconds()
        with TreeRss() as rss:
            t0 = time.perf_counter()
            first = run_pipeline(recipe, workers=args.workers, quiet=True)
            build_s = time.perf_counter() - t0
            get_reusable_executor().shutdown(wait=True)  # reap the workers so RUSAGE_CHILDREN counts them
        main_cpu, worker_cpu = (cpu_seconds() - cpu0).tolist()
        build_cpu = main_cpu + worker_cpu
        # Main-process work (fingerprints, PAV fit, hashing, manifests) is serial; worker CPU splits over
        # the workers: the wall time this build would take on idle cores.
        idle_estimate = main_cpu + worker_cpu / args.workers
        t0 = time.perf_counter()
        second = run_pipeline(recipe, workers=args.workers, quiet=True)
        rerun_s = time.perf_counter() - t0
        ru_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        ru_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        assert all(s.status == "up to date" for s in second.stages), "the second run rebuilt something"

        stages = []
        for s in first.stages:
            out = Path(s.path)
            stages.append(
                {
                    "name": s.name,
                    "kind": s.kind,
                    "status": s.status,
                    "sequences": s.sequences,
                    "frames": s.frames,
                    "seconds": s.seconds,
                    "frames_per_s": round(s.frames / s.seconds, 1) if s.seconds else None,
                    "output_bytes": tree_bytes(out),
                    "content_digest": s.content_digest,
                }
            )
        doc = {
            "sequences": args.sequences,
            "frames": total_frames,
            "workers": args.workers,
            "cpu_count": os.cpu_count(),
            "synth_seconds": round(synth_s, 2),
            "build_seconds": round(build_s, 2),
            "build_frames_per_s": round(total_frames / build_s, 1),
            "build_cpu_seconds": round(build_cpu, 1),
            "main_process_cpu_seconds": round(main_cpu, 1),
            "worker_cpu_seconds": round(worker_cpu, 1),
            "idle_cores_wall_estimate_seconds": round(idle_estimate, 1),
            "cpu_ms_per_frame": round(1000 * build_cpu / total_frames, 3),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "rerun_seconds": round(rerun_s, 2),
            "peak_tree_rss_bytes": rss.peak,
            "rusage_self_plus_largest_child_bytes": ru_self + ru_children,
            "output_bytes": sum(s["output_bytes"] for s in stages),
            "stages": stages,
            "target": "build_seconds < 300 at 1,493 sequences on 2 cores",
        }
        if args.json:
            print(json.dumps(doc, indent=2))
        else:
            mib = 1024 * 1024
            print(
                f"{args.sequences} sequences, {total_frames} frames, {args.workers} workers ({os.cpu_count()} CPUs)"
            )
            for s in stages:
                print(
                    f"  {s['name']:<22} {s['seconds']:8.1f} s  {s['frames_per_s']:>9.0f} frames/s  "
                    f"{s['output_bytes'] / mib:8.1f} MiB"
                )
            print(f"  build end to end       {build_s:8.1f} s  {total_frames / build_s:>9.0f} frames/s")
            print(
                f"  CPU time               {build_cpu:8.1f} s  ({1000 * build_cpu / total_frames:.3f} ms/frame: "
                f"main process {main_cpu:.1f} s, workers {worker_cpu:.1f} s)"
            )
            print(
                f"  wall on {args.workers} idle cores    {idle_estimate:8.1f} s  (main + workers / {args.workers}; "
                f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
            )
            print(f"  re-run (up to date)    {rerun_s:8.1f} s")
            print(f"  peak RSS, process tree (sampled)        {rss.peak / mib:8.0f} MiB")
            print(f"  peak RSS, self + largest child (rusage) {(ru_self + ru_children) / mib:8.0f} MiB")
            print(f"  output size                             {doc['output_bytes'] / mib:8.1f} MiB")
            print(f"  synthetic input written in {synth_s:.1f} s (not part of the build)")
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
