"""``diff_manifests`` and ``gaitprep diff-manifest``: what changed between two builds, in human terms."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from _trees import seq_ids, synthetic_plan, write_partitions, write_sil_pkl_tree
from click.testing import CliRunner

from gaitprep.build import BuildOptions, build_dataset
from gaitprep.build.datasets import build_silhouettes
from gaitprep.cli import main
from gaitprep.diff import diff_manifests
from gaitprep.manifest import Manifest, load_manifest, seal
from gaitprep.partition import write_partition

SIGMAS = {"sigma_limb": 4.0, "sigma_joint": 4.0, "offset": 0}


def build(out: Path, **kwargs) -> Manifest:
    """A synthetic skeleton-map build; every output folder is called ``ds`` so the names agree."""
    return build_dataset(synthetic_plan(out / "ds", **kwargs), BuildOptions(quiet=True)).manifest


def test_identical_builds_are_identical(tmp_path: Path) -> None:
    a = build(tmp_path / "a", params=SIGMAS)
    b = build_dataset(
        synthetic_plan(tmp_path / "b" / "ds", params=SIGMAS), BuildOptions(workers=2, quiet=True)
    ).manifest
    result = diff_manifests(a, b)
    assert result["summary"] == ["identical"]
    assert result["same_content"] and result["same_manifest"] and result["changes"] == []


def test_the_same_tree_at_another_path_is_the_same_content(tmp_path: Path) -> None:
    write_sil_pkl_tree(tmp_path / "tree")
    shutil.copytree(tmp_path / "tree", tmp_path / "copy")
    a = build_silhouettes(tmp_path / "tree", tmp_path / "a" / "ds", options=BuildOptions(quiet=True)).manifest
    b = build_silhouettes(tmp_path / "copy", tmp_path / "b" / "ds", options=BuildOptions(quiet=True)).manifest
    assert (
        a.derivation_id == b.derivation_id and a.manifest_digest != b.manifest_digest
    )  # source.root differs
    assert diff_manifests(a, b)["summary"] == ["same content, different provenance"]


def test_different_partitions_name_both_and_count_moved_sequences(tmp_path: Path) -> None:
    part_a, part_b = write_partitions(tmp_path, seq_ids(9))
    a = build(tmp_path / "a", partition=part_a)
    b = build(tmp_path / "b", partition=part_b)
    result = diff_manifests(a, b)
    # A trains on 00000-00005, B on 00003-00008: six sequences change sides, none changes content.
    assert result["summary"] == [
        "partition A → B",
        "6 sequences moved between train and test",
        "same content",
    ]
    assert result["sequences"]["moved_split"] == [
        f"{i:05d}/{lab}/000_180"
        for i, lab in [
            (0, "negative"),
            (1, "neutral"),
            (2, "positive"),
            (6, "negative"),
            (7, "neutral"),
            (8, "positive"),
        ]
    ]
    assert result["sequences"]["changed"] == [] and result["same_content"]
    assert {"field": "partition", "a": "A", "b": "B"} in result["changes"]


def test_partition_versus_none_and_an_edited_partition_with_the_same_name(tmp_path: Path) -> None:
    ids = seq_ids(9)
    part_a, _ = write_partitions(tmp_path, ids)
    none = build(tmp_path / "none")
    with_a = build(tmp_path / "a", partition=part_a)
    assert diff_manifests(none, with_a)["summary"][0] == "partition none → A"
    edited = write_partition(tmp_path / "edited" / "Scoliosis1K_A.json", ids[:5], ids[5:])
    b = build(tmp_path / "b", partition=edited)
    line = diff_manifests(with_a, b)["summary"][0]
    assert line == f"partition A (sha256 {part_a.sha256[:8]}) → A (sha256 {edited.sha256[:8]})"


def test_changed_parameters_are_named_with_values_and_changed_sequences_counted(tmp_path: Path) -> None:
    a = build(tmp_path / "a", params=SIGMAS)
    b = build(tmp_path / "b", params={**SIGMAS, "sigma_limb": 8.0, "offset": 3})
    result = diff_manifests(a, b)
    assert result["summary"] == ["offset 0 → 3", "sigma_limb 4 → 8", "9 sequences changed"]
    assert not result["same_content"] and len(result["sequences"]["changed"]) == 9
    assert {"field": "params.sigma_limb", "a": 4.0, "b": 8.0} in result["changes"]


def test_added_and_removed_sequences_and_source_are_reported(tmp_path: Path) -> None:
    a = build(tmp_path / "a", n=9)
    b = build(tmp_path / "b", n=7)
    assert diff_manifests(a, b)["summary"] == ["source data differs", "2 sequences removed"]
    assert diff_manifests(b, a)["summary"] == ["source data differs", "2 sequences added"]
    assert diff_manifests(b, a)["sequences"]["added"] == ["00007/neutral/000_180", "00008/positive/000_180"]


def test_another_format_is_named_and_keeps_the_content(tmp_path: Path) -> None:
    a = build(tmp_path / "a")
    b = build(tmp_path / "b", formats=("opengait-pkl",))
    assert diff_manifests(a, b)["summary"] == ["format zarr → opengait-pkl", "same content"]


def test_fitted_values_and_algorithm_version_are_named(tmp_path: Path) -> None:
    a = build(tmp_path / "a")
    b = seal(a.model_copy(update={"fitted": {"mn": [[0.0, 1.0]]}}))
    b = seal(b.model_copy(update={"generator": b.generator.model_copy(update={"algo_version": "test-2"})}))
    assert diff_manifests(a, b)["summary"] == [
        "algo_version test-synthetic-1 → test-2",
        "fitted mn differs",
        "same content",
    ]


def test_cli_prints_the_summary_or_one_json_document(tmp_path: Path) -> None:
    part_a, part_b = write_partitions(tmp_path, seq_ids(9))
    build(tmp_path / "a", partition=part_a)
    build(tmp_path / "b", partition=part_b)
    a, b = str(tmp_path / "a" / "ds"), str(tmp_path / "b" / "ds" / "manifest.json")
    human = CliRunner().invoke(main, ["diff-manifest", a, b])
    assert human.exit_code == 0
    assert human.stdout.strip() == "partition A → B; 6 sequences moved between train and test; same content"
    as_json = CliRunner().invoke(main, ["diff-manifest", a, b, "--json"])
    doc = json.loads(as_json.stdout)
    assert doc["schema_version"] == 1 and doc["same_content"] is True and not doc["same_manifest"]
    assert doc == {"schema_version": 1, **diff_manifests(load_manifest(a), load_manifest(b))}


def test_cli_refuses_a_malformed_manifest_with_exit_1(tmp_path: Path) -> None:
    build(tmp_path / "a")
    (tmp_path / "bad.json").write_text("{")
    result = CliRunner().invoke(
        main, ["diff-manifest", str(tmp_path / "a" / "ds"), str(tmp_path / "bad.json")]
    )
    assert result.exit_code == 1 and "bad.json" in result.stderr and "Traceback" not in result.stderr
