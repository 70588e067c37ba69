"""One ``BuildOptions`` for the output side of every builder, passed through to the engine, not re-listed."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
from _trees import synthetic_plan

from gaitprep.build import BuildOptions, build_dataset, datasets
from gaitprep.errors import BadInputError
from gaitprep.manifest import Owner

OPTION_FIELDS = {f.name for f in dataclasses.fields(BuildOptions)}
BUILDERS = [getattr(datasets, n) for n in datasets.__all__ if n.startswith("build_")]


def test_every_builder_takes_one_build_options_and_lists_none_of_its_fields() -> None:
    assert {b.__name__ for b in BUILDERS} == {
        "build_silhouettes", "build_poses", "build_pav", "build_heatmaps", "build_registered_silhouettes",
        "build_stacked",
    }  # fmt: skip
    for builder in [*BUILDERS, build_dataset]:
        params = inspect.signature(builder).parameters
        assert params["options"].default == BuildOptions(), builder.__name__
        assert not OPTION_FIELDS & set(params), builder.__name__


def test_build_options_refuse_an_unknown_format_and_fewer_than_one_worker() -> None:
    with pytest.raises(BadInputError, match="unknown format 'hdf5'; expected zarr, pkl or both"):
        BuildOptions(fmt="hdf5")
    for bad in (0, -2, 1.5, True):
        with pytest.raises(BadInputError, match="workers must be a whole number >= 1"):
            BuildOptions(workers=bad)


def test_build_options_name_the_executor_and_the_dataset() -> None:
    assert BuildOptions().executor == "serial"
    assert BuildOptions(workers=3).executor == "process:3"
    assert BuildOptions(workers=3, dask_address="tcp://10.0.0.5:8786").executor == "dask:tcp://10.0.0.5:8786"
    assert BuildOptions().dataset_name(Path("out/maps-v2")) == "maps-v2"
    assert BuildOptions(name="maps").dataset_name(Path("out/maps-v2")) == "maps"
    assert BuildOptions(fmt="both").replace(force=True) == BuildOptions(fmt="both", force=True)


def test_the_engine_records_what_the_plan_says_and_runs_as_the_options_say(tmp_path: Path) -> None:
    """Name, partition and owner come from the plan (the builders fill it from the options); workers are
    the options', recorded in the provenance; a different derivation at --out needs ``force``."""
    plan = synthetic_plan(tmp_path / "ds", n=3, frames=2)
    plan.owner = Owner(recipe="r", stage="s")
    manifest = build_dataset(plan, BuildOptions(workers=2, quiet=True)).manifest
    assert manifest.name == "ds" and manifest.owner == Owner(recipe="r", stage="s")
    assert manifest.provenance.workers == 2
    other = synthetic_plan(tmp_path / "ds", n=3, frames=2, params={"offset": 1})
    with pytest.raises(BadInputError, match="different dataset"):
        build_dataset(other, BuildOptions(quiet=True))
    assert not build_dataset(other, BuildOptions(quiet=True, force=True)).up_to_date
