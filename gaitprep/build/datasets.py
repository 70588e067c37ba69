"""Every dataset builder, in one import (each lives in its own module of :mod:`gaitprep.build`).

A builder takes its inputs, its own representation parameters and one
``options: BuildOptions`` (:mod:`gaitprep.build.options`: format, workers, dask address, force, progress,
name, partition, owner), and hands its plan and those options to the engine. Tree builders also take
``read`` (a :class:`~gaitprep.io.read_options.ReadOptions`: how raw frames are read).

Every ``process_*`` function is top-level (picklable for joblib and dask) and does load + transform for
one sequence; the transforms themselves stay pure functions in their own modules.
"""

from __future__ import annotations

from gaitprep.build.heatmaps import build_heatmaps, process_heatmaps
from gaitprep.build.options import DEFAULT_OPTIONS, FORMATS, BuildOptions
from gaitprep.build.pav import build_pav, process_pav
from gaitprep.build.plans import FRAME_IDS
from gaitprep.build.poses import POSE_ALGO_VERSION, build_poses, process_poses
from gaitprep.build.registered import (
    REGISTRATION_GEOMETRY,
    build_registered_silhouettes,
    process_registered,
    registration_spec,
)
from gaitprep.build.silhouettes import SILHOUETTE_ALGO_VERSION, build_silhouettes, process_silhouettes
from gaitprep.build.stacking import build_stacked

__all__ = [
    "DEFAULT_OPTIONS",
    "FORMATS",
    "FRAME_IDS",
    "POSE_ALGO_VERSION",
    "REGISTRATION_GEOMETRY",
    "SILHOUETTE_ALGO_VERSION",
    "BuildOptions",
    "build_heatmaps",
    "build_pav",
    "build_poses",
    "build_registered_silhouettes",
    "build_silhouettes",
    "build_stacked",
    "process_heatmaps",
    "process_pav",
    "process_poses",
    "process_registered",
    "process_silhouettes",
    "registration_spec",
]
