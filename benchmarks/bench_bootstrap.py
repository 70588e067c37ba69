"""Bootstrap intervals: the vectorised resampler of ``gaitmodels.bootstrap`` vs a straightforward loop of
scikit-learn calls over the same resamples (``accuracy_score``, ``f1_score``, ``roc_auc_score`` per resample).

Both compute accuracy, macro-F1 and macro AUC for every resample of N sequences; the script checks that
they agree to 1e-9 and prints the wall time of each and their ratio. The loop times a subset of the
resamples (``--loop-resamples``) and is scaled up to the full count.

    python benchmarks/bench_bootstrap.py [--sequences 748] [--resamples 2000] [--loop-resamples 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from gaitmodels.bootstrap import (
    bootstrap_ci,
    resample_counts,
    weighted_accuracy,
    weighted_macro_auc,
    weighted_macro_f1,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=748, help="test sequences (a Scoliosis1K test split)")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--loop-resamples", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.sequences
    truth = rng.integers(0, 3, n)
    probs = rng.dirichlet([1, 1, 1], n)
    probs[np.arange(n), truth] += 0.4
    probs /= probs.sum(1, keepdims=True)
    pred = probs.argmax(1)

    t0 = time.perf_counter()
    bootstrap_ci(truth, probs, resamples=args.resamples)
    vectorised = time.perf_counter() - t0

    w = resample_counts(n, args.loop_resamples)
    draws = [np.repeat(np.arange(n), row.astype(int)) for row in w]
    t0 = time.perf_counter()
    loop = []
    for d in draws:
        t, p, s = truth[d], pred[d], probs[d]
        loop.append(
            (
                accuracy_score(t, p),
                f1_score(t, p, average="macro", zero_division=0),
                roc_auc_score(t, s, multi_class="ovr", average="macro"),
            )
        )
    looped = (time.perf_counter() - t0) * args.resamples / args.loop_resamples
    fast = np.stack([weighted_accuracy(w, truth, pred), weighted_macro_f1(w, truth, pred, 3),
                     weighted_macro_auc(w, truth, probs)], axis=1)  # fmt: skip
    worst = float(np.abs(fast - np.array(loop)).max())
    assert worst < 1e-9, worst
    print(f"{n} sequences, {args.resamples} resamples (accuracy, macro-F1, macro AUC per resample)")
    print(f"  vectorised (gaitmodels.bootstrap): {vectorised:.3f} s")
    print(f"  scikit-learn loop:                 {looped:.3f} s (timed on {args.loop_resamples}, scaled)")
    print(f"  ratio: {looped / vectorised:.1f}x; largest difference {worst:.1e}")


if __name__ == "__main__":
    main()
