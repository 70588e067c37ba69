"""Each choice of ``gaitmodels`` declared once: model names, training recipes, class weighting, frame
sampling modes and the default backbone widths.

The typed configurations (:class:`gaitmodels.models.ModelConfig`, :class:`gaitmodels.train_config.TrainConfig`)
type their fields with these, and the command line derives its choices and defaults from them. No torch
here: ``gaitmodels train --help`` stays quick.
"""

from __future__ import annotations

from typing import Literal, get_args

ModelName = Literal["sconet", "sconet-mt", "sconet-mt-ske", "drf"]
MODEL_NAMES: tuple[str, ...] = get_args(ModelName)
SILHOUETTE_MODELS = ("sconet", "sconet-mt")
"""Models that read 1-channel silhouettes; the others read 2-channel [limb, joint] skeleton maps."""

Recipe = Literal["sgd-multistep", "adamw-cosine"]
RECIPES: tuple[str, ...] = get_args(Recipe)

ClassWeights = Literal["none", "inverse-frequency"]
CLASS_WEIGHTS: tuple[str, ...] = get_args(ClassWeights)

FRAME_SAMPLING = ("fixed_unordered", "fixed_ordered", "all_ordered")
"""OpenGait's frame sampling modes (fixed/all x ordered/unordered) that training and evaluation use."""

DEFAULT_WIDTHS = (64, 128, 256, 512)
"""The backbone's stage widths (upstream ScoNet); smaller ones make quick CPU demos."""
