"""Benchmark: gaitprep's skeleton-map renderer against a straightforward upstream-style loop.

Renders the same synthetic walking sequences with

(a) ``reference``: a per-frame, per-limb/joint loop written here after OpenGait's ``pretreatment_heatmap.py``
    (dense ``(17, 128, 128)`` float32 planes per branch per frame, max combination, ``HeatmapToImage``'s RGBA
    ``gray`` colormap, uint8 image, same-size resize and channel mean, then ``HeatmapAlignment``'s per-channel
    content crop and ``cv2.INTER_AREA`` to 64x64);
(b) :func:`gaitprep.heatmaps.render_sequence` with the ``recommended`` preset (Gaussians drawn straight on
    the 64-px output grid, ``raster="output"``), the same preset on the 128-px canvas then a 2x area
    downsample (``raster="canvas"``, shown for comparison) and the ``opengait`` preset,

in one process on one core (BLAS and OpenCV limited to one thread), and prints frames per CPU-second, the
speed-up over (a) (targets: recommended >= 25x, stretch 50x; opengait >= 10x), the largest difference between
(a) and opengait (must be 0: the opengait preset is bit-exact with upstream), and the peak RSS of rendering
one 1,000-frame sequence in a fresh child process (target < 400 MB). The implementations are timed interleaved, sequence by sequence, with CPU
time, so a busy shared machine distorts the ratios less than the absolute figures. BLAS is limited to one
thread unless ``OPENBLAS_NUM_THREADS`` is set: the renderer makes no BLAS call large enough to wake threads,
so its figures hardly change either way (an earlier version lost 2-3x to spinning BLAS threads).

    python benchmarks/bench_heatmaps.py --frames 300 --sequences 3
    python benchmarks/bench_heatmaps.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

# One core: set before numpy/OpenCV start their thread pools.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

LIMBS = (
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8),
    (8, 10), (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12),
)  # fmt: skip


def walking_pose(T: int, seed: int, leg_scale: float = 1.0) -> np.ndarray:
    """Synthetic walker ``(T, 17, 3)``: x, y image px (about 330 px tall), confidence in [0.6, 1].

    ``leg_scale < 1`` shortens the legs; below about 0.9 the upstream content crop stops being the full
    canvas and OpenCV's general area resample (slower) takes over.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(T, dtype=np.float64)
    ph = 2 * np.pi * t / (22.0 + 4.0 * rng.random()) + rng.random() * 6.28
    hx, hy = 300.0 + 4.0 * t, 400.0 + 3.0 * np.cos(2 * ph)
    P = np.zeros((T, 17, 3))
    sh_y = hy - 110.0
    P[:, 0, :2] = np.stack([hx + 12, sh_y - 45], 1)
    for v, (dx, dy) in zip((1, 2, 3, 4), ((-4, -6), (4, -6.5), (-11, -2), (5, -1)), strict=True):
        P[:, v, :2] = P[:, 0, :2] + (dx, dy)
    for side, (sh, el, wr, hp, kn, an) in ((1.0, (5, 7, 9, 11, 13, 15)), (-1.0, (6, 8, 10, 12, 14, 16))):
        P[:, sh, :2] = np.stack([hx - 12 * side, sh_y], 1)
        a = 0.45 * side * np.sin(ph)
        P[:, el, :2] = P[:, sh, :2] + 48 * np.stack([np.sin(a), np.cos(a)], 1)
        P[:, wr, :2] = P[:, el, :2] + 42 * np.stack([np.sin(a + 0.35), np.cos(a + 0.35)], 1)
        P[:, hp, :2] = np.stack([hx - 9 * side, hy], 1)
        b = -0.42 * side * np.sin(ph)
        bend = 0.3 * np.maximum(0, np.sin(ph + (0 if side < 0 else np.pi)))
        P[:, kn, :2] = P[:, hp, :2] + 85 * leg_scale * np.stack([np.sin(b), np.cos(b)], 1)
        P[:, an, :2] = P[:, kn, :2] + 82 * leg_scale * np.stack([np.sin(b - bend), np.cos(b - bend)], 1)
    P[..., :2] += rng.normal(0, 0.7, (T, 17, 2))
    P[..., 2] = rng.uniform(0.6, 1.0, (T, 17))
    return P


# ------------------------------------------------------------------------------- (a) the reference loop

# matplotlib's ``cm.gray`` lookup table (N = 256, plus under/over/bad rows) as RGBA float64.
_RGBA = np.ones((259, 4))
_RGBA[:256, :3] = np.linspace(0.0, 1.0, 256)[:, None]
_RGBA[256] = _RGBA[0]  # under
_RGBA[257] = _RGBA[255]  # over
_RGBA[258] = 0.0  # bad


def _heatmap_to_image(M: np.ndarray) -> np.ndarray:
    """OpenGait ``HeatmapToImage`` on one ``(H, W)`` plane: ``cmap(M)[..., :3] * 255`` as uint8, resized to its
    own size, averaged over RGB (matplotlib's ``Colormap.__call__`` for a float array, inlined)."""
    xa = M * np.float32(256)
    xa[xa == 256] = 255
    over, bad = xa >= 256, np.isnan(xa)
    idx = xa.astype(int)
    idx[over], idx[bad] = 257, 258
    rgb = (_RGBA.take(idx, axis=0)[..., :3] * 255).astype(np.uint8)
    h, w = M.shape
    return np.mean(cv2.resize(rgb, (w, h)), axis=-1)


def _joint(arr: np.ndarray, mu: np.ndarray, value: float, sigma: float) -> None:
    if value < 1e-3:
        return
    h, w = arr.shape
    st_x, ed_x = max(int(mu[0] - 3 * sigma), 0), min(int(mu[0] + 3 * sigma) + 1, w)
    st_y, ed_y = max(int(mu[1] - 3 * sigma), 0), min(int(mu[1] + 3 * sigma) + 1, h)
    x = np.arange(st_x, ed_x, 1, np.float32)
    y = np.arange(st_y, ed_y, 1, np.float32)
    if not (len(x) and len(y)):
        return
    y = y[:, None]
    patch = np.exp(-((x - mu[0]) ** 2 + (y - mu[1]) ** 2) / 2 / sigma**2) * value
    arr[st_y:ed_y, st_x:ed_x] = np.maximum(arr[st_y:ed_y, st_x:ed_x], patch)


def _limb(arr: np.ndarray, a: np.ndarray, b: np.ndarray, va: float, vb: float, sigma: float) -> None:
    value = min(va, vb)
    if value < 1e-3:
        return
    h, w = arr.shape
    min_x = max(int(min(a[0], b[0]) - 3 * sigma), 0)
    max_x = min(int(max(a[0], b[0]) + 3 * sigma) + 1, w)
    min_y = max(int(min(a[1], b[1]) - 3 * sigma), 0)
    max_y = min(int(max(a[1], b[1]) + 3 * sigma) + 1, h)
    x = np.arange(min_x, max_x, 1, np.float32)
    y = np.arange(min_y, max_y, 1, np.float32)
    if not (len(x) and len(y)):
        return
    y = y[:, None]
    d2a = (x - a[0]) ** 2 + (y - a[1]) ** 2
    d2b = (x - b[0]) ** 2 + (y - b[1]) ** 2
    d2ab = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
    if d2ab < 1:
        _joint(arr, a, va, sigma)
        return
    u = (d2a - d2b + d2ab) / 2.0 / d2ab
    px, py = a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1])
    d2line = (x - px) ** 2 + (y - py) ** 2
    d2 = np.where(u <= 0, d2a, np.where(u >= 1, d2b, d2line))
    patch = np.exp(-d2 / 2.0 / sigma**2) * value
    arr[min_y:max_y, min_x:max_x] = np.maximum(arr[min_y:max_y, min_x:max_x], patch)


def _align(G: np.ndarray) -> np.ndarray:
    """OpenGait ``HeatmapAlignment`` on one grey image."""
    A = G / 255.0
    rows = A.sum(axis=1) != 0
    top = rows.argmax()
    btm = rows.cumsum().argmax()
    h = btm - top + 1
    crop = A[top : btm + 1, 64 - h // 2 : 64 + h // 2 + 1]
    return (cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA) * 255).astype(np.uint8)


def reference_render(pose: np.ndarray, sigma: float = 8.0) -> np.ndarray:
    """Upstream-style loop: ``(T, 17, 3)`` -> ``uint8 (T, 2, 64, 64)`` [limb, joint]."""
    xy = pose[..., :2].astype(np.float64)
    hip = (xy[:, 11] + xy[:, 12]) / 2.0
    xy = xy - hip[:, None]
    span = xy[..., 1].max(axis=1) - xy[..., 1].min(axis=1)
    xy = xy * (128 // 1.5 / span)[:, None, None] + 64
    out = np.zeros((len(pose), 2, 64, 64), np.uint8)
    for t in range(len(pose)):
        limbs = np.zeros((17, 128, 128), np.float32)
        joints = np.zeros((17, 128, 128), np.float32)
        c = pose[t, :, 2]
        for i, (a, b) in enumerate(LIMBS):
            _limb(limbs[i], xy[t, a], xy[t, b], c[a], c[b], sigma)
        for v in range(17):
            _joint(joints[v], xy[t, v], c[v], sigma)
        for ch, planes in enumerate((limbs, joints)):
            out[t, ch] = _align(_heatmap_to_image(planes.max(axis=0)))
    return out


# ------------------------------------------------------------------------------------------ measuring


def _child_rss(preset_name: str, frames: int) -> None:
    """Run in a fresh process: render one ``frames``-long sequence, print RSS figures as JSON."""
    from gaitprep.heatmaps import preset, render_sequence

    pose = walking_pose(frames, seed=123)
    before = _current_rss_kb()
    render_sequence(preset(preset_name), pose)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"peak_rss_mb": peak / 1024.0, "rss_before_render_mb": before / 1024.0}))


def _current_rss_kb() -> float:
    """Resident set size now (KiB), from /proc where available, else the peak so far."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _rss_in_child(preset_name: str, frames: int) -> dict[str, float]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child-rss", preset_name, "--frames", str(frames)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per sequence")
    parser.add_argument("--sequences", type=int, default=3, help="sequences rendered by each implementation")
    parser.add_argument("--quick", action="store_true", help="1 sequence, reference on 60 frames, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3, help="best-of repeats for our renderer")
    parser.add_argument("--rss-frames", type=int, default=1000, help="frames of the peak-RSS sequence")
    parser.add_argument("--leg-scale", type=float, default=1.0, help="walker leg length factor (0.8: short)")
    parser.add_argument("--child-rss", metavar="PRESET", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_rss:
        _child_rss(args.child_rss, args.frames)
        return 0

    from gaitprep.heatmaps import preset, render_sequence

    n_seq = 1 if args.quick else args.sequences
    repeats = 1 if args.quick else args.repeats
    poses = [walking_pose(args.frames, seed=s, leg_scale=args.leg_scale) for s in range(n_seq)]
    ref_frames = 60 if args.quick else args.frames
    specs = {
        "recommended": preset("recommended"),
        "recommended-canvas": preset("recommended", raster="canvas"),
        "opengait": preset("opengait"),
    }
    render_sequence(specs["opengait"], poses[0][:8])  # warm-up: tables, imports
    cpu = dict.fromkeys(("reference", *specs), 0.0)
    frames = dict.fromkeys(("reference", *specs), 0)
    diff = 0
    for pose in poses:  # interleaved, so load changes hit every implementation alike
        t0 = time.process_time()
        ref = reference_render(pose[:ref_frames])
        cpu["reference"] += time.process_time() - t0
        frames["reference"] += ref_frames
        for name, spec in specs.items():
            best = float("inf")
            for _ in range(repeats):
                t0 = time.process_time()
                maps = render_sequence(spec, pose).maps
                best = min(best, time.process_time() - t0)
            cpu[name] += best
            frames[name] += len(pose)
            if name == "opengait":
                diff = max(diff, int(np.abs(maps[:ref_frames].astype(int) - ref).max()))
    fps = {name: frames[name] / cpu[name] for name in cpu}
    print(
        f"frames/sequence {args.frames}, sequences {n_seq}, reference frames/sequence {ref_frames}, "
        f"leg scale {args.leg_scale}, one core"
    )
    print(
        f"{'reference loop':<28} {fps['reference']:9.1f} frames/CPU-s ({1e3 / fps['reference']:.2f} ms/frame)"
    )
    for name in specs:
        ratio = fps[name] / fps["reference"]
        print(
            f"{'gaitprep ' + name:<28} {fps[name]:9.1f} frames/CPU-s ({1e3 / fps[name]:.3f} ms/frame) {ratio:6.1f}x"
        )
    print(f"max |opengait - reference| = {diff} grey level(s) (must be 0: bit-exact)")
    for name, target in (("recommended", 25.0), ("opengait", 10.0)):
        ratio = fps[name] / fps["reference"]
        print(f"target {name} >= {target:.0f}x: {'met' if ratio >= target else 'MISSED'} ({ratio:.1f}x)")
    for name in ("recommended", "opengait"):
        rss = _rss_in_child(name, args.rss_frames)
        print(
            f"peak RSS rendering {args.rss_frames} frames ({name}): {rss['peak_rss_mb']:.1f} MB "
            f"(RSS before rendering {rss['rss_before_render_mb']:.1f} MB; target < 400 MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
