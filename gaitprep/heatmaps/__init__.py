"""Skeleton maps (§4): a :class:`HeatmapSpec` and a pose sequence in, ``uint8`` maps out.

Modules, in the order the data flows through them:

- :mod:`~gaitprep.heatmaps.spec`: the pydantic :class:`HeatmapSpec` and its named presets (no OpenCV);
- :mod:`~gaitprep.heatmaps.render`: :func:`render_sequence`, geometry, alignment;
- :mod:`~gaitprep.heatmaps.raster`: the rasteriser's method, blocks of frames and exact re-evaluation;
  :mod:`~gaitprep.heatmaps.limbs` and :mod:`~gaitprep.heatmaps.joints` draw the two channels and
  :mod:`~gaitprep.heatmaps.levels` quantises them through the upstream colormap;
- :mod:`~gaitprep.heatmaps.resample`: exact area resampling;
- :mod:`~gaitprep.heatmaps.stats`: per-sequence and aggregate statistics.

The names below are loaded on first use, so ``import gaitprep.heatmaps.spec`` stays free of OpenCV.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gaitprep.heatmaps.render import (
        Geometry,
        RenderResult,
        block_frames,
        canvas_pose,
        render_sequence,
        sequence_geometry,
    )
    from gaitprep.heatmaps.spec import PRESET_NAMES, HeatmapSpec, preset
    from gaitprep.heatmaps.stats import aggregate_stats

_HOME = {
    "PRESET_NAMES": "spec",
    "HeatmapSpec": "spec",
    "preset": "spec",
    "Geometry": "render",
    "RenderResult": "render",
    "block_frames": "render",
    "canvas_pose": "render",
    "render_sequence": "render",
    "sequence_geometry": "render",
    "aggregate_stats": "stats",
}

__all__ = [
    "PRESET_NAMES",
    "Geometry",
    "HeatmapSpec",
    "RenderResult",
    "aggregate_stats",
    "block_frames",
    "canvas_pose",
    "preset",
    "render_sequence",
    "sequence_geometry",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
