"""Each choice is declared once and the command line derives its choices and defaults from it: these tests
read the click options and compare them with the declarations, so a restated list or default that drifts
(or a new choice option added without a declaration) fails here."""

from __future__ import annotations

from typing import Literal, Optional

import click
import numpy as np
import pytest

from gaitprep.commands.choices import dashed, field_default, field_values, literal_values, undash
from gaitprep.heatmaps.spec import _PRESETS, DEFAULT_PRESET, PRESET_NAMES, HeatmapSpec, preset
from gaitprep.io.frame_order import FRAME_ORDERS
from gaitprep.io.read_options import DEFAULT_READ, PERSON_MODES, ReadOptions
from gaitprep.pav import DEFAULT_FIT_ON, FIT_ON, fit_set_ids
from gaitprep.pipelines.recipe import PavParams, SilhouetteParams
from gaitprep.skeleton import JOINT_SET_NAMES, JOINT_SETS


def _options(command: click.Command) -> dict[str, click.Option]:
    return {p.name: p for p in command.params if isinstance(p, click.Option)}


def _parsed_defaults(command: click.Command) -> dict[str, object]:
    """What the command receives for each option when none is given."""
    return command.make_context(command.name, [], resilient_parsing=True).params


def _choices(option: click.Option) -> tuple[str, ...]:
    assert isinstance(option.type, click.Choice), f"--{option.name} is not a choice"
    return tuple(option.type.choices)


# render-heatmaps option -> (HeatmapSpec field, spelt with dashes on the command line)
HEATMAP_CHOICES = {
    "joints": ("joint_set", False),
    "span_joints": ("scale_span_joints", False),
    "align": ("align", True),
    "combine": ("combine", False),
    "scale": ("scale", True),
    "placement": ("placement", False),
    "impute_on": ("impute_on", False),
    "never_observed": ("knn_never_observed", True),
    "hip_missing": ("hip_missing", False),
    "crop": ("crop", True),
    "quantise": ("quantise", False),
    "unnormalisable": ("unnormalisable", False),
    "raster": ("raster", False),
}
# Output-side and reader options, checked by their own tests (the output side is BuildOptions' business).
SHARED_OPTIONS = {"fmt", "person", "frame_order"}


def test_every_render_heatmaps_choice_is_the_spec_fields_literal():
    from gaitprep.commands.heatmaps import render_heatmaps

    options = _options(render_heatmaps)
    given = _parsed_defaults(render_heatmaps)
    choice_options = {n for n, o in options.items() if isinstance(o.type, click.Choice)}
    # A new choice option must be listed here with the field it comes from (or fail).
    assert choice_options == set(HEATMAP_CHOICES) | {"preset"} | SHARED_OPTIONS
    for name, (field, dash) in HEATMAP_CHOICES.items():
        values = field_values(HeatmapSpec, field)
        assert _choices(options[name]) == (dashed(values) if dash else values), name
        assert given[name] is None, f"--{name} leaves the value to the preset"
        assert {undash(c) if dash else c for c in _choices(options[name])} == set(values)


# render-heatmaps / silhouettes numeric option -> the HeatmapSpec field whose bounds it takes
HEATMAP_RANGES = {
    "sigma": "sigma_limb",
    "sigma_limb": "sigma_limb",
    "sigma_joint": "sigma_joint",
    "scale_window": "scale_window",
    "margin_sigmas": "margin_sigmas",
    "canvas": "canvas",
    "size": "size",
    "low_conf_interpolate": "low_conf_interpolate",
}


def _bounds(option: click.Option) -> tuple:
    t = option.type
    assert isinstance(t, (click.IntRange, click.FloatRange)), f"--{option.name} is not a range"
    return (type(t), t.min, t.min_open, t.max, t.max_open)


def test_render_heatmaps_ranges_are_the_spec_fields_bounds():
    from gaitprep.commands.heatmaps import render_heatmaps
    from gaitprep.commands.silhouettes import silhouettes

    options = _options(render_heatmaps)
    ranged = {n for n, o in options.items() if isinstance(o.type, (click.IntRange, click.FloatRange))}
    assert ranged == set(HEATMAP_RANGES) | {"workers"}  # workers: an output-side option
    expected = {
        "sigma_limb": (click.FloatRange, 0, True, None, False),
        "scale_window": (click.IntRange, 1, False, 1001, False),
        "margin_sigmas": (click.FloatRange, 0, False, None, False),
        "canvas": (click.IntRange, 8, False, 4096, False),
        "size": (click.IntRange, 1, False, 4096, False),
        "low_conf_interpolate": (click.FloatRange, 0, True, 1, False),
    }
    for name, field in HEATMAP_RANGES.items():
        assert _bounds(options[name]) == expected.get(field, expected["sigma_limb"]), name
    assert _bounds(_options(silhouettes)["sigma"]) == expected["sigma_limb"]
    assert HeatmapSpec.model_fields["canvas"].metadata[1].le == 4096  # the spec holds the bound the CLI shows


@pytest.mark.parametrize(
    ("option", "value"), [("--canvas", "4097"), ("--canvas", "7"), ("--scale-window", "1003")]
)
def test_render_heatmaps_refuses_a_value_outside_the_spec_as_a_usage_error(tmp_path, option, value):
    from click.testing import CliRunner

    from gaitprep.cli import main

    tree = tmp_path / "pose-pkl"
    tree.mkdir()
    res = CliRunner().invoke(
        main, ["render-heatmaps", "--input", str(tree), "--out", str(tmp_path / "o"), option, value]
    )
    assert res.exit_code == 2, res.output
    assert "error:" in res.output and option in res.output
    assert not (tmp_path / "o").exists()


def test_the_preset_option_is_the_declared_presets_with_the_upstream_default():
    from gaitprep.commands.heatmaps import render_heatmaps

    option = _options(render_heatmaps)["preset"]
    assert _choices(option) == PRESET_NAMES == tuple(_PRESETS) == ("opengait", "recommended")
    assert option.default == DEFAULT_PRESET == "opengait"
    assert preset(DEFAULT_PRESET) == HeatmapSpec(
        preset="opengait"
    )  # the default preset is the spec's defaults


def test_joint_set_names_are_declared_once_and_every_one_is_defined():
    assert JOINT_SET_NAMES == ("coco17", "body", "head-lite")
    assert tuple(JOINT_SETS) == JOINT_SET_NAMES
    assert field_values(HeatmapSpec, "joint_set") == JOINT_SET_NAMES
    assert field_values(SilhouetteParams, "joints") == JOINT_SET_NAMES


def test_recipe_silhouette_params_take_the_spec_fields_choices():
    assert field_values(SilhouetteParams, "scale") == field_values(HeatmapSpec, "scale")
    assert field_values(SilhouetteParams, "span_joints") == field_values(HeatmapSpec, "scale_span_joints")
    assert field_default(SilhouetteParams, "scale") is None  # None: the recommended preset's own


def test_silhouettes_scale_option_is_the_spec_scale_field():
    from gaitprep.commands.silhouettes import silhouettes

    option = _options(silhouettes)["scale"]
    assert _choices(option) == ("per-frame", "per-sequence", "smoothed")
    assert _choices(option) == dashed(field_values(HeatmapSpec, "scale"))
    assert _parsed_defaults(silhouettes)["scale"] is None


def test_pav_fit_on_option_recipe_field_and_library_share_one_declaration():
    from gaitprep.commands.pav import pav

    option = _options(pav)["fit_on"]
    assert _choices(option) == FIT_ON == field_values(PavParams, "fit_on") == ("train", "all")
    assert option.default == DEFAULT_FIT_ON == field_default(PavParams, "fit_on") == "train"


def test_fit_set_ids_defaults_to_train_and_names_the_declared_choices(tmp_path):
    from gaitprep.errors import BadInputError
    from gaitprep.partition import write_partition

    part = write_partition(tmp_path / "p.json", ["00001"], ["00002"])
    assert fit_set_ids(part, ["00001", "00002"]) == ["00001"]
    with pytest.raises(BadInputError, match=r"must be 'train' or 'all', got 'test'"):
        fit_set_ids(part, ["00001"], "test")


def test_reader_options_are_read_options_fields():
    from gaitprep.commands.inspect import inspect_cmd
    from gaitprep.commands.pav import pav

    for command in (pav, inspect_cmd):
        options = _options(command)
        assert _choices(options["person"]) == PERSON_MODES == field_values(ReadOptions, "person")
        assert _choices(options["frame_order"]) == FRAME_ORDERS == field_values(ReadOptions, "frame_order")
        assert options["person"].default == DEFAULT_READ.person == field_default(ReadOptions, "person")
        assert options["frame_order"].default == field_default(ReadOptions, "frame_order")


def test_export_targets_are_declared_once():
    from gaitprep.commands.export import export
    from gaitprep.errors import BadInputError
    from gaitprep.export import TARGETS, export_dataset

    assert _choices(_options(export)["target"]) == TARGETS == ("hdf5", "croissant", "opengait-partition")
    with pytest.raises(BadInputError, match="expected one of hdf5, croissant, opengait-partition"):
        export_dataset("unused", "parquet", "unused.out")


def test_gaitmodels_train_options_are_train_config_fields():
    from gaitmodels.choices import (
        CLASS_WEIGHTS,
        DEFAULT_DEVICE,
        DEVICES,
        FRAME_SAMPLING,
        MODEL_NAMES,
        RECIPES,
    )
    from gaitmodels.commands import evaluate, predict, train
    from gaitmodels.models.sconet import ModelConfig
    from gaitmodels.train_config import TrainConfig

    options = _options(train)
    assert _choices(options["model"]) == MODEL_NAMES == field_values(TrainConfig, "model")
    assert field_values(ModelConfig, "name") == MODEL_NAMES
    assert _choices(options["recipe"]) == RECIPES == field_values(TrainConfig, "recipe")
    assert _choices(options["class_weights"]) == CLASS_WEIGHTS == field_values(TrainConfig, "class_weights")
    assert _choices(options["sampling"]) == FRAME_SAMPLING
    for name in ("recipe", "class_weights", "sampling", "iterations", "frames", "seed", "save_every"):
        assert options[name].default == field_default(TrainConfig, name), name
    assert options["widths"].default == ",".join(map(str, field_default(TrainConfig, "widths")))
    for command in (train, evaluate, predict):
        device = _options(command)["device"]
        assert (_choices(device), device.default) == (DEVICES, DEFAULT_DEVICE)


def test_gaitmodels_bootstrap_options_are_the_bootstrap_defaults():
    from gaitmodels.bootstrap import RESAMPLES, SEED
    from gaitmodels.commands import compare, evaluate

    for command in (evaluate, compare):
        options = _options(command)
        assert (options["resamples"].default, options["seed"].default) == (RESAMPLES, SEED) == (2000, 0)


def test_split_and_synth_default_to_upstreams_main_partition_ratio():
    import inspect

    from gaitprep.commands.split import split
    from gaitprep.commands.synth import synth
    from gaitprep.partition import DEFAULT_RATIO
    from gaitprep.synth.release import write_release

    assert DEFAULT_RATIO == "1:1:8"
    for command in (split, synth):
        assert _options(command)["ratio"].default == DEFAULT_RATIO
    assert inspect.signature(write_release).parameters["ratio"].default == DEFAULT_RATIO


@pytest.mark.parametrize(
    ("annotation", "values"),
    [
        (Literal["a", "b"], ("a", "b")),
        (Literal["a", "b"] | None, ("a", "b")),
        (Optional[Literal["x"]], ("x",)),  # noqa: UP045 - the typing spelling is read too
    ],
)
def test_literal_values_look_through_optional(annotation, values):
    assert literal_values(annotation) == values


def test_literal_values_refuse_a_type_without_literal():
    with pytest.raises(TypeError):
        literal_values(str | None)


# --- the load-time cut ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "cut"), [(64, 10), (63, 0), (44, 0), (128, 20), (200, 30)])
def test_every_user_of_the_load_time_cut_cuts_the_same_columns(width, cut):
    import gaitprep
    from gaitmodels.sampling import cut_transform
    from gaitprep.cut import cut_columns
    from gaitprep.heatmaps.stats import border_zones

    assert cut_columns(width) == cut
    x = np.arange(2 * 3 * width, dtype=np.int64).reshape(2, 3, width).astype(np.uint8)
    expected = x[..., cut : width - cut].astype(np.float64) / 255.0
    np.testing.assert_allclose(gaitprep.load_transform(x), expected, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(cut_transform(x), gaitprep.load_transform(x))
    zones = border_zones(width)
    assert zones["left"][1] == slice(0, max(cut, 1))
    assert zones["right"][1] == slice(width - max(cut, 1), width)


def test_manifests_record_the_cut_as_they_always_did():
    from gaitprep.cut import LOAD_TRANSFORM
    from gaitprep.manifest import Layout

    # The text every manifest since version 1 carries; changing the cut changes it.
    assert LOAD_TRANSFORM == "cut int(W // 64) * 10 columns from each side, then / 255 (applied at load)"
    assert field_default(Layout, "load_transform") == LOAD_TRANSFORM
