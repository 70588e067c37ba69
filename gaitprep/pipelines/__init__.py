"""Declarative pipelines: :mod:`~gaitprep.pipelines.recipe` parses and checks a YAML recipe (pydantic models,
every problem with its key and line); :mod:`~gaitprep.pipelines.run` plans it (paths, stage selection) and
runs each stage through its builder, cached by derivation id. The recipe side never imports the run side.
"""

from __future__ import annotations

from gaitprep.pipelines.recipe import (
    LoadedRecipe,
    Recipe,
    Stage,
    format_loc,
    load_recipe,
    parse_recipe,
    stage_params,
)
from gaitprep.pipelines.run import PipelinePlan, PipelineResult, StageReport, plan_pipeline, run_pipeline

__all__ = [
    "LoadedRecipe",
    "PipelinePlan",
    "PipelineResult",
    "Recipe",
    "Stage",
    "StageReport",
    "format_loc",
    "load_recipe",
    "parse_recipe",
    "plan_pipeline",
    "run_pipeline",
    "stage_params",
]
