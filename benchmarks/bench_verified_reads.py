"""Loading a whole split into RAM with and without the verified read, per storage format.

Builds a synthetic skeleton-map dataset (default: Scoliosis1K's 1,493 sequences at 60 frames each, uint8
(T, 2, 64, 64); ``--frames 300`` gives the full ~448k frames, ≈3.7 GB decoded) in Zarr and pickle form,
then times, in one run and on the same files (page cache warm, best of ``--repeats``):

- ``unverified``: ``gaitprep.io.store.read_sequence`` per sequence (its direct one-chunk decode, or the
  restricted unpickler on the file), sizes checked only by the quick check: what loading did before;
- ``unverified + sha256 pass``: the straightforward way to add the check: hash every file, then read it;
- ``zarr's own reader`` (Zarr only): ``zarr.open_array(...)[...]`` per sequence, what ``read_sequence`` did
  when issue 15 was filed (the "today's" of its 1.2× target);
- ``verified``: ``gaitmodels.data.load_split``, which reads through ``read_sequence_verified``: each file
  read once, hashed, then decoded from the same bytes.

The ratio ``verified / unverified`` is the cost of the check (target for Zarr: ≤ 1.2×).

    python benchmarks/bench_verified_reads.py [--sequences 1493] [--frames 60] [--repeats 3] [--dir D]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_verify import make_plan  # noqa: E402

from gaitmodels.data import ManifestData, load_split  # noqa: E402
from gaitprep.build import (
    BuildOptions,
    build_dataset,  # noqa: E402
)
from gaitprep.io.store import read_sequence  # noqa: E402
from gaitprep.io.tree import sha256_file  # noqa: E402


def load_unverified(data: ManifestData) -> list[np.ndarray]:
    m = data.manifest
    return [
        read_sequence(data.root, r, m.layout, names=[m.layout.primary])[m.layout.primary] for r in m.records
    ]


def load_zarr_reader(data: ManifestData) -> list[np.ndarray]:
    """zarr's own reader per sequence: what ``read_sequence`` did when issue 15 was filed."""
    import zarr
    from zarr.storage import LocalStore

    m = data.manifest
    if "zarr" not in m.layout.formats:
        return []
    store = LocalStore(data.root / "data.zarr", read_only=True)
    return [
        zarr.open_array(store, path=f"{r.id}/{r.label}/{r.view}/{m.layout.primary}", mode="r")[...]
        for r in m.records
    ]


def load_hash_then_read(data: ManifestData) -> list[np.ndarray]:
    for f in data.manifest.files:
        if sha256_file(data.root / f.path) != f.sha256:
            raise AssertionError(f.path)
    return load_unverified(data)


def load_verified(data: ManifestData) -> list[np.ndarray]:
    return load_split(data, None).frames


METHODS = {
    "unverified": load_unverified,
    "zarr_reader": load_zarr_reader,
    "hash_then_read": load_hash_then_read,
    "verified": load_verified,
}


def _best(data: ManifestData, repeats: int) -> tuple[dict[str, float], dict[str, list[np.ndarray]]]:
    """Best time of each method; the methods take turns within each repeat, so load on a shared machine
    affects them alike."""
    best = dict.fromkeys(METHODS, float("inf"))
    out: dict[str, list[np.ndarray]] = {}
    for _ in range(repeats):
        for name, fn in METHODS.items():
            t = time.perf_counter()
            out[name] = fn(data)
            best[name] = min(best[name], time.perf_counter() - t)
    return best, out


def run(sequences: int, frames: int, workers: int, base: Path, repeats: int) -> None:
    print(f"split: {sequences} sequences × {frames} frames, uint8 (T, 2, 64, 64), one array per sequence")
    for fmt, formats in (("zarr", ("zarr",)), ("pkl", ("opengait-pkl",))):
        out = base / f"split-{fmt}"
        result = build_dataset(
            make_plan(out, sequences, frames, formats), BuildOptions(workers=workers, quiet=True)
        )
        m = result.manifest
        stored = sum(f.bytes for f in m.files)
        logical = sum(int(np.prod(r.arrays["maps"].shape)) for r in m.records)
        data = ManifestData.open(out)
        load_unverified(data)  # warm-up: imports, page cache
        best, arrays = _best(data, repeats)
        t_plain, t_two, t_ver = best["unverified"], best["hash_then_read"], best["verified"]
        for a, b in zip(
            arrays["unverified"], arrays["verified"], strict=True
        ):  # the same arrays, bit for bit
            assert a.dtype == b.dtype and np.array_equal(a.reshape(b.shape), b)
        print(
            f"{fmt:>4}: {len(m.files)} files, stored {stored / 1e6:.0f} MB, decoded {logical / 1e6:.0f} MB"
            f" (best of {repeats})"
        )
        print(f"  unverified               {t_plain:7.2f} s  {logical / 1e6 / t_plain:7.0f} MB/s decoded")
        print(f"  unverified + sha256 pass {t_two:7.2f} s  ({t_two / t_plain:.2f}× unverified)")
        print(f"  verified (read once)     {t_ver:7.2f} s  ({t_ver / t_plain:.2f}× unverified)")
        if fmt == "zarr":
            t_zarr = best["zarr_reader"]
            print(
                f"  zarr's own reader, unverified (the reader when issue 15 was filed) {t_zarr:.2f} s:"
                f" verified is {t_ver / t_zarr:.2f}× that"
            )
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sequences", type=int, default=1493)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="Where to build (default: a temporary directory).")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-load-", dir=args.dir))
    try:
        run(args.sequences, args.frames, args.workers, base, args.repeats)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
