"""Manifest digests and loading: canonical JSON, logical array digests, Merkle content digest, sealing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from _trees import MAPS_SPEC, pose_array, synthetic_maps, synthetic_plan

from gaitprep.build import BuildOptions, build_dataset
from gaitprep.errors import BadInputError
from gaitprep.io.store import read_sequence, write_sequence
from gaitprep.manifest import (
    MANIFEST_NAME,
    ArrayRecord,
    ArraySpec,
    Layout,
    SequenceRecord,
    array_digest,
    compute_manifest_digest,
    content_digest,
    json_digest,
    load_manifest,
    manifest_bytes,
    seal,
)
from tests._schema1 import as_schema_1


def reference_array_digest(arr: np.ndarray) -> str:
    """Independent transcription of engineering notes §4.2: sha256(canonical {dtype, shape} + LE C-order bytes)."""
    little = arr.astype(arr.dtype.newbyteorder("<"))
    header = json.dumps(
        {"dtype": little.dtype.str, "shape": list(arr.shape)}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(header.encode() + np.ascontiguousarray(little).tobytes(order="C")).hexdigest()


# --- json_digest ----------------------------------------------------------------------------------------


def test_json_digest_ignores_key_order_at_every_depth() -> None:
    a = {"sigma": {"limb": 8.0, "joint": 4.0}, "edges": [[0, 1], [1, 2]], "name": "body"}
    b = {"name": "body", "edges": [[0, 1], [1, 2]], "sigma": {"joint": 4.0, "limb": 8.0}}
    assert json_digest(a) == json_digest(b)
    expected = hashlib.sha256(json.dumps(a, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert json_digest(a) == expected


def test_json_digest_changes_with_values_and_list_order() -> None:
    base = {"sigma": 8.0, "edges": [[0, 1], [1, 2]]}
    assert json_digest(base) != json_digest({**base, "sigma": 8.5})
    assert json_digest(base) != json_digest({**base, "edges": [[1, 2], [0, 1]]})
    assert json_digest(base) != json_digest({**base, "extra": None})


def test_json_digest_refuses_nan() -> None:
    with pytest.raises(ValueError):
        json_digest({"sigma": float("nan")})


# --- array_digest ---------------------------------------------------------------------------------------


def test_array_digest_matches_an_independent_implementation() -> None:
    for arr in (synthetic_maps(0, 3, 5), pose_array(0, 1, 4), np.arange(12, dtype=np.int64).reshape(3, 4)):
        assert array_digest(arr) == reference_array_digest(arr)


def test_array_digest_depends_on_shape_for_the_same_bytes() -> None:
    arr = synthetic_maps(0, 0, 4)  # (4, 2, 64, 64)
    assert arr.tobytes() == arr.reshape(8, 64, 64).tobytes()
    assert array_digest(arr) != array_digest(arr.reshape(8, 64, 64))
    assert array_digest(arr) != array_digest(arr.reshape(4, 2, 4096))
    empty = np.zeros((0, 64, 64), np.uint8)
    assert array_digest(empty) != array_digest(np.zeros((0, 32, 32), np.uint8))


def test_array_digest_depends_on_dtype_for_the_same_bytes() -> None:
    arr = synthetic_maps(0, 0, 4)
    assert array_digest(arr) != array_digest(arr.view(np.int8))
    pose = pose_array(0, 0, 3)
    assert array_digest(pose) != array_digest(pose.view(np.int32))
    # Same values in another dtype are another array too.
    assert array_digest(arr) != array_digest(arr.astype(np.uint16))


def test_array_digest_is_logical_not_about_memory_layout() -> None:
    pose = pose_array(0, 2, 6)
    assert array_digest(pose) == array_digest(np.asfortranarray(pose))
    assert array_digest(pose) == array_digest(pose.astype(">f4"))  # big-endian storage, same values
    assert array_digest(pose[::2]) == array_digest(np.ascontiguousarray(pose[::2]))
    flipped = pose.copy()
    flipped[5, 16, 2] = np.nextafter(flipped[5, 16, 2], np.float32(2))
    assert array_digest(flipped) != array_digest(pose)


def test_zarr_and_pickle_read_backs_have_the_same_digest(tmp_path: Path) -> None:
    arrays = {"maps": synthetic_maps(1, 2, 9), "pose": pose_array(1, 2, 9)}
    layout = Layout(
        formats=("zarr", "opengait-pkl"),
        primary="maps",
        arrays={
            "maps": MAPS_SPEC,
            "pose": ArraySpec(dtype="float32", per_frame=True, item_shape=(17, 3), axes=("T", "J", "xyc")),
        },
    )
    from gaitprep.io.store import init_zarr_root

    init_zarr_root(tmp_path)
    files = write_sequence(tmp_path, "00002", "positive", "000_180", arrays, layout)
    assert {f.path for f in files} >= {
        "00002/positive/000_180/000_180.pkl",
        "00002/positive/000_180/000_180.pose.pkl",
    }
    record = SequenceRecord(
        id="00002", label="positive", class_folder="positive", view="000_180", split=None, frames_in=9, frames=9,
        source_digest="x", files=tuple(files),
        arrays={k: ArrayRecord(shape=v.shape, dtype=str(v.dtype), digest=array_digest(v)) for k, v in arrays.items()},
    )  # fmt: skip
    from_zarr = read_sequence(tmp_path, record, layout, fmt="zarr")
    from_pkl = read_sequence(tmp_path, record, layout, fmt="opengait-pkl")
    for name, arr in arrays.items():
        assert array_digest(from_zarr[name]) == array_digest(from_pkl[name]) == array_digest(arr)


# --- content digest and sealing ---------------------------------------------------------------------------


def _record(seq_id: str, digest: str) -> SequenceRecord:
    return SequenceRecord(
        id=seq_id, label="neutral", class_folder="neutral", view="000_180", split="train", frames_in=3, frames=3,
        source_digest="s", files=(), arrays={"maps": ArrayRecord(shape=(3, 2, 64, 64), dtype="uint8", digest=digest)},
    )  # fmt: skip


def test_content_digest_is_a_sorted_merkle_root_over_record_digests() -> None:
    recs = [_record("00002", "b" * 64), _record("00001", "a" * 64)]
    expected = hashlib.sha256(
        f"00001/neutral/000_180\tmaps\t{'a' * 64}\n00002/neutral/000_180\tmaps\t{'b' * 64}\n".encode()
    ).hexdigest()
    assert content_digest(recs) == content_digest(recs[::-1]) == expected
    assert content_digest([recs[0], _record("00001", "c" * 64)]) != expected
    assert content_digest(recs[:1]) != expected


@pytest.fixture(scope="module")
def manifest_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(
        synthetic_plan(tmp_path_factory.mktemp("m") / "ds", n=3, frames=4), BuildOptions(quiet=True)
    ).path


def test_manifest_digest_ignores_provenance_but_covers_everything_else(manifest_dir: Path) -> None:
    m = load_manifest(manifest_dir)
    assert compute_manifest_digest(m) == m.manifest_digest
    other_run = m.model_copy(update={"provenance": m.provenance.model_copy(update={"host": "elsewhere"})})
    assert compute_manifest_digest(other_run) == m.manifest_digest
    for update in ({"name": "renamed"}, {"params": {**m.params, "sigma_limb": 5.0}}, {"counts": {}}):
        assert compute_manifest_digest(m.model_copy(update=update)) != m.manifest_digest


def test_manifest_digest_does_not_depend_on_parameter_key_order(manifest_dir: Path) -> None:
    m = load_manifest(manifest_dir)
    reordered = m.model_copy(update={"params": dict(reversed(list(m.params.items())))})
    assert list(reordered.params) != list(m.params)
    assert seal(reordered).manifest_digest == m.manifest_digest


def test_manifest_bytes_round_trip_through_load_manifest(manifest_dir: Path, tmp_path: Path) -> None:
    m = load_manifest(manifest_dir / MANIFEST_NAME)
    assert (manifest_dir / MANIFEST_NAME).read_bytes() == manifest_bytes(m)
    (tmp_path / MANIFEST_NAME).write_bytes(manifest_bytes(m))
    assert load_manifest(tmp_path) == m


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema_version=3), "schema_version 3 is not supported"),
        (lambda d: d.pop("schema_version"), "schema_version None is not supported"),
        (lambda d: d.update(surprise=1), "does not match the schema"),
        (lambda d: d.pop("records"), "does not match the schema"),
        (lambda d: d.update(modality="thermal"), "does not match the schema"),
    ],
)
def test_load_manifest_refuses_wrong_documents_naming_the_file(
    manifest_dir: Path, tmp_path: Path, mutate, message
):
    doc = json.loads((manifest_dir / MANIFEST_NAME).read_text())
    mutate(doc)
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(doc))
    with pytest.raises(BadInputError, match=message) as info:
        load_manifest(tmp_path)
    assert info.value.path == str(tmp_path / MANIFEST_NAME)


def test_a_version_1_manifest_stays_readable_and_keeps_its_digest(manifest_dir: Path, tmp_path: Path) -> None:
    """Schema 2 only adds optional fields: a manifest as a version-1 writer wrote it (no ``owner`` key,
    digest over the rest) loads, and its self-hash and the dataset still verify."""
    import shutil

    from gaitprep.verify import verify_dataset

    ds = tmp_path / "v1"
    shutil.copytree(manifest_dir, ds)
    doc = json.loads((ds / MANIFEST_NAME).read_text())
    assert "owner" in doc  # a schema-2 writer records the key (null when no recipe built it)
    as_schema_1(doc)
    body = {k: v for k, v in doc.items() if k not in ("provenance", "manifest_digest")}
    doc["manifest_digest"] = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    (ds / MANIFEST_NAME).write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n")
    m = load_manifest(ds)
    assert m.schema_version == 1 and m.owner is None
    assert compute_manifest_digest(m) == doc["manifest_digest"]
    assert verify_dataset(ds, "content").ok


def test_the_owner_is_part_of_the_digest_once_recorded(manifest_dir: Path) -> None:
    from gaitprep.manifest import Owner

    m = load_manifest(manifest_dir / MANIFEST_NAME)
    assert m.schema_version == 2 and m.owner is None
    owned = m.model_copy(update={"owner": Owner(recipe="demo", stage="maps")})
    assert compute_manifest_digest(owned) != compute_manifest_digest(m)


def test_load_manifest_of_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="cannot read manifest"):
        load_manifest(tmp_path / "nowhere" / MANIFEST_NAME)
