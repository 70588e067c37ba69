"""Benchmark: CPU training throughput of ScoNet-MT-ske against the data loading that feeds it.

Builds a synthetic skeleton-map dataset (``gaitprep.synth`` release -> ``build_heatmaps`` with the
``recommended`` preset), loads its TRAIN split into RAM as ``gaitmodels train`` does, then in one run
measures, in clips (samples) per second:

(a) ``loading``: ``TrainClips`` + the DataLoader's default collate alone (frame sampling, the 10-px cut,
    /255, stacking), no model, the exact batches ``train`` draws (``TripletSampler`` + ``TokenBatches``);
(b) ``train``: full training iterations (forward, CE + triplet, backward, SGD step) on batches from (a), for
    the upstream widths (64, 128, 256, 512) and a small-width config (default 8, 16, 32, 64).

Each figure is reported per wall-clock second and per CPU-second of this process (the machine may be
shared), and the loading share of an iteration is printed, showing whether loading is the bottleneck.
Upstream's batch is 8 x 8 sequences x 30 frames; a full-width iteration at that size takes minutes on a
small CPU, so the default full-width batch is smaller (``--upstream-batch``) and says so in the output.

    python benchmarks/bench_train.py
    python benchmarks/bench_train.py --upstream-batch 8,8 --upstream-iterations 1   # the real batch
    python benchmarks/bench_train.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from gaitmodels.data import ManifestData, TrainClips, load_split
from gaitmodels.losses import part_cross_entropy, triplet_loss
from gaitmodels.models import ModelConfig, build_model
from gaitmodels.sampling import TripletSampler
from gaitmodels.train import TokenBatches

UPSTREAM_WIDTHS = (64, 128, 256, 512)


def build_maps(root: Path, sequences: int, frames: tuple[int, int]) -> Path:
    """A synthetic release and its recommended skeleton maps under ``root``; returns the dataset path."""
    from gaitprep.build.datasets import BuildOptions, build_heatmaps
    from gaitprep.heatmaps.spec import preset
    from gaitprep.partition import load_partition
    from gaitprep.synth.release import write_release

    summary = write_release(
        root / "release",
        sequences=sequences,
        frames=frames,
        image_size=(320, 180),
        seed=0,
        layouts=("pose-pkl",),
    )
    part = load_partition(summary["partition"])
    build_heatmaps(
        root / "release" / "pose-pkl",
        root / "maps",
        preset("recommended"),
        options=BuildOptions(partition=part, quiet=True),
    )
    return root / "maps"


def loader_for(split, p: int, k: int, frames: int, start: int, stop: int, seed: int = 0):
    sampler = TripletSampler(split.ids, p, k, seed=seed)
    return torch.utils.data.DataLoader(
        TrainClips(split, frames, "fixed_unordered", seed), batch_sampler=TokenBatches(sampler, start, stop)
    )


def time_loading(split, p: int, k: int, frames: int, iterations: int) -> dict[str, float]:
    """Clips per second of sampling + cut + collate alone."""
    wall, cpu = time.perf_counter(), time.process_time()
    clips = 0
    for x, *_ in loader_for(split, p, k, frames, 0, iterations):
        clips += x.shape[0]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "clips": clips,
        "wall_s": wall,
        "cpu_s": cpu,
        "clips_per_s": clips / wall,
        "clips_per_cpu_s": clips / cpu,
    }


def time_training(split, widths, p: int, k: int, frames: int, iterations: int, warmup: int = 1) -> dict:
    """Clips per second of full training iterations (the first ``warmup`` ones are not timed)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="sconet-mt-ske", widths=tuple(widths)))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    load_wall = 0.0
    clips = 0
    wall = cpu = 0.0
    batches = iter(loader_for(split, p, k, frames, 0, warmup + iterations))
    for i in range(warmup + iterations):
        t0, c0 = time.perf_counter(), time.process_time()
        x, labels, index, _ = next(batches)
        t1 = time.perf_counter()
        out = model(x)
        loss = part_cross_entropy(out["logits"], labels) + triplet_loss(out["embed"], index).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= warmup:
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            load_wall += t1 - t0
            clips += x.shape[0]
    return {
        "widths": list(widths),
        "batch": [p, k],
        "frames": frames,
        "iterations": iterations,
        "clips": clips,
        "wall_s": wall,
        "cpu_s": cpu,
        "clips_per_s": clips / wall,
        "clips_per_cpu_s": clips / cpu,
        "frames_per_s": clips * frames / wall,
        "s_per_iteration": wall / iterations,
        "loading_share": load_wall / wall,
        "parameters": sum(q.numel() for q in model.parameters()),
    }


def pair(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sequences", type=int, default=40, help="synthetic sequences (about half are TRAIN)")
    ap.add_argument("--seq-frames", default="60,80", help="raw frames per sequence, min,max")
    ap.add_argument("--frames", type=int, default=30, help="frames per training clip (upstream 30)")
    ap.add_argument("--small-widths", default="8,16,32,64")
    ap.add_argument("--small-batch", default="8,8", help="P,K of the small-width config (upstream 8,8)")
    ap.add_argument("--small-iterations", type=int, default=5)
    ap.add_argument("--upstream-batch", default="2,2", help="P,K at the upstream widths (upstream 8,8)")
    ap.add_argument("--upstream-iterations", type=int, default=2)
    ap.add_argument("--loading-iterations", type=int, default=50)
    ap.add_argument("--data", help="an existing skeleton-map dataset instead of a fresh synthetic one")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run in seconds")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    args = ap.parse_args(argv)
    if args.quick:
        args.sequences, args.seq_frames, args.small_iterations = 12, "30,40", 2
        args.upstream_batch, args.upstream_iterations, args.loading_iterations = "1,2", 1, 10
        args.frames, args.small_batch = 10, "4,2"

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        t0 = time.perf_counter()
        maps = Path(args.data) if args.data else build_maps(Path(tmp), args.sequences, pair(args.seq_frames))
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        split = load_split(ManifestData.open(maps), "train")
        loaded = time.perf_counter() - t0
    sp, sk = pair(args.small_batch)
    up, uk = pair(args.upstream_batch)
    report = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "dataset": {
            "train_sequences": len(split),
            "train_frames": int(sum(f.shape[0] for f in split.frames)),
            "build_s": round(built, 2),
            "load_split_s": round(loaded, 3),
        },
        "loading": time_loading(split, sp, sk, args.frames, args.loading_iterations),
        "train_small": time_training(
            split, pair(args.small_widths), sp, sk, args.frames, args.small_iterations
        ),
        "train_upstream": time_training(
            split, UPSTREAM_WIDTHS, up, uk, args.frames, args.upstream_iterations
        ),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    d, ld = report["dataset"], report["loading"]
    print(f"torch {report['torch']}, {report['threads']} threads on {report['cpus']} CPUs")
    print(
        f"dataset: {d['train_sequences']} TRAIN sequences, {d['train_frames']} frames "
        f"(built in {d['build_s']} s, read into RAM in {d['load_split_s']} s)"
    )
    print(
        f"loading (TrainClips + collate, batch {sp}x{sk} x {args.frames} frames): "
        f"{ld['clips_per_s']:,.0f} clips/s wall, {ld['clips_per_cpu_s']:,.0f} clips/CPU-s"
    )
    for key, note in (("train_small", ""), ("train_upstream", "")):
        r = report[key]
        if key == "train_upstream" and tuple(r["batch"]) != (8, 8):
            note = f"  [batch {r['batch'][0]}x{r['batch'][1]}, not upstream's 8x8: a full-width 8x8 step is minutes]"
        print(
            f"train widths {tuple(r['widths'])} ({r['parameters']:,} params), batch {r['batch'][0]}x{r['batch'][1]}"
            f" x {r['frames']} frames: {r['clips_per_s']:.2f} clips/s wall, {r['clips_per_cpu_s']:.2f} clips/CPU-s,"
            f" {r['s_per_iteration']:.2f} s/iteration, loading {100 * r['loading_share']:.2f} % of it{note}"
        )
    ratio = ld["clips_per_s"] / report["train_small"]["clips_per_s"]
    print(f"loading is {ratio:,.0f}x faster than even the small-width training step: not the bottleneck")
    return 0


if __name__ == "__main__":
    sys.exit(main())
