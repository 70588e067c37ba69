"""Benchmark: skeleton maps of real human walking with each preset, side by side.

Renders the real-walking fixture (LaFAN1 optical motion capture, downloaded into the user cache at run time:
CC BY-NC-ND, never committed; four clean walking runs, projected at 1280x720 for the front and back views,
at a fixed distance and with the real forward travel) with ``opengait`` and ``recommended`` and prints, per
camera set-up, one table with for each view and preset:

- frames touching each border: the share of frames in which a channel reaches grey >= 64 on the top or bottom
  row, or in the 10 columns per side that the training cut removes (the worse channel);
- torso-length jitter: per frame, the distance in output pixels between the shoulder and the hip midpoints
  under the renderer's own per-frame transform; its mean relative deviation from a centred 15-frame moving
  average; the median over sequences (a per-frame span scaling makes a rigid torso breathe with the stride);
- the mean limb/joint registration offset (output px);
- frames per CPU-second (one process; a shared machine makes this figure noisy).

Then the ratio of the two presets' jitter (target: recommended <= 0.6x opengait) and the border target
(recommended <= 1% of frames on every side).

    python benchmarks/bench_real_walking.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import cv2  # noqa: E402

from gaitprep.heatmaps import preset, render_sequence  # noqa: E402
from gaitprep.heatmaps.stats import SIDES, aggregate_stats  # noqa: E402
from gaitprep.synth.lafan1 import RealWalkingUnavailable, fetch_lafan1_bvh  # noqa: E402
from gaitprep.synth.realwalk import walking_sequences  # noqa: E402

cv2.setNumThreads(1)
PRESETS = ("opengait", "recommended")


def measure(walks, name: str) -> dict[str, float]:
    """Render ``walks`` with preset ``name``: aggregate statistics plus ``fps`` (frames per CPU-second)."""
    spec = preset(name)
    start = time.process_time()
    stats = [render_sequence(spec, w.pose).stats for w in walks]
    cpu = time.process_time() - start
    agg = aggregate_stats(stats)
    agg["fps"] = agg["frames_out"] / cpu if cpu > 0 else float("inf")
    for side in SIDES:
        agg[f"touch_{side}"] = max(agg[f"border_frame_fraction_{c}_{side}"] for c in spec.channel_names)
    return agg


def table(title: str, rows: list[tuple[str, str, dict[str, float]]]) -> list[str]:
    head = (
        f"{'view':<6} {'preset':<12} {'frames':>6} {'top %':>6} {'bottom %':>8} {'left %':>7} {'right %':>7} "
        f"{'torso jitter %':>14} {'reg. px':>7} {'frames/s':>9}"
    )
    lines = [title, head, "-" * len(head)]
    for view, name, a in rows:
        lines.append(
            f"{view:<6} {name:<12} {int(a['frames_out']):>6} {100 * a['touch_top']:>6.1f} "
            f"{100 * a['touch_bottom']:>8.1f} {100 * a['touch_left']:>7.1f} {100 * a['touch_right']:>7.1f} "
            f"{100 * a['torso_jitter_median']:>14.3f} {a.get('registration_offset_mean_px_mean', 0.0):>7.2f} "
            f"{a['fps']:>9.0f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    try:
        bvh = fetch_lafan1_bvh()
    except RealWalkingUnavailable as exc:
        print(f"real-walking data unavailable: {exc.reason}", file=sys.stderr)
        return 1
    ok = True
    for travel, title in ((False, "fixed distance"), (True, "forward travel")):
        rows, ratios = [], []
        for view in ("front", "back"):
            walks = walking_sequences(bvh, view, travel)
            figures = {name: measure(walks, name) for name in PRESETS}
            rows += [(view, name, figures[name]) for name in PRESETS]
            og, rec = figures["opengait"], figures["recommended"]
            ratio = rec["torso_jitter_median"] / og["torso_jitter_median"]
            worst = max(rec[f"touch_{side}"] for side in SIDES)
            ratios.append(
                f"  {view}: recommended/opengait torso jitter {ratio:.2f}x (target <= 0.6x: "
                f"{'met' if ratio <= 0.6 else 'MISSED'}); recommended worst side {100 * worst:.1f}% of frames "
                f"(target <= 1%: {'met' if worst <= 0.01 else 'MISSED'})"
            )
            ok &= ratio <= 0.6 and worst <= 0.01
        print("\n".join(table(f"Real walking, {title} (4 LaFAN1 runs per view, 1280x720):", rows)))
        print("\n".join(ratios))
        print()
    print(f"all targets {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
