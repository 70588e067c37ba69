"""Typed read-back: a dataset's parameters come back as the pydantic model that wrote them, and list,
diff-manifest and preview read them through it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gaitprep.build import BuildOptions
from gaitprep.build.datasets import build_heatmaps, build_pav, build_silhouettes
from gaitprep.diff import diff_manifests
from gaitprep.errors import BadInputError
from gaitprep.heatmaps.spec import HeatmapSpec, preset
from gaitprep.manifest import load_manifest
from gaitprep.params import heatmap_spec, read_spec
from gaitprep.partition import load_partition
from gaitprep.pav import PavSpec
from gaitprep.preview import _keypoints_on_output
from gaitprep.silhouettes import SilhouetteSpec


@pytest.fixture(scope="module")
def built(synth_release: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("params")
    part = load_partition(synth_release / "Scoliosis1K_118.json")
    poses = synth_release / "pose-pkl"
    out = {name: base / name for name in ("maps", "coco", "pav", "sil")}
    build_heatmaps(poses, out["maps"], preset("recommended"), options=BuildOptions(quiet=True))
    build_heatmaps(
        poses, out["coco"], preset("recommended", joint_set="coco17"), options=BuildOptions(quiet=True)
    )
    build_pav(poses, out["pav"], options=BuildOptions(partition=part, quiet=True))
    build_silhouettes(synth_release / "sil-raw", out["sil"], options=BuildOptions(quiet=True))
    return out


def test_each_built_dataset_reads_back_as_the_spec_that_wrote_it(built):
    assert read_spec(load_manifest(built["maps"])) == preset("recommended")
    assert read_spec(load_manifest(built["coco"])) == preset("recommended", joint_set="coco17")
    assert read_spec(load_manifest(built["pav"])) == PavSpec()
    assert read_spec(load_manifest(built["sil"])) == SilhouetteSpec()
    assert isinstance(heatmap_spec(load_manifest(built["maps"])), HeatmapSpec)
    with pytest.raises(BadInputError, match="is pav, not skeleton maps"):
        heatmap_spec(load_manifest(built["pav"]))


def test_an_unknown_or_invalid_parameter_fails_naming_it_and_a_missing_one_takes_its_default(built):
    maps = load_manifest(built["maps"])
    renamed = {k: v for k, v in maps.params.items() if k != "crop"} | {"crop_mode": "full_canvas"}
    with pytest.raises(BadInputError, match="'crop_mode' is not a field of HeatmapSpec"):
        read_spec(maps.model_copy(update={"params": renamed}))
    with pytest.raises(BadInputError, match="sigma_limb"):
        read_spec(maps.model_copy(update={"params": {**maps.params, "sigma_limb": -1}}))
    older = {k: v for k, v in maps.params.items() if k != "shoulder_edge"}  # a manifest before the field
    assert read_spec(maps.model_copy(update={"params": older})) == preset("recommended")


def test_diff_manifest_words_spec_fields_without_the_lists_derived_from_them(built):
    summary = diff_manifests(load_manifest(built["maps"]), load_manifest(built["coco"]))["summary"]
    assert summary[:2] == ["name maps → coco", "joint_set body → coco17"]
    assert not [line for line in summary if "joint_list" in line or "limb_list" in line]


def test_preview_overlays_keypoints_of_full_canvas_maps_read_through_the_spec(built):
    maps = load_manifest(built["maps"])
    rec = maps.records[0]
    kps = _keypoints_on_output(maps, rec, np.arange(2))
    assert kps is not None and kps.shape == (2, 17, 3)
    assert _keypoints_on_output(load_manifest(built["sil"]), rec, np.arange(2)) is None
