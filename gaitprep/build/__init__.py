"""Dataset builds.

- :mod:`~gaitprep.build.options`: :class:`BuildOptions`, the output side every builder shares (format,
  workers, dask address, force, progress, name, partition, owner), passed through to the engine.
- :mod:`~gaitprep.build.engine`: runs a :class:`BuildPlan` (checks, the derivation-id cache, one build),
  with :mod:`~gaitprep.build.staging` (lock, staging directory, done-records, atomic commit),
  :mod:`~gaitprep.build.runner` (serial, joblib or dask) and :mod:`~gaitprep.build.assemble` (the manifest).
- the builders, one module per kind of dataset, all listed in :mod:`~gaitprep.build.datasets`:
  :mod:`~gaitprep.build.silhouettes`, :mod:`~gaitprep.build.poses` (poses and PAV),
  :mod:`~gaitprep.build.heatmaps`, :mod:`~gaitprep.build.registered`, :mod:`~gaitprep.build.stacking`;
  :mod:`~gaitprep.build.plans` holds what they share (reading a tree's items, making the plan).

The engine's names and :class:`BuildOptions` are re-exported here; the builders are imported from their
modules (they load the transforms, which the engine does not need).
"""

from __future__ import annotations

from gaitprep.build.engine import (
    BuildPlan,
    BuildResult,
    ProcessResult,
    SourceItem,
    build_dataset,
)
from gaitprep.build.options import DEFAULT_OPTIONS, BuildOptions
from gaitprep.build.runner import absolute_paths
from gaitprep.build.staging import DONE_DIR, staging_dir

__all__ = [
    "DEFAULT_OPTIONS",
    "DONE_DIR",
    "BuildOptions",
    "BuildPlan",
    "BuildResult",
    "ProcessResult",
    "SourceItem",
    "absolute_paths",
    "build_dataset",
    "staging_dir",
]
