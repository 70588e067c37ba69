"""Dataset builds: :mod:`~gaitprep.build.engine` runs a :class:`BuildPlan` (one worker pool, staging, the
manifest, atomic replacement, the derivation-id cache); :mod:`~gaitprep.build.datasets` holds the builders of
silhouette, skeleton-map, PAV and pose datasets and :mod:`~gaitprep.build.stacking` the stacked one.

The engine's names are re-exported here; the builders are imported from their modules (they load the
transforms, which the engine does not need).
"""

from __future__ import annotations

from gaitprep.build.engine import (
    DONE_DIR,
    BuildPlan,
    BuildResult,
    ProcessResult,
    SourceItem,
    absolute_paths,
    build_dataset,
    staging_dir,
)

__all__ = [
    "DONE_DIR",
    "BuildPlan",
    "BuildResult",
    "ProcessResult",
    "SourceItem",
    "absolute_paths",
    "build_dataset",
    "staging_dir",
]
