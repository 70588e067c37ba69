"""``gaitprep run``: YAML recipes validated with line numbers, stages cached by derivation id, dask scale-out."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gaitprep.build import BuildOptions
from gaitprep.build.datasets import build_heatmaps
from gaitprep.build.stacking import silhouette_coverage, stack_frames
from gaitprep.cli import main
from gaitprep.errors import BadInputError
from gaitprep.heatmaps.spec import HeatmapSpec, preset
from gaitprep.io.safe_pickle import dump_array_pickle, load_array_pickle
from gaitprep.io.store import read_sequence
from gaitprep.manifest import MANIFEST_NAME, load_manifest
from gaitprep.partition import load_partition, write_partition
from gaitprep.pipelines.recipe import format_loc, load_recipe, parse_recipe, stage_params
from gaitprep.pipelines.run import plan_pipeline, run_pipeline
from gaitprep.synth.release import choose_partition, class_blocks

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"
REQUIRED_RECIPES = (
    "opengait-sigma8",
    "body-sigma8-shared",
    "body-limb15-joint8",
    "head-lite-sigma8",
    "coco17-sigma8-shared",
    "silhouette",
    "pav-112",
    "demo",
)

# A recipe with every kind of stage that a change of sigma must or must not touch.
FULL_RECIPE = """\
name: small
inputs:
  pose: pose-pkl
  sil: sil-raw
partition: partitions/Scoliosis1K_112.json
stages:
  - name: maps
    kind: skeleton_maps
    input: pose
    params:
      preset: recommended
      sigma: 8
  - name: pav
    kind: pav
    input: pose
    params: {fit_on: train}
  - name: regsil
    kind: silhouettes
    input: sil
    params:
      register_with: pose
  - name: stacked
    kind: stacked
    input: maps
    params:
      silhouettes: regsil
"""


@pytest.fixture
def data_root(tmp_path: Path, synth_release: Path) -> Path:
    """The real-release data-root layout over the session's synthetic release (linked, read-only)."""
    root = tmp_path / "data"
    (root / "partitions").mkdir(parents=True)
    for layout in ("pose-pkl", "sil-raw", "sil-pkl"):
        (root / layout).symlink_to(synth_release / layout, target_is_directory=True)
    shutil.copy(synth_release / "Scoliosis1K_118.json", root / "partitions" / "Scoliosis1K_118.json")
    write_partition(root / "partitions" / "Scoliosis1K_112.json", *choose_partition(class_blocks(12), 2, 7))
    return root


def write_recipe(folder: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def manifest_state(out: Path) -> tuple[int, str, str]:
    m = load_manifest(out)
    return (out / MANIFEST_NAME).stat().st_mtime_ns, m.derivation_id, m.content_digest


def line_of(text: str, fragment: str) -> int:
    """1-based number of the only line of ``text`` containing ``fragment``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if fragment in line]
    assert len(hits) == 1, (fragment, hits)
    return hits[0]


# --- shipped recipes ------------------------------------------------------------------------------------


def test_every_shipped_recipe_validates_and_starts_with_a_comment_header() -> None:
    names = {p.stem for p in PIPELINES.glob("*.yaml")}
    assert set(REQUIRED_RECIPES) <= names
    for path in sorted(PIPELINES.glob("*.yaml")):
        loaded = load_recipe(path)
        assert path.read_text().startswith("# "), path
        assert loaded.recipe.name == path.stem
        for stage in loaded.recipe.stages:
            stage_params(stage)  # every stage's params build their typed object


def test_shipped_skeleton_recipes_hold_the_documented_specs() -> None:
    def spec(name: str) -> HeatmapSpec:
        (stage,) = load_recipe(PIPELINES / f"{name}.yaml").recipe.stages
        return stage_params(stage)

    assert spec("opengait-sigma8") == preset("opengait")
    assert spec("body-sigma8-shared") == preset("recommended")
    limb15 = spec("body-limb15-joint8")
    assert (limb15.sigma_limb, limb15.sigma_joint, limb15.align, limb15.joint_set) == (
        15.0,
        8.0,
        "shared",
        "body",
    )
    assert spec("head-lite-sigma8") == preset("recommended", joint_set="head-lite")
    coco = spec("coco17-sigma8-shared")
    assert (coco.joint_set, coco.align, coco.sigma_limb, coco.sigma_joint) == ("coco17", "shared", 8.0, 8.0)


def test_demo_recipe_builds_recommended_maps_pav_fit_on_train_and_silhouettes() -> None:
    loaded = load_recipe(PIPELINES / "demo.yaml")
    r = loaded.recipe
    assert r.partition == "synth/Scoliosis1K_114.json"
    kinds = {s.kind: s for s in r.stages}
    assert set(kinds) == {"skeleton_maps", "pav", "silhouettes"}
    assert stage_params(kinds["skeleton_maps"]) == preset("recommended")
    assert kinds["skeleton_maps"].format == "zarr"
    assert stage_params(kinds["pav"]).fit_on == "train"
    plan = plan_pipeline(loaded, data_root="/demo")
    assert plan.partition == Path("/demo/synth/Scoliosis1K_114.json")
    assert {p.stage.name: p.out for p in plan.stages}["pav"] == Path("/demo/datasets/pav")


# --- caching --------------------------------------------------------------------------------------------


def test_rerunning_an_unchanged_recipe_builds_nothing_and_says_up_to_date(data_root: Path) -> None:
    recipe = write_recipe(data_root, FULL_RECIPE)
    first = run_pipeline(recipe, quiet=True)
    assert [s.status for s in first.stages] == ["built"] * 4
    assert all(s.built == 12 and s.sequences == 12 for s in first.stages)
    before = {s.name: manifest_state(Path(s.path)) for s in first.stages}

    result = CliRunner().invoke(main, ["run", str(recipe), "-q"])
    assert result.exit_code == 0, result.output
    for name in ("maps", "pav", "regsil", "stacked"):
        assert re.search(rf"^\s+{name}\s+up to date\s+12 sequences", result.stdout, re.M), result.stdout
    assert "0 built, 4 up to date" in result.stdout
    after = {s.name: manifest_state(Path(s.path)) for s in first.stages}
    assert after == before  # same mtimes: nothing was rewritten


def test_changing_the_quantiser_rebuilds_only_the_map_stage_and_its_consumers(data_root: Path) -> None:
    # (Not sigma: under recommended the margins for the Gaussian tails are in sigmas, so sigma is part of the
    # geometry that the registered silhouettes share, and stacking refuses maps whose geometry differs.)
    recipe = write_recipe(data_root, FULL_RECIPE)
    first = {s.name: s for s in run_pipeline(recipe, quiet=True).stages}
    before = {n: manifest_state(Path(s.path)) for n, s in first.items()}

    recipe.write_text(FULL_RECIPE.replace("sigma: 8", "sigma: 8\n      quantise: lut_exact"))
    second = {s.name: s for s in run_pipeline(recipe, quiet=True).stages}

    assert {n: (s.status, s.replaced) for n, s in second.items()} == {
        "maps": ("built", True),
        "pav": ("up to date", False),
        "regsil": ("up to date", False),
        "stacked": ("built", True),
    }
    for untouched in ("pav", "regsil"):
        assert manifest_state(Path(second[untouched].path)) == before[untouched]
    for rebuilt in ("maps", "stacked"):
        assert second[rebuilt].derivation_id != before[rebuilt][1]
        assert second[rebuilt].content_digest != before[rebuilt][2]
    # The rebuilt maps are exactly what a direct build with that quantiser gives.
    direct = build_heatmaps(
        data_root / "pose-pkl",
        data_root / "direct",
        preset("recommended", sigma_limb=8.0, sigma_joint=8.0, quantise="lut_exact"),
        options=BuildOptions(
            partition=load_partition(data_root / "partitions" / "Scoliosis1K_112.json"), quiet=True
        ),
    )
    assert direct.manifest.derivation_id == second["maps"].derivation_id
    assert direct.manifest.content_digest == second["maps"].content_digest


def test_only_runs_the_named_stage_and_the_stages_it_reads(data_root: Path) -> None:
    recipe = write_recipe(data_root, FULL_RECIPE)
    result = run_pipeline(recipe, only=["stacked"], quiet=True)
    assert [s.name for s in result.stages] == ["maps", "regsil", "stacked"]
    assert not (data_root / "datasets" / "pav").exists()
    with pytest.raises(BadInputError, match="--only nope: no such stage"):
        run_pipeline(recipe, only=["nope"], quiet=True)


def test_stacked_stage_channels_are_the_registered_silhouettes_and_the_maps(data_root: Path) -> None:
    recipe = write_recipe(data_root, FULL_RECIPE)
    stages = {s.name: Path(s.path) for s in run_pipeline(recipe, only=["stacked"], quiet=True).stages}
    stacked, maps, sil = (load_manifest(stages[n]) for n in ("stacked", "maps", "regsil"))
    assert stacked.modality == "stacked"
    assert stacked.layout.arrays["stacked"].channels == ("silhouette", "limb", "joint")
    assert [u["content_digest"] for u in stacked.source.upstream] == [sil.content_digest, maps.content_digest]
    rec = stacked.records[3]
    arr = read_sequence(stages["stacked"], rec, stacked.layout)["stacked"]
    m = read_sequence(stages["maps"], maps.record_by_key()[rec.key], maps.layout)["maps"]
    s = read_sequence(stages["regsil"], sil.record_by_key()[rec.key], sil.layout)["silhouette"]
    assert arr.dtype == np.uint8 and arr.shape == (rec.frames, 3, 64, 64)
    np.testing.assert_array_equal(arr[:, 0], s)
    np.testing.assert_array_equal(arr[:, 1:], m)  # maps are [limb, joint]
    # Registered: nearly every body pixel lies under the maps' support.
    assert stacked.statistics["silhouette_coverage"]["mean"] > 0.95


def test_stacked_refuses_maps_whose_frame_count_differs_naming_the_sequence(data_root: Path) -> None:
    # The maps read a copy of the pose tree whose sequence 00004 lost its last frame.
    short = data_root / "pose-short"
    shutil.copytree(data_root / "pose-pkl", short)
    (pkl,) = sorted(short.glob("00004/*/000_180/000_180.pkl"))
    pose = load_array_pickle(pkl)
    dump_array_pickle(pose[:-1], pkl)
    text = FULL_RECIPE.replace("  sil: sil-raw\n", "  sil: sil-raw\n  short: pose-short\n").replace(
        "    kind: skeleton_maps\n    input: pose\n", "    kind: skeleton_maps\n    input: short\n"
    )
    recipe = write_recipe(data_root, text)
    key = f"00004/{pkl.parts[-3]}/000_180"
    match = f"sequence {key} has {len(pose)} silhouette frames but {len(pose) - 1} skeleton-map frames"
    with pytest.raises(BadInputError, match=match):
        run_pipeline(recipe, only=["stacked"], quiet=True)


def test_stacked_refuses_maps_scaled_by_other_joints_than_the_silhouettes(data_root: Path) -> None:
    recipe = write_recipe(
        data_root,
        FULL_RECIPE.replace(
            "      preset: recommended\n", "      preset: recommended\n      scale_span_joints: all17\n"
        ),
    )
    with pytest.raises(BadInputError, match="differ in span_joints"):
        run_pipeline(recipe, only=["stacked"], quiet=True)


def test_stack_frames_orders_channels_by_name_and_coverage_counts_body_pixels() -> None:
    sil = np.zeros((2, 4, 4), np.uint8)
    sil[:, :2, :2] = 255  # 4 body pixels per frame
    maps = np.zeros((2, 2, 4, 4), np.uint8)
    maps[:, 0, 0, 0] = 7  # channel 0 is "joint" here
    maps[:, 1, 0, 1] = 9  # channel 1 is "limb"
    out = stack_frames(sil, maps, ("joint", "limb"))
    assert out.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(out[:, 0], sil)
    np.testing.assert_array_equal(out[:, 1], maps[:, 1])
    np.testing.assert_array_equal(out[:, 2], maps[:, 0])
    assert silhouette_coverage(out) == pytest.approx(2 / 4)
    with pytest.raises(BadInputError, match="2 silhouette frames but 1 skeleton-map frames"):
        stack_frames(sil, maps[:1], ("joint", "limb"))


# --- validation -----------------------------------------------------------------------------------------

BASE = """\
name: bad
inputs:
  pose: pose-pkl
  sil: sil-raw
partition: partitions/Scoliosis1K_112.json
stages:
  - name: maps
    kind: skeleton_maps
    input: pose
    params:
      preset: recommended
      sigma_limb: 8
  - name: pav
    kind: pav
    input: pose
    params: {fit_on: train}
    format: zarr
"""

INVALID = [
    # (replace, with, key named in the error, fragment of the offending line, message)
    ("name: bad\n", "name: bad\ncolour: blue\n", "colour", "colour: blue", "unknown key"),
    ("      sigma_limb: 8\n", "      sigmaa: 8\n", "stages[0].params.sigmaa", "sigmaa", "unknown key"),
    (
        "      sigma_limb: 8\n",
        "      sigma_limb: wide\n",
        "stages[0].params.sigma_limb",
        "wide",
        "valid number",
    ),
    (
        "      sigma_limb: 8\n",
        "      sigma_limb: -2\n",
        "stages[0].params.sigma_limb",
        "-2",
        "greater than 0",
    ),
    ("    format: zarr\n", "    format: hdf5\n", "stages[1].format", "hdf5", "'zarr', 'pkl' or 'both'"),
    ("{fit_on: train}", "{fit_on: test}", "stages[1].params.fit_on", "fit_on: test", "'train' or 'all'"),
    ("    kind: pav\n", "    kind: pavv\n", "stages[1].kind", "pavv", "skeleton_maps"),
    (
        "    input: pose\n    params: {",
        "    input: poses\n    params: {",
        "stages[1].input",
        "poses",
        "not defined",
    ),
    (
        "      preset: recommended\n",
        "      preset: fancy\n",
        "stages[0].params.preset",
        "fancy",
        "unknown preset",
    ),
    (
        "partition: partitions/Scoliosis1K_112.json\n",
        "",
        "stages[1].kind",
        "kind: pav",
        "needs a top-level partition",
    ),
    ("  - name: pav\n", "  - name: maps  # again\n", "stages[1].name", "# again", "used twice"),
]


@pytest.mark.parametrize(("old", "new", "key", "fragment", "message"), INVALID)
def test_invalid_recipe_fails_naming_the_key_and_its_line(
    tmp_path: Path, old: str, new: str, key: str, fragment: str, message: str
) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    path = write_recipe(tmp_path, text)
    with pytest.raises(BadInputError) as info:
        load_recipe(path)
    err = str(info.value)
    assert err.startswith(f"{path}: line {line_of(text, fragment)}: {key}: "), err
    assert message in err
    assert "\n" not in err


def test_stacked_recipe_must_name_registered_silhouettes(tmp_path: Path) -> None:
    text = FULL_RECIPE.replace("    params:\n      register_with: pose\n", "")
    path = write_recipe(tmp_path, text)
    line = line_of(text, "silhouettes: regsil")
    with pytest.raises(
        BadInputError, match=rf"line {line}: stages\[3\]\.params\.silhouettes: stacked needs an"
    ):
        load_recipe(path)


def test_malformed_yaml_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, "name: x\ninputs:\n  pose: [a, b\nstages: []\n")
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: line 4: malformed YAML"), result.stderr


def test_duplicate_keys_and_non_mapping_recipes_are_refused(tmp_path: Path) -> None:
    text = BASE.replace("    format: zarr\n", "    format: zarr\n    format: pkl\n")
    with pytest.raises(
        BadInputError, match=rf"line {line_of(text, 'format: pkl')}: stages\[1\]\.format: duplicate"
    ):
        parse_recipe(text, tmp_path / "r.yaml")
    with pytest.raises(BadInputError, match="line 1: a recipe is a YAML mapping"):
        parse_recipe("- a\n- b\n", tmp_path / "r.yaml")
    with pytest.raises(BadInputError, match="the file is empty"):
        parse_recipe("# only a comment\n", tmp_path / "r.yaml")


def test_format_loc_writes_indices_in_brackets() -> None:
    assert format_loc(("stages", 2, "params", "sigma")) == "stages[2].params.sigma"
    assert format_loc(()) == "(top level)"


def test_missing_input_path_names_the_input_and_its_line(data_root: Path) -> None:
    text = FULL_RECIPE.replace("  sil: sil-raw\n", "  sil: nowhere\n")
    recipe = write_recipe(data_root, text)
    with pytest.raises(
        BadInputError, match=rf"line {line_of(text, 'nowhere')}: inputs\.sil: input path does not"
    ):
        run_pipeline(recipe, only=["regsil"], quiet=True)


# --- CLI and scale-out ----------------------------------------------------------------------------------

MAPS_ONLY = """\
name: maps-only
inputs:
  pose: pose-pkl
partition: partitions/Scoliosis1K_118.json
output_root: {out}
stages:
  - name: maps
    kind: skeleton_maps
    input: pose
    params:
      preset: opengait
      sigma: 8
    format: both
"""


def test_cli_json_reports_every_stage_with_its_manifest_digests(data_root: Path, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, MAPS_ONLY.format(out="built"))
    args = ["run", str(recipe), "--data-root", str(data_root), "--json", "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["recipe"] == "maps-only"
    assert (doc["built"], doc["up_to_date"]) == (1, 0)
    (stage,) = doc["stages"]
    m = load_manifest(data_root / "built" / "maps")
    assert stage["path"] == str(data_root / "built" / "maps")
    assert (stage["status"], stage["sequences"], stage["frames"]) == ("built", 12, m.counts["frames"])
    assert (stage["content_digest"], stage["derivation_id"]) == (m.content_digest, m.derivation_id)
    again = json.loads(CliRunner().invoke(main, args).stdout)
    assert again["stages"][0]["status"] == "up to date" and again["stages"][0]["built"] == 0


def test_cli_dry_run_plans_without_building(data_root: Path) -> None:
    recipe = write_recipe(data_root, FULL_RECIPE)
    result = CliRunner().invoke(main, ["run", str(recipe), "--dry-run", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [s["name"] for s in doc["stages"]] == ["maps", "pav", "regsil", "stacked"]
    assert doc["stages"][3]["depends"] == ["regsil", "maps"]
    assert not (data_root / "datasets").exists()


def test_dask_cluster_build_has_the_single_process_content_digest(data_root: Path, tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    single = run_pipeline(
        write_recipe(tmp_path, MAPS_ONLY.format(out="single"), "a.yaml"), data_root=data_root
    )
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        recipe = write_recipe(tmp_path, MAPS_ONLY.format(out="dask"), "b.yaml")
        distributed = run_pipeline(
            recipe, data_root=data_root, dask_address=cluster.scheduler_address, quiet=True
        )
        ran_on_dask = [name for name in cluster.scheduler.task_prefixes if "build_one" in name]
    assert ran_on_dask, "the per-sequence tasks did not go through the dask scheduler"
    (a,), (b,) = single.stages, distributed.stages
    assert b.executor.startswith("dask:tcp://") and a.executor == "serial"
    assert b.status == "built" and b.built == 12
    assert b.content_digest == a.content_digest
    assert b.derivation_id == a.derivation_id
