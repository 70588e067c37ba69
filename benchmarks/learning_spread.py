"""How much a short training run's test macro-F1 moves with the seeds: the spread behind one demo figure.

One short run on the synthetic demo data gives one number, and with a few neutral test sequences that
number moves a lot between seeds (the network's initialisation and its clips) and between CPUs (floating-
point differences change the trajectory). This script makes the spread visible: for every data seed it
writes a synthetic release (``pose-pkl`` only), builds ``recommended`` skeleton maps (and PAV for DRF) on
the release's partition, then trains and evaluates one run per training seed through the real CLI,
``--jobs`` runs at a time (joblib), and prints each run's figures and the min / median / mean.

    python benchmarks/learning_spread.py --seeds 0-3                       # the demo recipe, 4 seeds
    python benchmarks/learning_spread.py --seeds 0-7 --jobs 8 --device cuda --json
    python benchmarks/learning_spread.py --model drf --iterations 400 --seeds 0-3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from joblib import Parallel, delayed

# The README demo's training options (scripts/demo.sh), less the ones this script varies.
DEMO_TRAIN = ("--recipe", "adamw-cosine", "--widths", "8,16,32,64", "--frames", "30",
              "--class-weights", "inverse-frequency")  # fmt: skip


def seed_range(text: str) -> list[int]:
    """``"0-3"`` -> [0, 1, 2, 3]; ``"0,5,9"`` -> [0, 5, 9]."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def build_data(root: Path, data_seed: int, args: argparse.Namespace) -> tuple[Path, Path | None, dict]:
    from gaitprep.build.datasets import BuildOptions, build_heatmaps, build_pav
    from gaitprep.heatmaps.spec import preset
    from gaitprep.partition import load_partition
    from gaitprep.synth.release import write_release

    lo, _, hi = args.frames.partition("-")
    w, h = (int(v) for v in args.size.split("x"))
    summary = write_release(
        root / "release", sequences=args.sequences, frames=(int(lo), int(hi or lo)), image_size=(w, h),
        seed=data_seed, ratio=args.ratio, layouts=("pose-pkl",), workers=args.jobs,
    )  # fmt: skip
    part = load_partition(summary["partition"])
    poses = root / "release" / "pose-pkl"
    build_heatmaps(
        poses,
        root / "maps",
        preset("recommended"),
        options=BuildOptions(partition=part, workers=args.jobs, quiet=True),
    )
    pav = None
    if args.model == "drf":
        pav = root / "pav"
        build_pav(poses, pav, options=BuildOptions(partition=part, quiet=True))
    return root / "maps", pav, summary["splits"]


def train_and_evaluate(maps: Path, pav: Path | None, run: Path, seed: int, args: argparse.Namespace) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    pav_args = ["--pav-manifest", str(pav)] if pav else []
    train = [
        sys.executable, "-m", "gaitmodels", "train", "--manifest", str(maps), *pav_args,
        "--model", args.model, *DEMO_TRAIN, "--lr", str(args.lr), "--batch", args.batch,
        "--iterations", str(args.iterations), "--seed", str(seed), "--device", args.device,
        "--save-every", str(args.iterations), "--out", str(run), "-q",
    ]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(train, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return {"seed": seed, "error": done.stderr.strip().splitlines()[-1:]}
    seconds = time.perf_counter() - t0
    evaluate = [
        sys.executable, "-m", "gaitmodels", "evaluate", "--checkpoint", str(run), "--manifest", str(maps),
        *pav_args, "--device", args.device, "--json",
    ]  # fmt: skip
    done = subprocess.run(evaluate, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return {"seed": seed, "error": done.stderr.strip().splitlines()[-1:]}
    report = json.loads(done.stdout)
    return {
        "seed": seed,
        "train_s": round(seconds, 1),
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "per_class_f1": {c: v["f1"] for c, v in report["per_class"].items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="sconet-mt-ske", choices=("sconet-mt-ske", "drf"))
    ap.add_argument("--sequences", type=int, default=150)
    ap.add_argument("--frames", default="30-40")
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--ratio", default="1:1:4")
    ap.add_argument("--data-seeds", default="0", help="synthetic release seeds, e.g. 0-2")
    ap.add_argument("--seeds", default="0-3", help="training seeds, e.g. 0-7")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", default="4,2")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time")
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1) // 2), help="threads per run")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)

    results = []
    with tempfile.TemporaryDirectory(prefix="learning-spread-") as tmp:
        for data_seed in seed_range(args.data_seeds):
            root = Path(tmp) / f"data-{data_seed}"
            maps, pav, splits = build_data(root, data_seed, args)
            print(f"data seed {data_seed}: train {splits['train']}, test {splits['test']}", file=sys.stderr)
            runs = Parallel(n_jobs=args.jobs)(
                delayed(train_and_evaluate)(maps, pav, root / f"run-{s}", s, args)
                for s in seed_range(args.seeds)
            )
            for r in runs:
                r["data_seed"] = data_seed
                print(json.dumps(r), file=sys.stderr)
            results.extend(runs)
    scores = [r["macro_f1"] for r in results if "macro_f1" in r]
    summary = {
        "config": {k: v for k, v in vars(args).items() if k not in ("json",)},
        "runs": results,
        "macro_f1": {
            "n": len(scores),
            "min": min(scores, default=None),
            "median": statistics.median(scores) if scores else None,
            "mean": round(statistics.fmean(scores), 2) if scores else None,
            "max": max(scores, default=None),
            "share_ge_60": round(sum(s >= 60 for s in scores) / len(scores), 2) if scores else None,
        },
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        m = summary["macro_f1"]
        print(f"{args.model}: macro-F1 over {m['n']} runs: min {m['min']}, median {m['median']}, "
              f"mean {m['mean']}, max {m['max']}; share >= 60: {m['share_ge_60']}")  # fmt: skip
    return 0 if len(scores) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
