"""Writing a Zarr store: gaitprep's own writer vs zarr's API, on the same arrays, in one run.

gaitprep writes its Zarr files itself (``gaitprep/io/zarr_v3.py``: zarr's metadata classes and numcodecs'
zstd, no event-loop thread) since a build once hung for ever inside ``zarr.create_group``. This times, per
sequence of uint8 (T, 2, 64, 64) maps plus a float32 (8, 3) PAV (default 300 sequences x 60 frames):

- ``gaitprep``: ``write_sequence`` for every sequence, then ``finalize_zarr_root`` (consolidation);
- ``zarr's API``: what ``write_sequence`` did before (``zarr.create_group``, ``group.create_array``,
  ``array[...] = data``, ``zarr.consolidate_metadata``, the root rewritten with sorted keys);

and checks that both trees hold the same bytes. Files go to a fresh directory (``--dir``, default a
temporary one), so the figures include the file system's work.

    python benchmarks/bench_zarr_write.py [--sequences 300] [--frames 60] [--dir D]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_verify import _frame_bank  # noqa: E402

from gaitprep.io.store import ZARR_DIR, finalize_zarr_root, init_zarr_root, write_sequence  # noqa: E402
from gaitprep.manifest import ArraySpec, Layout  # noqa: E402

LAYOUT = Layout(
    formats=("zarr",),
    primary="maps",
    arrays={
        "maps": ArraySpec(
            dtype="uint8",
            per_frame=True,
            item_shape=(2, 64, 64),
            axes=("T", "C", "H", "W"),
            channels=("limb", "joint"),
        ),
        "pav": ArraySpec(dtype="float32", per_frame=False, item_shape=(8, 3), axes=("pair", "metric")),
    },
)
DIMS = {"maps": ("frame", "channel", "y", "x"), "pav": ("pair", "metric")}
ROOT_ATTRS = {"name": "bench-zarr-write", "modality": "skeleton_map"}


def sequences(n: int, frames: int) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    bank = _frame_bank()
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        maps = bank[(i * 7 + np.arange(frames) * (1 + i % 5)) % len(bank)].copy()
        maps[:, 0, 0, 0] = i % 256
        out.append(
            (
                f"{i:05d}",
                ("negative", "neutral", "positive")[i % 3],
                {"maps": maps, "pav": rng.normal(size=(8, 3)).astype(np.float32)},
            )
        )
    return out


def write_ours(root: Path, seqs) -> None:
    init_zarr_root(root)
    for seq_id, label, arrays in seqs:
        write_sequence(root, seq_id, label, "000_180", arrays, LAYOUT, {"frames": len(arrays["maps"])})
    finalize_zarr_root(root, ROOT_ATTRS)


def write_zarr_api(root: Path, seqs) -> None:
    import zarr
    from zarr.codecs import ZstdCodec
    from zarr.storage import LocalStore

    store = LocalStore(root / ZARR_DIR)
    zarr.open_group(store, mode="w-")
    for seq_id, label, arrays in seqs:
        sequence = {"id": seq_id, "class": label, "view": "000_180", "frames": len(arrays["maps"])}
        group = zarr.create_group(store, path=f"{seq_id}/{label}/000_180", attributes=sequence)
        for name in sorted(arrays):
            arr = arrays[name]
            z = group.create_array(
                name=name, shape=arr.shape, dtype=arr.dtype, chunks=arr.shape, compressors=[ZstdCodec(level=3)],
                config={"write_empty_chunks": True}, dimension_names=DIMS[name],
                attributes={**sequence, "array": name, "channels": list(LAYOUT.arrays[name].channels)},
            )  # fmt: skip
            z[...] = arr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.open_group(store, mode="r+", use_consolidated=False).attrs.put(ROOT_ATTRS)
        zarr.consolidate_metadata(store)
    meta = root / ZARR_DIR / "zarr.json"
    doc = json.loads(meta.read_bytes())
    meta.write_bytes((json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode())


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=300)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-zarr-write-"))
    seqs = sequences(args.sequences, args.frames)
    times = {}
    try:
        for name, fn in (("zarr's API", write_zarr_api), ("gaitprep", write_ours)):
            root = base / name.replace("'", "").replace(" ", "-")
            start = time.perf_counter()
            fn(root, seqs)
            times[name] = (time.perf_counter() - start, root)
        ours, theirs = tree(times["gaitprep"][1]), tree(times["zarr's API"][1])
        assert ours == theirs, "the two stores differ"
        stored = sum(len(b) for b in ours.values())
        print(
            f"{args.sequences} sequences x {args.frames} frames, {len(ours)} files, {stored / 1e6:.1f} MB stored"
        )
        for name, (secs, _) in times.items():
            print(f"  {name:11s} {secs:6.2f} s  ({1e3 * secs / args.sequences:.2f} ms per sequence)")
        ratio = times["gaitprep"][0] / times["zarr's API"][0]
        print(f"  gaitprep / zarr's API: {ratio:.2f}x; the files are identical")
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
