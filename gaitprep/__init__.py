"""gaitprep: explicit, versioned, checked preparation of Scoliosis1K-style gait data.

``gaitprep.open_dataset(PATH)`` opens a dataset for reading (see :mod:`gaitprep.api`); it is imported on
first use so that ``import gaitprep`` (and the command line) stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Dataset", "__version__", "load_transform", "open_dataset"]


def __getattr__(name: str) -> Any:
    if name in ("open_dataset", "Dataset", "load_transform"):
        from gaitprep import api

        return getattr(api, name)
    raise AttributeError(f"module 'gaitprep' has no attribute {name!r}")
