"""``verify_dataset`` and ``gaitprep verify-manifest``: every tampering is caught and named by path."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from _trees import write_partitions, write_sil_pkl_tree
from click.testing import CliRunner

from gaitprep.build import BuildOptions
from gaitprep.build.datasets import build_silhouettes
from gaitprep.cli import main
from gaitprep.errors import BadInputError, VerificationError
from gaitprep.manifest import MANIFEST_NAME, Manifest, content_digest, manifest_bytes, seal
from gaitprep.verify import quick_check, unsafe_path_reason, verify_dataset

ZARR_CHUNK = "data.zarr/00004/neutral/000_180/silhouette/c/0/0/0"
ZARR_META = "data.zarr/00004/neutral/000_180/silhouette/zarr.json"
PKL = "00004/neutral/000_180/000_180.pkl"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sil-pkl tree built into both formats (Zarr chunks, zarr.json and pickles), never modified."""
    base = tmp_path_factory.mktemp("verify")
    ids = write_sil_pkl_tree(base / "tree")
    part, _ = write_partitions(base, ids)
    return build_silhouettes(
        base / "tree", base / "ds", options=BuildOptions(partition=part, fmt="both", quiet=True)
    ).path


@pytest.fixture
def ds(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built dataset that a test may damage."""
    return Path(shutil.copytree(built, tmp_path / "ds", symlinks=True))


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def edit_manifest(ds: Path, mutate: Callable[[dict], None], reseal: bool = False) -> None:
    """Change the manifest's JSON; with ``reseal`` recompute its digests so only the change itself shows."""
    doc = json.loads((ds / MANIFEST_NAME).read_text())
    mutate(doc)
    if reseal:
        m = Manifest.model_validate(doc)
        m = seal(m.model_copy(update={"content_digest": content_digest(m.records)}))
        (ds / MANIFEST_NAME).write_bytes(manifest_bytes(m))
    else:
        (ds / MANIFEST_NAME).write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n")


def problems(report) -> set[tuple[str, str]]:
    return {(p.kind, p.path) for p in report.problems}


# --- tamperings: (what to do, expected problem) ------------------------------------------------------


def _flip_chunk(ds: Path) -> None:
    flip_byte(ds / ZARR_CHUNK)


def _flip_meta(ds: Path) -> None:
    flip_byte(ds / ZARR_META)


def _flip_pkl(ds: Path) -> None:
    flip_byte(ds / PKL)


def _delete_pkl(ds: Path) -> None:
    (ds / PKL).unlink()


def _truncate_chunk(ds: Path) -> None:
    data = (ds / ZARR_CHUNK).read_bytes()
    (ds / ZARR_CHUNK).write_bytes(data[: len(data) - 5])


def _add_file(ds: Path) -> None:
    (ds / "00004" / "neutral" / "000_180" / "extra.pkl").write_bytes(b"not listed")


def _edit_manifest_value(ds: Path) -> None:
    def mutate(doc: dict) -> None:
        doc["records"][0]["frames"] += 1

    edit_manifest(ds, mutate)


TAMPERINGS = {
    "flip-zarr-chunk": (_flip_chunk, ("changed", ZARR_CHUNK)),
    "flip-zarr-json": (_flip_meta, ("changed", ZARR_META)),
    "flip-pkl": (_flip_pkl, ("changed", PKL)),
    "delete-file": (_delete_pkl, ("missing", PKL)),
    "truncate-file": (_truncate_chunk, ("truncated", ZARR_CHUNK)),
    "add-file": (_add_file, ("extra", "00004/neutral/000_180/extra.pkl")),
    "edit-manifest": (_edit_manifest_value, ("manifest", MANIFEST_NAME)),
}


def test_clean_dataset_verifies_at_every_level(ds: Path) -> None:
    manifest = json.loads((ds / MANIFEST_NAME).read_text())
    for level in ("quick", "files", "content"):
        report = verify_dataset(ds, level)
        assert report.ok, report.problems
        assert report.files_checked == len(manifest["files"])
        assert report.bytes_checked == sum(f["bytes"] for f in manifest["files"])
    assert quick_check(ds / MANIFEST_NAME).manifest_digest == manifest["manifest_digest"]


def test_tampered_paths_exist_in_the_built_dataset(ds: Path) -> None:
    listed = {f["path"] for f in json.loads((ds / MANIFEST_NAME).read_text())["files"]}
    assert {ZARR_CHUNK, ZARR_META, PKL} <= listed


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_tampering_fails_verification_and_names_the_file(ds: Path, name: str) -> None:
    tamper, expected = TAMPERINGS[name]
    tamper(ds)
    report = verify_dataset(ds, "files")
    assert not report.ok
    assert expected in problems(report)
    # Exactly the damaged file is blamed (the manifest edit also breaks nothing else).
    assert {p.path for p in report.problems} == {expected[1]}


def test_quick_level_checks_sizes_but_not_bytes(ds: Path) -> None:
    _flip_pkl(ds)
    assert verify_dataset(ds, "quick").ok
    _truncate_chunk(ds)
    assert ("truncated", ZARR_CHUNK) in problems(verify_dataset(ds, "quick"))
    with pytest.raises(VerificationError, match="truncated"):
        quick_check(ds)


def test_growing_a_file_is_reported_as_changed(ds: Path) -> None:
    with open(ds / PKL, "ab") as fh:
        fh.write(b"\0")
    assert problems(verify_dataset(ds, "quick")) == {("changed", PKL)}


def test_content_level_catches_data_whose_checksums_were_forged(ds: Path) -> None:
    """Rewrite a chunk with other valid data and fix its sha256 in the manifest: only decoding notices."""
    from gaitprep.io.tree import sha256_file

    other = "data.zarr/00005/positive/000_180/silhouette/c/0/0/0"
    shutil.copyfile(ds / other, ds / ZARR_CHUNK)
    new = {"bytes": (ds / ZARR_CHUNK).stat().st_size, "sha256": sha256_file(ds / ZARR_CHUNK)}

    def mutate(doc: dict) -> None:
        for entries in [doc["files"], *(r["files"] for r in doc["records"])]:
            for entry in entries:
                if entry["path"] == ZARR_CHUNK:
                    entry.update(new)

    edit_manifest(ds, mutate, reseal=True)
    assert verify_dataset(ds, "files").ok
    report = verify_dataset(ds, "content")
    assert problems(report) == {("content", "00004/neutral/000_180")}
    assert "zarr array 'silhouette' digest differs" in report.problems[0].detail


def test_content_level_checks_recorded_shapes_and_array_names(ds: Path) -> None:
    def wrong_shape(doc: dict) -> None:
        doc["records"][4]["arrays"]["silhouette"]["shape"] = [8, 64, 64]

    def no_array(doc: dict) -> None:
        doc["records"][4]["arrays"] = {}

    edit_manifest(ds, wrong_shape, reseal=True)
    assert verify_dataset(ds, "files").ok
    details = [p.detail for p in verify_dataset(ds, "content").problems]
    assert details == [
        "zarr array 'silhouette' is uint8 (7, 64, 64), record says uint8 (8, 64, 64)",
        "opengait-pkl array 'silhouette' is uint8 (7, 64, 64), record says uint8 (8, 64, 64)",
    ]
    edit_manifest(ds, no_array, reseal=True)
    report = verify_dataset(ds, "content")
    assert problems(report) == {("content", "00004/neutral/000_180")}
    assert "record has no digest for array 'silhouette'" in report.problems[0].detail


def test_resealed_manifest_with_a_wrong_checksum_blames_the_file(ds: Path) -> None:
    def mutate(doc: dict) -> None:
        for entries in [doc["files"], *(r["files"] for r in doc["records"])]:
            for entry in entries:
                if entry["path"] == PKL:
                    entry["sha256"] = "0" * 64

    edit_manifest(ds, mutate, reseal=True)
    assert problems(verify_dataset(ds, "files")) == {("changed", PKL)}


def test_record_file_that_disagrees_with_the_file_list_is_reported(ds: Path) -> None:
    def mutate(doc: dict) -> None:
        doc["records"][4]["files"][0]["sha256"] = "f" * 64

    edit_manifest(ds, mutate, reseal=True)
    report = verify_dataset(ds, "files")
    assert [p.kind for p in report.problems] == ["manifest"]
    assert report.problems[0].path.startswith("00004/") or report.problems[0].path.startswith(
        "data.zarr/00004/"
    )


# --- confinement --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "00004/../../x", "a//b", ".", "C:/x", "a\\..\\b"])
def test_unsafe_relative_paths_are_refused(tmp_path: Path, bad: str) -> None:
    assert unsafe_path_reason(tmp_path, bad) is not None


def test_plain_relative_paths_are_accepted(tmp_path: Path) -> None:
    assert unsafe_path_reason(tmp_path, "data.zarr/00001/neutral/000_180/silhouette/c/0/0/0") is None


@pytest.mark.parametrize("bad", ["../outside.pkl", "/tmp/outside.pkl"])
def test_manifest_entry_escaping_the_dataset_is_rejected(ds: Path, bad: str) -> None:
    (ds.parent / "outside.pkl").write_bytes(b"x")

    def mutate(doc: dict) -> None:
        doc["files"].append({"path": bad, "bytes": 1, "sha256": "0" * 64})

    edit_manifest(ds, mutate, reseal=True)
    report = verify_dataset(ds, "files")
    assert problems(report) == {("unsafe-path", bad)}
    result = CliRunner().invoke(main, ["verify-manifest", str(ds)])
    assert result.exit_code == 3
    assert bad in result.output


def test_symlink_pointing_outside_the_dataset_is_rejected(ds: Path) -> None:
    """Replace a listed pickle by a link to an identical copy outside: same bytes, still refused."""
    outside = ds.parent / "outside.pkl"
    shutil.copyfile(ds / PKL, outside)
    (ds / PKL).unlink()
    os.symlink(outside, ds / PKL)
    report = verify_dataset(ds, "files")
    assert ("unsafe-path", PKL) in problems(report)
    assert "outside" in next(p.detail for p in report.problems if p.path == PKL)
    assert CliRunner().invoke(main, ["verify-manifest", str(ds)]).exit_code == 3


def test_symlinked_directory_inside_the_dataset_is_rejected(ds: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", ds / "00004" / "linked")
    assert problems(verify_dataset(ds, "quick")) == {("unsafe-path", "00004/linked")}


def test_listed_files_reached_through_a_directory_link_are_named_as_escaping(
    ds: Path, tmp_path: Path
) -> None:
    """Move a sequence folder outside and link it back: same bytes at the same paths, still refused."""
    folder = ds / "00004" / "neutral" / "000_180"
    shutil.move(folder, tmp_path / "moved")
    os.symlink(tmp_path / "moved", folder)
    report = verify_dataset(ds, "files")
    assert problems(report) == {("unsafe-path", "00004/neutral/000_180"), ("unsafe-path", PKL)}
    assert "resolves outside" in next(p.detail for p in report.problems if p.path == PKL)


def test_a_fifo_at_a_listed_path_is_rejected_without_being_opened(ds: Path) -> None:
    (ds / PKL).unlink()
    os.mkfifo(ds / PKL)  # reading it would block forever
    report = verify_dataset(ds, "files")
    assert problems(report) == {("unsafe-path", PKL)}
    assert "not a regular file" in report.problems[0].detail


# --- command line -------------------------------------------------------------------------------------


def test_cli_exits_0_for_a_clean_dataset_with_one_json_document(ds: Path) -> None:
    result = CliRunner().invoke(main, ["verify-manifest", str(ds / MANIFEST_NAME), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["level"] == "files" and doc["problems"] == []
    assert doc["schema_version"] == 1


@pytest.mark.parametrize("level", ["--quick", "--files", "--content"])
def test_cli_levels_are_honoured(ds: Path, level: str) -> None:
    result = CliRunner().invoke(main, ["verify-manifest", str(ds), level, "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["level"] == level[2:]


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_cli_exits_3_and_lists_the_problem(ds: Path, name: str) -> None:
    tamper, (kind, path) = TAMPERINGS[name]
    tamper(ds)
    result = CliRunner().invoke(main, ["verify-manifest", str(ds), "--json"])
    assert result.exit_code == 3
    doc = json.loads(result.stdout)  # exactly one JSON document
    assert doc["ok"] is False
    assert {"kind": kind, "path": path} in [{"kind": p["kind"], "path": p["path"]} for p in doc["problems"]]
    human = CliRunner().invoke(main, ["verify-manifest", str(ds)])
    assert human.exit_code == 3
    assert f"{kind}: {path}" in human.stdout


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"schema_version": 1, "name": "x"}', ""])
def test_malformed_manifest_is_bad_input_without_traceback(ds: Path, text: str) -> None:
    (ds / MANIFEST_NAME).write_text(text)
    with pytest.raises(BadInputError):
        verify_dataset(ds)
    result = CliRunner().invoke(main, ["verify-manifest", str(ds), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and MANIFEST_NAME in lines[0]
    assert "Traceback" not in result.stderr
