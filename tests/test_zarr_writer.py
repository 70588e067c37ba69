"""Our Zarr writer (gaitprep/io/zarr_v3.py) writes the bytes zarr itself writes, without zarr's event loop.

A full-suite run once hung for ever in ``zarr.create_group`` while zarr's loop thread slept (a lost
wake-up in ``zarr.core.sync``). Builds and training loads now never call ``zarr.core.sync.sync``; zarr
stays the independent reader and the reference writer here.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
import zarr.core.sync
from zarr.codecs import ZstdCodec
from zarr.storage import LocalStore

from gaitprep.build import BuildOptions, build_dataset
from gaitprep.errors import GaitprepError
from gaitprep.io.store import ZARR_DIR, finalize_zarr_root, init_zarr_root, write_sequence
from gaitprep.io.verified import read_sequence_verified
from gaitprep.manifest import ArraySpec, Layout, SequenceRecord, load_manifest
from tests._trees import MAPS_SPEC, synthetic_maps, synthetic_plan, tree_bytes

LAYOUT = Layout(
    formats=("zarr",),
    primary="maps",
    arrays={
        "maps": MAPS_SPEC,
        "pav": ArraySpec(dtype="float32", per_frame=False, item_shape=(8, 3), axes=("pair", "metric")),
    },
)
ROOT_ATTRS = {"name": "demo", "sequences": 2, "digest": "ab" * 32, "ratio": 0.1, "names": ["ü", "é"]}


def _sequences() -> list[tuple[str, str, str, dict[str, np.ndarray], dict]]:
    rng = np.random.default_rng(5)
    pav = rng.normal(size=(8, 3)).astype(np.float32)
    pav[2, 1] = np.nan
    return [
        ("00001", "positive", "000_180", {"maps": synthetic_maps(0, 1, 9), "pav": pav}, {"frames": 9}),
        (
            "00002",
            "negative",
            "018_090",
            {
                "maps": np.zeros((1, 2, 64, 64), np.uint8),  # all zero: the chunk is still written
                "pav": np.full((8, 3), np.inf, np.float32),
                "big_endian": rng.normal(size=(4, 5)).astype(">f8"),
                "flags": np.array([True, False, True]),
                "index": np.arange(-3, 4, dtype=np.int64),
                "wide": np.arange(600, dtype=np.uint16).reshape(6, 100),
                "phase": np.exp(1j * np.arange(4)).astype(np.complex64),
                "scalar": np.array(2.5),  # stored as shape (1,), as np.ascontiguousarray makes it
            },
            {"frames": 1, "split": "train", "note": "ü"},
        ),
    ]


def _zarr_reference_store(dataset: Path) -> None:
    """The store written through zarr's own API (what gaitprep did before it wrote the files itself)."""
    store = LocalStore(dataset / ZARR_DIR)
    zarr.open_group(store, mode="w-")
    for seq_id, label, view, arrays, attrs in _sequences():
        sequence = {"id": seq_id, "class": label, "view": view, **attrs}
        group = zarr.create_group(store, path=f"{seq_id}/{label}/{view}", attributes=sequence)
        for name in sorted(arrays):
            arr = np.ascontiguousarray(arrays[name])
            spec = LAYOUT.arrays.get(name)
            dims = ("frame", "channel", "y", "x") if name == "maps" else ("pair", "metric")
            z = group.create_array(
                name=name,
                shape=arr.shape,
                dtype=arr.dtype,
                chunks=arr.shape,
                compressors=[ZstdCodec(level=3)],
                config={"write_empty_chunks": True},
                dimension_names=dims if spec is not None else None,
                attributes={**sequence, "array": name, "channels": list(spec.channels) if spec else []},
            )
            z[...] = arr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "consolidated metadata is not part of the v3 specification"
        zarr.open_group(store, mode="r+", use_consolidated=False).attrs.put(ROOT_ATTRS)
        zarr.consolidate_metadata(store)
    meta = dataset / ZARR_DIR / "zarr.json"
    doc = json.loads(meta.read_bytes())
    meta.write_bytes((json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode())


def _our_store(dataset: Path) -> list[list[str]]:
    init_zarr_root(dataset)
    listed = [
        [f.path for f in write_sequence(dataset, seq_id, label, view, arrays, LAYOUT, attrs)]
        for seq_id, label, view, arrays, attrs in _sequences()
    ]
    finalize_zarr_root(dataset, ROOT_ATTRS)
    return listed


def test_every_file_we_write_is_byte_identical_to_what_zarr_writes(tmp_path: Path) -> None:
    _zarr_reference_store(tmp_path / "zarr")
    listed = _our_store(tmp_path / "ours")
    ours, theirs = tree_bytes(tmp_path / "ours"), tree_bytes(tmp_path / "zarr")
    assert sorted(ours) == sorted(theirs)
    assert len(ours) == 1 + 2 * 3 + (2 + 8) * 2  # root; id, class, view groups; 2 then 8 arrays, 2 files each
    assert [k for k in ours if ours[k] != theirs[k]] == []
    assert listed[0] == sorted(k for k in ours if k.startswith(f"{ZARR_DIR}/00001/"))
    # zarr reads back every array as it was given (the big-endian one as its little-endian equal)
    root = zarr.open_group(LocalStore(tmp_path / "ours" / ZARR_DIR, read_only=True), mode="r")
    for seq_id, label, view, arrays, _ in _sequences():
        for name, arr in arrays.items():
            back = root[f"{seq_id}/{label}/{view}/{name}"][...]
            np.testing.assert_array_equal(back, np.atleast_1d(arr))
            assert back.dtype == arr.dtype.newbyteorder("<")


def _forbid_zarr_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every entry into zarr's cross-thread sync layer raise, wherever a zarr module imported it."""
    original = zarr.core.sync.sync

    def no_sync(*args, **kwargs):
        coro = args[0] if args else None
        if hasattr(coro, "close"):
            coro.close()
        raise AssertionError("went through zarr.core.sync.sync")

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "zarr" and getattr(module, "sync", None) is original:
            monkeypatch.setattr(module, "sync", no_sync)


def test_a_build_and_a_training_load_never_go_through_zarrs_event_loop(tmp_path: Path, monkeypatch) -> None:
    from gaitmodels.data import ManifestData, load_split
    from gaitprep.verify import verify_dataset

    _forbid_zarr_sync(monkeypatch)
    with pytest.raises(AssertionError, match="zarr.core.sync"):  # the guard holds for zarr's own API
        zarr.open_group(LocalStore(tmp_path / "probe"), mode="w-")
    plan = synthetic_plan(tmp_path / "ds", formats=("zarr", "opengait-pkl"))
    result = build_dataset(plan, BuildOptions(quiet=True))
    assert result.built == 9
    m = load_manifest(result.path)
    for rec in m.records:
        maps = read_sequence_verified(result.path, m, rec)
        np.testing.assert_array_equal(maps, read_sequence_verified(result.path, m, rec, fmt="opengait-pkl"))
    split = load_split(ManifestData.open(result.path), None)
    assert len(split) == 9 and all(f.shape[1:] == (2, 64, 64) for f in split.frames)
    assert verify_dataset(result.path, "arrays").problems == []
    monkeypatch.undo()
    reference = zarr.open_array(
        LocalStore(result.path / ZARR_DIR, read_only=True), path=m.records[0].key + "/maps"
    )
    np.testing.assert_array_equal(reference[...], split.frames[0])


def test_a_record_lists_its_own_files_never_a_sibling_views(tmp_path: Path) -> None:
    """Two views of one id: the second record lists its own folder and the id/class groups, not the first
    view's files (another worker may be writing those at that moment)."""
    init_zarr_root(tmp_path)
    maps = {"maps": synthetic_maps(0, 1, 3)}
    layout = Layout(formats=("zarr", "opengait-pkl"), primary="maps", arrays={"maps": MAPS_SPEC})
    write_sequence(tmp_path, "00001", "positive", "000_180", maps, layout)
    second = [f.path for f in write_sequence(tmp_path, "00001", "positive", "090_270", maps, layout)]
    assert second == [
        "00001/positive/090_270/090_270.pkl",
        f"{ZARR_DIR}/00001/positive/090_270/maps/c/0/0/0/0",
        f"{ZARR_DIR}/00001/positive/090_270/maps/zarr.json",
        f"{ZARR_DIR}/00001/positive/090_270/zarr.json",
        f"{ZARR_DIR}/00001/positive/zarr.json",
        f"{ZARR_DIR}/00001/zarr.json",
    ]


def test_an_empty_array_has_no_chunk_and_reads_back_empty(tmp_path: Path, monkeypatch) -> None:
    layout = Layout(formats=("zarr",), primary="maps", arrays={"maps": MAPS_SPEC})
    init_zarr_root(tmp_path)
    files = write_sequence(
        tmp_path, "00001", "positive", "000_180", {"maps": np.zeros((0, 2, 64, 64), np.uint8)}, layout
    )
    assert not any("/c/" in f.path for f in files)
    meta = json.loads((tmp_path / ZARR_DIR / "00001/positive/000_180/maps/zarr.json").read_bytes())
    assert meta["shape"] == [0, 2, 64, 64] and meta["chunk_grid"]["configuration"]["chunk_shape"] == [
        1,
        2,
        64,
        64,
    ]
    back = zarr.open_array(
        LocalStore(tmp_path / ZARR_DIR, read_only=True), path="00001/positive/000_180/maps"
    )
    assert back[...].shape == (0, 2, 64, 64)
    rec = SequenceRecord(
        id="00001", label="positive", class_folder="positive", view="000_180", split=None, frames_in=0,
        frames=0, source_digest="x", arrays={}, files=tuple(files),
    )  # fmt: skip
    _forbid_zarr_sync(monkeypatch)
    ours = read_sequence_verified(tmp_path, layout, rec)
    assert ours.shape == (0, 2, 64, 64) and ours.dtype == np.uint8


def test_a_dtype_the_bytes_codec_cannot_store_is_refused_naming_it(tmp_path: Path) -> None:
    layout = Layout(formats=("zarr",), primary="maps", arrays={"maps": MAPS_SPEC})
    with pytest.raises(GaitprepError, match="cannot store dtype <U1 in Zarr"):
        write_sequence(tmp_path, "00001", "positive", "000_180", {"maps": np.array(["a"])}, layout)
