"""Each choice of ``gaitmodels`` declared once: model names, training recipes, class weighting, frame
sampling modes, devices and the default backbone widths.

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

FrameSampling = Literal["fixed_unordered", "fixed_ordered", "all_ordered"]
"""OpenGait's frame sampling modes (fixed/all x ordered/unordered) that training and evaluation use."""
FRAME_SAMPLING: tuple[str, ...] = get_args(FrameSampling)

Device = Literal["auto", "cpu", "cuda"]
"""Where a command runs: auto takes CUDA when available, else the CPU."""
DEVICES: tuple[str, ...] = get_args(Device)
DEFAULT_DEVICE: Device = "auto"

DEFAULT_WIDTHS = (64, 128, 256, 512)
"""The backbone's stage widths (upstream ScoNet); smaller ones make quick CPU demos."""

BOOTSTRAP_RESAMPLES = 2000
"""Bootstrap resamples of the 95 % intervals (evaluate) and of the paired differences (compare)."""
BOOTSTRAP_SEED = 0
