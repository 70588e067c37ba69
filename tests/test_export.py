"""``gaitprep export`` (HDF5, Croissant, OpenGait partition) and ``gaitprep import-keypoints``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from gaitprep.build import BuildOptions, BuildPlan, ProcessResult, SourceItem, build_dataset
from gaitprep.build.datasets import build_poses, build_silhouettes
from gaitprep.cli import main
from gaitprep.errors import BadInputError, VerificationError
from gaitprep.export import (
    croissant_document,
    export_croissant,
    export_hdf5,
    export_opengait_partition,
    import_keypoints,
    read_hdf5_manifest,
    read_hdf5_sequence,
)
from gaitprep.io.safe_pickle import dump_array_pickle, load_array_pickle
from gaitprep.io.store import read_sequence
from gaitprep.manifest import ArraySpec, Layout, Manifest, SourceInfo, json_digest, load_manifest
from gaitprep.partition import Partition, load_partition, write_partition

VIEW = "000_180"
FOLDERS = ("negative", "neutral", "Positive")  # on-disk spellings; "Positive" maps to positive


def write_pose_tree(root: Path, n: int = 6) -> list[str]:
    """A pose-pkl tree of float32 (T, 17, 3) poses, T = 4, 5, 6, 4, ... so that lengths differ."""
    ids = [f"{i:05d}" for i in range(n)]
    for i, seq_id in enumerate(ids):
        rng = np.random.default_rng([7, i])
        pose = np.empty((4 + i % 3, 17, 3), dtype=np.float32)
        pose[..., :2] = rng.uniform(0, 200, size=(pose.shape[0], 17, 2))
        pose[..., 2] = rng.uniform(0.1, 1.0, size=(pose.shape[0], 17))
        dump_array_pickle(pose, root / seq_id / FOLDERS[i % 3] / VIEW / f"{VIEW}.pkl")
    return ids


def write_sil_tree(root: Path, n: int = 3) -> list[str]:
    ids = [f"{i:05d}" for i in range(n)]
    for i, seq_id in enumerate(ids):
        sil = np.zeros((3, 64, 64), dtype=np.uint8)
        sil[:, 10 + i : 40, 20:30] = 255
        dump_array_pickle(sil, root / seq_id / FOLDERS[i % 3] / VIEW / f"{VIEW}.pkl")
    return ids


@pytest.fixture(scope="module")
def poses(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Partition]:
    """A float32 pose dataset (Zarr) with a partition whose file lists ids unsorted."""
    base = tmp_path_factory.mktemp("export")
    ids = write_pose_tree(base / "tree")
    part = write_partition(base / "Scoliosis1K_X.json", [ids[3], ids[0], ids[1], ids[4]], [ids[5], ids[2]])
    return build_poses(
        base / "tree", base / "data" / "poses", options=BuildOptions(partition=part, quiet=True)
    ).path, part


@pytest.fixture(scope="module")
def sil_both(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A silhouette dataset in both formats and without a partition."""
    base = tmp_path_factory.mktemp("sil")
    write_sil_tree(base / "tree")
    return build_silhouettes(
        base / "tree", base / "data" / "sil", options=BuildOptions(fmt="both", quiet=True)
    ).path


def sha256_bytes(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- HDF5 -----------------------------------------------------------------------------------------------


def test_hdf5_export_holds_every_sequence_array_attributes_and_the_manifest(poses, tmp_path):
    ds, _ = poses
    out = export_hdf5(ds, tmp_path / "poses.h5", quiet=True).path
    manifest = load_manifest(ds)
    with h5py.File(out, "r") as h5:
        assert sorted(h5) == sorted({r.id for r in manifest.records})
        embedded = Manifest.model_validate_json(h5.attrs["manifest"])
        assert h5.attrs["primary"] == "pose"
        for rec in manifest.records:
            node = h5[f"/{rec.id}/{rec.label}/{rec.view}"]
            expected = read_sequence(ds, rec, manifest.layout)["pose"]
            got = node[...]
            assert got.dtype == np.float32 and got.shape == (rec.frames, 17, 3)
            np.testing.assert_array_equal(got, expected)
            assert node.attrs["split"] == rec.split
            assert node.attrs["frames"] == rec.frames
            assert node.attrs["digest"] == rec.arrays["pose"].digest
    assert embedded == manifest
    assert read_hdf5_manifest(out).manifest_digest == manifest.manifest_digest


def test_hdf5_export_is_byte_identical_across_runs_and_leaves_no_temporary(poses, tmp_path):
    ds, _ = poses
    a = export_hdf5(ds, tmp_path / "a.h5", quiet=True)
    os.utime(ds / "manifest.json")  # a later mtime must not reach the file
    b = export_hdf5(ds, tmp_path / "b.h5", quiet=True)
    assert a.sha256 == b.sha256 == sha256_bytes(tmp_path / "a.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5", "b.h5"]


def test_pose_round_trip_through_hdf5_rebuilds_the_same_content_digest(poses, tmp_path):
    ds, part = poses
    runner = CliRunner()
    res = runner.invoke(main, ["export", str(ds), "--to", "hdf5", str(tmp_path / "p.h5"), "--json", "-q"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["sequences"] == 6
    res = runner.invoke(
        main, ["import-keypoints", str(tmp_path / "p.h5"), "--out", str(tmp_path / "tree2"), "-q"]
    )
    assert res.exit_code == 0, res.output
    pkl = tmp_path / "tree2" / "00002" / "positive" / VIEW / f"{VIEW}.pkl"
    assert load_array_pickle(pkl).dtype == np.float32
    rebuilt = build_poses(
        tmp_path / "tree2", tmp_path / "poses2", options=BuildOptions(partition=part, quiet=True)
    ).manifest
    original = load_manifest(ds)
    assert rebuilt.content_digest == original.content_digest
    assert [(r.key, r.split, r.frames) for r in rebuilt.records] == [
        (r.key, r.split, r.frames) for r in original.records
    ]


def two_array_process(item: SourceItem) -> ProcessResult:
    """uint8 maps (T, 2, 4, 4) = index + frame, and a float32 (3,) summary: a primary plus a secondary array."""
    index, frames = item.inputs
    maps = (np.arange(frames * 32, dtype=np.int64).reshape(frames, 2, 4, 4) + index).astype(np.uint8)
    return ProcessResult({"maps": maps, "summary": np.full(3, index, dtype=np.float32)}, frames, frames)


def test_hdf5_export_puts_secondary_arrays_beside_the_primary(tmp_path):
    items = [
        SourceItem(f"{i:05d}", "neutral", "neutral", VIEW, None, json_digest([i]), (i, 2 + i))
        for i in range(3)
    ]
    layout = Layout(
        formats=("opengait-pkl",),
        primary="maps",
        arrays={
            "maps": ArraySpec(dtype="uint8", per_frame=True, item_shape=(2, 4, 4), axes=("T", "C", "H", "W")),
            "summary": ArraySpec(dtype="float32", per_frame=False, item_shape=(3,), axes=("k",)),
        },
    )
    plan = BuildPlan(
        out=tmp_path / "two",
        name="two",
        version="1.0.0",
        modality="stacked",
        algo_version="test-two-1",
        layout=layout,
        params={"transform": "test"},
        items=items,
        process=two_array_process,
        source=SourceInfo(kind="tree", release="synthetic", root="-", digest="d", sequences=3),
    )
    manifest = build_dataset(plan, BuildOptions(quiet=True)).manifest
    out = export_hdf5(tmp_path / "two", tmp_path / "two.h5", quiet=True).path
    with h5py.File(out, "r") as h5:
        assert sorted(h5["00001/neutral"]) == [VIEW, f"{VIEW}__summary"]
        np.testing.assert_array_equal(h5[f"00001/neutral/{VIEW}__summary"][...], np.ones(3, np.float32))
        assert h5[f"00002/neutral/{VIEW}"].shape == (4, 2, 4, 4)
        assert h5[f"00002/neutral/{VIEW}"].attrs["split"] == ""
    for rec in manifest.records:
        back = read_hdf5_sequence(out, rec, manifest.layout)
        want = read_sequence(tmp_path / "two", rec, manifest.layout)
        assert sorted(back) == ["maps", "summary"]
        for name in back:
            np.testing.assert_array_equal(back[name], want[name])


def test_export_refuses_a_dataset_that_fails_quick_verification(sil_both, tmp_path):
    ds = Path(shutil.copytree(sil_both, tmp_path / "ds"))
    victim = ds / "00001" / "neutral" / VIEW / f"{VIEW}.pkl"
    victim.write_bytes(victim.read_bytes()[:-5])
    with pytest.raises(VerificationError, match="truncated"):
        export_hdf5(ds, tmp_path / "x.h5", quiet=True)
    res = CliRunner().invoke(main, ["export", str(ds), "--to", "croissant", str(tmp_path / "c.json")])
    assert res.exit_code == 3
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "c.json").exists()


def test_export_refuses_to_write_inside_the_dataset(sil_both):
    with pytest.raises(BadInputError, match="lies inside the gaitprep dataset .*fail verification"):
        export_hdf5(sil_both, sil_both / "export.h5", quiet=True)
    assert not (sil_both / "export.h5").exists()


# --- Croissant ------------------------------------------------------------------------------------------


def test_croissant_has_a_matching_sha256_for_every_data_file_and_one_record_per_sequence(sil_both, tmp_path):
    out = tmp_path / "meta" / "sil.croissant.json"
    res = CliRunner().invoke(
        main, ["export", str(sil_both), "--to", "croissant", str(out), "--license", "CC-BY-4.0"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    manifest = load_manifest(sil_both)
    assert doc["@type"] == "sc:Dataset" and doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert doc["@context"]["cr"] == "http://mlcommons.org/croissant/"
    assert (doc["name"], doc["version"], doc["license"]) == (manifest.name, manifest.version, "CC-BY-4.0")
    objects = {d["@id"]: d for d in doc["distribution"] if d["@type"] == "cr:FileObject"}
    assert set(objects) == {f.path for f in manifest.files} | {"manifest.json"}
    # Every contentUrl resolves, relative to the document, to the very file whose sha256 it states.
    for f in manifest.files:
        obj = objects[f.path]
        target = out.parent / obj["contentUrl"]
        assert obj["sha256"] == f.sha256 == sha256_bytes(target)
        assert obj["contentSize"] == f"{f.bytes} B"
    assert objects["manifest.json"]["sha256"] == sha256_bytes(sil_both / "manifest.json")
    sets = {rs["@id"]: rs for rs in doc["recordSet"]}
    seq = sets["sequences"]
    assert [r["sequences/id"] for r in seq["data"]] == sorted(r.id for r in manifest.records)
    by_id = {r.id: r for r in manifest.records}
    for row in seq["data"]:
        rec = by_id[row["sequences/id"]]
        assert (row["sequences/label"], row["sequences/view"], row["sequences/frames"]) == (
            rec.label,
            rec.view,
            rec.frames,
        )
        assert row["sequences/split"] is None  # no partition
    field_ids = {f["@id"] for f in seq["field"]}
    assert {
        "sequences/id",
        "sequences/label",
        "sequences/view",
        "sequences/split",
        "sequences/frames",
    } <= field_ids
    assert all(set(row) <= field_ids for row in seq["data"])
    assert [r["labels/name"] for r in sets["labels"]["data"]] == ["negative", "neutral", "positive"]
    assert sets["labels"]["data"][2]["labels/folder"] == "Positive"


def test_croissant_switches_to_filesets_plus_the_manifest_when_files_are_many(sil_both):
    manifest = load_manifest(sil_both)
    doc = croissant_document(
        manifest, base="data/sil", manifest_sha256="ab" * 32, manifest_size=10, max_file_objects=2
    )
    kinds = [(d["@type"], d["@id"]) for d in doc["distribution"]]
    assert kinds == [
        ("cr:FileObject", "manifest.json"),
        ("cr:FileSet", "files-zarr"),
        ("cr:FileSet", "files-opengait-pkl"),
    ]
    assert doc["distribution"][0]["contentUrl"] == "data/sil/manifest.json"
    assert doc["distribution"][1]["includes"] == "data/sil/data.zarr/**"
    assert len(doc["recordSet"][1]["data"]) == len(manifest.records)


def test_croissant_export_beside_the_dataset_points_at_its_real_manifest(sil_both):
    out = sil_both.parent / "sil.croissant.json"
    result = export_croissant(sil_both, out, max_file_objects=0)
    (manifest_obj,) = [
        d for d in json.loads(out.read_text())["distribution"] if d["@type"] == "cr:FileObject"
    ]
    assert manifest_obj["contentUrl"] == "sil/manifest.json"
    assert manifest_obj["sha256"] == sha256_bytes(sil_both / "manifest.json")
    assert result.sha256 == sha256_bytes(out) and result.details["file_objects"] == 1
    out.unlink()


# --- OpenGait partition ---------------------------------------------------------------------------------


def test_opengait_partition_export_equals_the_input_partition(poses, tmp_path):
    ds, part = poses
    result = export_opengait_partition(ds, tmp_path / "Scoliosis1K_X.json")
    doc = json.loads(result.path.read_text())
    original = json.loads((ds.parent.parent / "Scoliosis1K_X.json").read_text())  # as the fixture wrote it
    assert set(doc) == {"TRAIN_SET", "TEST_SET"}
    assert sorted(doc["TRAIN_SET"]) == sorted(original["TRAIN_SET"])
    assert sorted(doc["TEST_SET"]) == sorted(original["TEST_SET"])
    back = load_partition(result.path)
    assert (back.train, back.test) == (part.train, part.test)
    assert result.details["same_bytes_as_recorded"] is False  # the input listed ids unsorted


def test_opengait_partition_export_fails_without_a_partition(sil_both, tmp_path):
    with pytest.raises(BadInputError, match="no partition"):
        export_opengait_partition(sil_both, tmp_path / "p.json")
    res = CliRunner().invoke(
        main, ["export", str(sil_both), "--to", "opengait-partition", str(tmp_path / "p.json")]
    )
    assert res.exit_code == 1 and "no partition" in res.output
    assert not (tmp_path / "p.json").exists()


# --- import-keypoints -----------------------------------------------------------------------------------


def write_keypoints_h5(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with h5py.File(path, "w") as h5:
        for key, arr in arrays.items():
            h5.create_dataset(key, data=arr)


def good_pose(frames: int = 3) -> np.ndarray:
    pose = np.ones((frames, 17, 3), dtype=np.float32)
    pose[..., 0] = np.arange(17, dtype=np.float32)
    return pose


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.where(np.arange(3)[:, None, None] == 1, np.nan, good_pose()).astype(np.float32), "NaN"),
        (np.ones((3, 17, 2), dtype=np.float32), r"\(3, 17, 2\)"),
    ],
    ids=["nan", "two-channels"],
)
def test_import_rejects_bad_keypoints_naming_the_hdf5_path(tmp_path, bad, message):
    h5 = tmp_path / "kp.h5"
    write_keypoints_h5(h5, {f"00000/negative/{VIEW}": good_pose(), f"00001/positive/{VIEW}": bad})
    with pytest.raises(BadInputError, match=message) as info:
        import_keypoints(h5, tmp_path / "tree", quiet=True)
    assert f"{h5}:/00001/positive/{VIEW}" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kp.h5"]  # nothing half-written
    res = CliRunner().invoke(main, ["import-keypoints", str(h5), "--out", str(tmp_path / "tree")])
    assert res.exit_code == 1 and f"/00001/positive/{VIEW}" in res.output


def test_import_rejects_an_unknown_class_folder(tmp_path):
    h5 = tmp_path / "kp.h5"
    write_keypoints_h5(h5, {f"00000/maybe/{VIEW}": good_pose()})
    with pytest.raises(BadInputError, match="unknown class folder 'maybe'") as info:
        import_keypoints(h5, tmp_path / "tree", quiet=True)
    assert f"{h5}:/00000/maybe" in str(info.value)


def test_import_keeps_class_spelling_and_refuses_a_non_empty_output(tmp_path):
    h5 = tmp_path / "kp.h5"
    write_keypoints_h5(h5, {f"00007/Positive/{VIEW}": good_pose(5)})
    result = import_keypoints(h5, tmp_path / "tree", quiet=True)
    arr = load_array_pickle(tmp_path / "tree" / "00007" / "Positive" / VIEW / f"{VIEW}.pkl")
    np.testing.assert_array_equal(arr, good_pose(5))
    assert (result.sequences, result.frames) == (1, 5)
    with pytest.raises(BadInputError, match="not empty"):
        import_keypoints(h5, tmp_path / "tree", quiet=True)


def test_import_force_replaces_only_a_tree_it_wrote_and_never_its_own_input(tmp_path):
    h5 = tmp_path / "kp.h5"
    write_keypoints_h5(h5, {f"00007/Positive/{VIEW}": good_pose(5)})
    tree = tmp_path / "tree"
    import_keypoints(h5, tree, quiet=True)
    write_keypoints_h5(tmp_path / "kp2.h5", {f"00003/negative/{VIEW}": good_pose(4)})
    import_keypoints(tmp_path / "kp2.h5", tree, force=True, quiet=True)  # ours: replaced
    assert [p.name for p in tree.iterdir() if p.is_dir()] == ["00003"]
    (tree / "00003" / "notes.txt").write_text("mine")
    with pytest.raises(BadInputError, match="--force replaces only a tree gaitprep wrote"):
        import_keypoints(h5, tree, force=True, quiet=True)
    assert (tree / "00003" / "notes.txt").read_text() == "mine"
    # The folder holding the HDF5 file is refused before anything is read, even with --force.
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    res = CliRunner().invoke(main, ["import-keypoints", str(h5), "--out", str(tmp_path), "--force"])
    assert res.exit_code == 1 and res.stderr.splitlines() == [
        f"error: {tmp_path}: the output holds the input {h5}; give --out a path that does not contain it"
    ]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before


def test_import_of_a_file_that_is_not_hdf5_is_bad_input(tmp_path):
    bogus = tmp_path / "kp.h5"
    bogus.write_bytes(b"not an hdf5 file")
    with pytest.raises(BadInputError, match="cannot open as an HDF5 file"):
        import_keypoints(bogus, tmp_path / "tree", quiet=True)
