"""Model/data mismatches are refused with exit 1 and one sentence (domain §9); tampered data with exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from gaitmodels.guards import check_class_order
from gaitprep.errors import MismatchError
from gaitprep.manifest import load_manifest
from gaitprep.skeleton import CLASS_ORDER
from gaitprep.verify import quick_check
from tests._datasets import (
    TINY,
    SmallData,
    copy_dataset,
    one_error_line,
    rewrite_manifest,
    run_cli,
    tiny_run,
)


def refused_train(manifest: Path, model: str, out: Path, *extra: object, code: int = 1) -> str:
    result = run_cli(
        "train", "--manifest", manifest, "--model", model, "--out", out, "--iterations", 1, *TINY, *extra
    )
    assert result.exit_code == code, result.stderr
    assert not (out / "checkpoints").exists()  # refused before training
    return one_error_line(result)


def refused_evaluate(run: Path, manifest: Path, *extra: object, code: int = 1) -> str:
    result = run_cli("evaluate", "--checkpoint", run, "--manifest", manifest, "--device", "cpu", "-q", *extra)
    assert result.exit_code == code, result.stderr
    return one_error_line(result)


# --- train: modality, channels, PAV ----------------------------------------------------------------------


def test_one_channel_model_on_two_channel_maps_is_refused(data: SmallData, tmp_path: Path):
    line = refused_train(data.maps, "sconet", tmp_path / "run")
    assert "model sconet expects 1-channel silhouette input" in line
    assert "2-channel skeleton_map data [limb, joint]" in line


def test_skeleton_model_on_silhouettes_is_refused(data: SmallData, tmp_path: Path):
    line = refused_train(data.sil, "sconet-mt-ske", tmp_path / "run")
    assert "expects 2-channel skeleton_map input" in line and "1-channel silhouette data" in line


def test_drf_without_pav_manifest_is_refused(data: SmallData, tmp_path: Path):
    line = refused_train(data.maps, "drf", tmp_path / "run")
    assert "--pav-manifest" in line


def test_pav_for_a_non_drf_model_is_refused(data: SmallData, tmp_path: Path):
    line = refused_train(data.maps, "sconet-mt-ske", tmp_path / "run", "--pav-manifest", data.pav)
    assert "takes no PAV" in line


def test_pav_fitted_on_another_partition_is_refused(data: SmallData, tmp_path: Path):
    line = refused_train(data.maps, "drf", tmp_path / "run", "--pav-manifest", data.pav_other)
    assert "Scoliosis1K_swapped" in line and "Scoliosis1K_118" in line


def test_pav_fitted_on_all_ids_is_refused(data: SmallData, tmp_path: Path):
    assert load_manifest(data.pav_all).fitted["fit_on"] == "all"
    line = refused_train(data.maps, "drf", tmp_path / "run", "--pav-manifest", data.pav_all)
    assert "fitted on 'all' ids, not on TRAIN ids only" in line


def test_pav_of_a_partitionless_maps_dataset_is_refused(data: SmallData, tmp_path: Path):
    maps = copy_dataset(data.maps, tmp_path / "maps")
    rewrite_manifest(maps, partition=None)
    line = refused_train(maps, "sconet-mt-ske", tmp_path / "run")
    assert "carries no partition" in line


# --- class order -----------------------------------------------------------------------------------------


def test_class_order_that_differs_in_the_manifest_is_refused(data: SmallData, tmp_path: Path):
    maps = copy_dataset(data.maps, tmp_path / "maps")
    rewrite_manifest(maps, class_order={"negative": 0, "positive": 1, "neutral": 2})
    quick_check(maps)  # a consistent, sealed manifest: the refusal is the guard's, not verification's
    line = refused_train(maps, "sconet-mt-ske", tmp_path / "run")
    assert "class order differs" in line and "'positive': 1" in line


def test_check_class_order_accepts_only_the_canonical_order():
    canonical = {name: i for i, name in enumerate(CLASS_ORDER)}
    check_class_order(canonical, CLASS_ORDER, "data")
    with pytest.raises(MismatchError, match="class order differs"):
        check_class_order(canonical, ("negative", "positive", "neutral"), "data")  # author DRF order
    with pytest.raises(MismatchError, match="class order differs"):
        check_class_order(
            {"negative": 0, "positive": 1, "neutral": 2}, ("negative", "positive", "neutral"), "x"
        )


# --- --init and --resume ---------------------------------------------------------------------------------


def test_init_from_a_checkpoint_of_another_modality_is_refused(data: SmallData, runs: Path, tmp_path: Path):
    sil_run = tiny_run(data, "sconet", runs)
    line = refused_train(data.maps, "sconet-mt-ske", tmp_path / "run", "--init", sil_run)
    assert "1-channel silhouette model (sconet)" in line and "2-channel skeleton_map model" in line


def test_init_with_other_widths_is_refused(data: SmallData, runs: Path, tmp_path: Path):
    ske_run = tiny_run(data, "sconet-mt-ske", runs)
    line = refused_train(
        data.maps, "sconet-mt-ske", tmp_path / "run", "--init", ske_run, "--widths", "8,8,16,32"
    )
    assert "widths" in line


def test_resume_with_another_manifest_is_refused(data: SmallData, runs: Path, tmp_path: Path):
    ske_run = tiny_run(data, "sconet-mt-ske", runs)
    maps = copy_dataset(data.maps, tmp_path / "maps")
    rewrite_manifest(maps, name="other-maps")
    result = run_cli(
        "train", "--manifest", maps, "--model", "sconet-mt-ske", "--resume", ske_run / "checkpoints" / "last.pt",
        "--out", tmp_path / "run", "--iterations", 3, "--device", "cpu", "-q",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "the manifest differs from the one the run was trained on" in one_error_line(result)


# --- tampered data: exit 3 -------------------------------------------------------------------------------


def _grow_largest_file(dataset: Path) -> None:
    entry = max(load_manifest(dataset).files, key=lambda f: f.bytes)
    with open(dataset / entry.path, "ab") as fh:
        fh.write(b"\0")


def test_tampered_dataset_fails_quick_verification_with_exit_3(data: SmallData, tmp_path: Path):
    maps = copy_dataset(data.maps, tmp_path / "maps")
    _grow_largest_file(maps)
    line = refused_train(maps, "sconet-mt-ske", tmp_path / "run", code=3)
    assert "does not verify" in line and "changed" in line


def test_evaluate_on_a_tampered_dataset_exits_3(data: SmallData, runs: Path, tmp_path: Path):
    ske_run = tiny_run(data, "sconet-mt-ske", runs)
    maps = copy_dataset(data.maps, tmp_path / "maps")
    _grow_largest_file(maps)
    assert "does not verify" in refused_evaluate(ske_run, maps, code=3)


# --- evaluate / predict ----------------------------------------------------------------------------------


def test_evaluate_refuses_data_of_another_modality(data: SmallData, runs: Path):
    ske_run = tiny_run(data, "sconet-mt-ske", runs)
    line = refused_evaluate(ske_run, data.sil)
    assert "trained on 2-channel skeleton_map data" in line and "1-channel silhouette" in line


def test_evaluate_refuses_silhouette_checkpoint_on_maps(data: SmallData, runs: Path):
    sil_run = tiny_run(data, "sconet", runs)
    assert "trained on 1-channel silhouette data" in refused_evaluate(sil_run, data.maps)


def test_evaluate_refuses_maps_with_another_channel_order(data: SmallData, runs: Path, tmp_path: Path):
    ske_run = tiny_run(data, "sconet-mt-ske", runs)
    maps = copy_dataset(data.maps, tmp_path / "maps")
    layout = load_manifest(maps).layout
    spec = layout.arrays["maps"].model_copy(update={"channels": ("joint", "limb")})
    rewrite_manifest(maps, layout=layout.model_copy(update={"arrays": {"maps": spec}}))
    assert "[joint, limb]" in refused_evaluate(ske_run, maps)


def test_evaluate_refuses_test_ids_from_the_training_set(data: SmallData, runs: Path, tmp_path: Path):
    # the same maps with TRAIN and TEST swapped: the "test" split is what the checkpoint trained on
    # (--split train scores training data on purpose, labelled so: see test_evaluate.py)
    ske_run = tiny_run(data, "sconet-mt-ske", runs)
    maps = copy_dataset(data.maps, tmp_path / "maps")
    swap = {"train": "test", "test": "train"}
    records = tuple(r.model_copy(update={"split": swap[r.split]}) for r in load_manifest(maps).records)
    rewrite_manifest(maps, records=records)
    line = refused_evaluate(ske_run, maps)
    assert f"{len(data.partition.train)} evaluation sequences were in the checkpoint's training set" in line


def test_evaluate_drf_refuses_a_missing_or_differently_fitted_pav(data: SmallData, runs: Path):
    drf_run = tiny_run(data, "drf", runs)
    assert "pass --pav-manifest" in refused_evaluate(drf_run, data.maps)
    assert "PAV normaliser" in refused_evaluate(drf_run, data.maps, "--pav-manifest", data.pav_other)
    assert "PAV normaliser" in refused_evaluate(drf_run, data.maps, "--pav-manifest", data.pav_all)


def test_predict_refuses_data_of_another_modality(data: SmallData, runs: Path):
    ske_run = tiny_run(data, "sconet-mt-ske", runs)
    result = run_cli("predict", "--checkpoint", ske_run, "--input", data.sil, "--device", "cpu")
    assert result.exit_code == 1
    assert "trained on 2-channel skeleton_map data" in one_error_line(result)


def test_a_file_that_is_not_a_checkpoint_is_refused(data: SmallData, tmp_path: Path):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"not a checkpoint")
    assert "not a readable checkpoint" in refused_evaluate(bogus, data.maps)
