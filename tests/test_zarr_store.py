"""The Zarr store describes itself: dimension names and sequence attributes on every array, the dataset's
name, modality and content digest at the root, consolidated metadata written deterministically; xarray
opens a sequence's group."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.storage import LocalStore

import gaitprep
from gaitprep.build import BuildOptions, build_dataset
from gaitprep.io.store import ZARR_DIR
from gaitprep.manifest import load_manifest
from tests._trees import synthetic_plan, tree_bytes


def _array_meta(dataset: Path, key: str, name: str) -> dict:
    return json.loads((dataset / ZARR_DIR / key / name / "zarr.json").read_bytes())


@pytest.mark.parametrize(
    ("which", "name", "dims", "channels"),
    [
        ("maps", "maps", ["frame", "channel", "y", "x"], ["limb", "joint"]),
        ("sil", "silhouette", ["frame", "y", "x"], ["silhouette"]),
        ("pav", "pav", ["pair", "metric"], ["height_diff", "midline_dev", "tilt"]),
        ("pav", "raw", ["pair", "metric"], ["height_diff", "midline_dev", "tilt"]),
    ],
)
def test_every_array_carries_dimension_names_and_its_sequence_attributes(data, which, name, dims, channels):
    dataset = getattr(data, which)
    m = load_manifest(dataset)
    for rec in m.records:
        meta = _array_meta(dataset, rec.key, name)
        assert meta["dimension_names"] == dims
        assert meta["attributes"] == {
            "id": rec.id,
            "class": rec.label,
            "class_index": m.class_order[rec.label],
            "class_folder": rec.class_folder,
            "view": rec.view,
            "split": rec.split,
            "frames": rec.frames,
            "array": name,
            "channels": channels,
        }
        group = json.loads((dataset / ZARR_DIR / rec.key / "zarr.json").read_bytes())
        assert group["node_type"] == "group" and group["attributes"]["split"] == rec.split


def test_the_root_describes_the_dataset_and_consolidates_every_node(data) -> None:
    m = load_manifest(data.maps)
    root_file = data.maps / ZARR_DIR / "zarr.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = zarr.open_group(
            LocalStore(data.maps / ZARR_DIR, read_only=True), mode="r", use_consolidated=True
        )
    attrs = root.attrs.asdict()
    assert attrs["name"] == m.name and attrs["modality"] == "skeleton_map"
    assert attrs["content_digest"] == m.content_digest and attrs["derivation_id"] == m.derivation_id
    assert attrs["primary_array"] == "maps" and attrs["channels"] == ["limb", "joint"]
    assert attrs["sequences"] == len(m.records) and attrs["class_order"] == m.class_order
    assert root.metadata.consolidated_metadata is not None
    doc = json.loads(root_file.read_bytes())
    consolidated = doc["consolidated_metadata"]["metadata"]
    assert {f"{r.key}/maps" for r in m.records} <= set(consolidated)
    assert consolidated[f"{m.records[0].key}/maps"]["dimension_names"] == ["frame", "channel", "y", "x"]
    assert root_file.read_bytes() == (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()
    # The root file is part of the dataset: listed in the manifest with its checksum.
    assert f"{ZARR_DIR}/zarr.json" in {f.path for f in m.files}


def test_the_store_is_byte_identical_whatever_the_order_or_worker_count_sequences_are_written_in(
    tmp_path: Path,
) -> None:
    forward = build_dataset(synthetic_plan(tmp_path / "a" / "ds"), BuildOptions(quiet=True))
    plan = synthetic_plan(tmp_path / "b" / "ds")
    plan.items.reverse()  # written (and so listed by the file system) in the opposite order
    backward = build_dataset(plan, BuildOptions(workers=2, quiet=True))
    assert forward.built == backward.built == 9
    a, b = tree_bytes(forward.path), tree_bytes(backward.path)
    assert a.keys() == b.keys() and f"{ZARR_DIR}/zarr.json" in a
    assert a == b
    assert forward.manifest.files == backward.manifest.files


def test_xarray_opens_a_sequence_group_with_named_dimensions(data) -> None:
    xr = pytest.importorskip("xarray")
    ds = gaitprep.open_dataset(data.maps)
    key = ds.keys("test")[0]
    rec = ds.record(key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xds = xr.open_zarr(data.maps / ZARR_DIR, group=key)
    assert xds["maps"].dims == ("frame", "channel", "y", "x")
    assert dict(xds.sizes) == {"frame": rec.frames, "channel": 2, "y": 64, "x": 64}
    np.testing.assert_array_equal(xds["maps"].values, ds[key])
    assert xds["maps"].attrs["channels"] == ["limb", "joint"]
    assert xds.attrs["class"] == rec.label and xds.attrs["split"] == "test"
    pav = gaitprep.open_dataset(data.pav)
    pkey = pav.keys()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pds = xr.open_zarr(data.pav / ZARR_DIR, group=pkey)
    assert pds["pav"].dims == ("pair", "metric") and set(pds.data_vars) == {"pav", "raw"}
    np.testing.assert_array_equal(pds["raw"].values, pav.read(pkey, "raw"))


@pytest.mark.parametrize(
    ("which", "names"), [("maps", ["maps"]), ("sil", ["silhouette"]), ("pav", ["pav", "raw"])]
)
def test_the_direct_chunk_reader_gives_what_zarr_reads(data, which, names) -> None:
    from gaitprep.io.store import _read_single_chunk

    dataset = getattr(data, which)
    m = load_manifest(dataset)
    store = LocalStore(dataset / ZARR_DIR, read_only=True)
    for rec in m.records[:4]:
        for name in names:
            fast = _read_single_chunk(dataset / ZARR_DIR / rec.key / name)
            assert fast is not None, "the store's own layout takes the direct path"
            expected = zarr.open_array(store, path=f"{rec.key}/{name}", mode="r")[...]
            assert fast.dtype == expected.dtype and fast.shape == expected.shape and fast.flags.writeable
            np.testing.assert_array_equal(fast, expected)


def test_arrays_in_another_layout_are_read_by_zarr(tmp_path: Path) -> None:
    from gaitprep.io.store import _read_single_chunk, read_sequence
    from gaitprep.manifest import SequenceRecord
    from tests._trees import MAPS_SPEC, synthetic_maps

    maps = synthetic_maps(0, 1, 9)
    store = LocalStore(tmp_path / ZARR_DIR)
    zarr.open_group(store, mode="w-")
    # two chunks along the frames and no compression: not what write_sequence writes
    arr = zarr.create_array(store, name="00001/positive/000_180/maps", shape=maps.shape, dtype="uint8",
                            chunks=(5, 2, 64, 64), compressors=None)  # fmt: skip
    arr[...] = maps
    assert _read_single_chunk(tmp_path / ZARR_DIR / "00001/positive/000_180/maps") is None
    from gaitprep.manifest import Layout

    layout = Layout(formats=("zarr",), primary="maps", arrays={"maps": MAPS_SPEC})
    rec = SequenceRecord(
        id="00001", label="positive", class_folder="positive", view="000_180", split=None, frames_in=9,
        frames=9, source_digest="x", arrays={}, files=(),
    )  # fmt: skip
    np.testing.assert_array_equal(read_sequence(tmp_path, rec, layout)["maps"], maps)


def test_zstd_content_size_reads_every_header_size_class() -> None:
    from numcodecs import Zstd

    from gaitprep.io.store import zstd_content_size

    # 1-, 2-, 4- and 8-byte... sizes: the header's field width changes at 256 and 65,792 bytes
    for n in (0, 1, 255, 256, 300, 65791, 65792, 70000, 3_000_000):
        assert zstd_content_size(Zstd(level=3).encode(np.zeros(n, np.uint8))) == n
    assert zstd_content_size(b"not a zstd frame") is None


def test_a_chunk_whose_frame_holds_another_size_is_never_half_decoded(data, tmp_path: Path) -> None:
    import shutil

    from numcodecs import Zstd

    from gaitprep.errors import BadInputError
    from gaitprep.io.store import _read_single_chunk, read_sequence

    copy = tmp_path / "maps"
    shutil.copytree(data.maps, copy)
    m = load_manifest(copy)
    rec = m.records[0]
    array_dir = copy / ZARR_DIR / rec.key / "maps"
    (chunk,) = [p for p in array_dir.rglob("*") if p.is_file() and p.name != "zarr.json"]
    short = np.full(2 * 64 * 64, 7, np.uint8)  # one frame's worth where rec.frames are expected
    chunk.write_bytes(Zstd(level=3).encode(short))
    assert _read_single_chunk(array_dir) is None
    with pytest.raises(BadInputError, match="cannot read array"):
        read_sequence(copy, rec, m.layout)
