"""The output side of every dataset build, in one object: :class:`BuildOptions`.

Every builder (``build_silhouettes``, ``build_poses``, ``build_pav``, ``build_heatmaps``,
``build_registered_silhouettes``, ``build_stacked``) takes its inputs, its own representation parameters
and one ``options: BuildOptions``, and passes the options through to the engine
(:func:`gaitprep.build.engine.build_dataset`). The command line makes one from its shared options
(``gaitprep.commands.common.build_options``); ``gaitprep run`` makes one per stage.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gaitprep.errors import BadInputError
from gaitprep.manifest import ArraySpec, Layout, Owner
from gaitprep.partition import Partition

# ``--format`` value -> the stored formats a dataset's layout lists.
FORMATS: dict[str, tuple[str, ...]] = {
    "zarr": ("zarr",),
    "pkl": ("opengait-pkl",),
    "both": ("zarr", "opengait-pkl"),
}


@dataclass(frozen=True)
class BuildOptions:
    """Where and how a dataset is written, whatever it holds.

    - ``fmt``: ``"zarr"``, ``"pkl"`` (an OpenGait pickle tree) or ``"both"`` (:data:`FORMATS`).
    - ``workers``: local worker processes (>= 1); outputs are byte-identical whatever the count.
    - ``dask_address``: a dask scheduler that runs the per-sequence work instead (None: local).
    - ``force``: replace a different or damaged dataset of ours at the output (never anything else).
    - ``quiet``: no progress bars on stderr.
    - ``name``: the dataset name recorded in the manifest (None: the output folder's name).
    - ``partition``: split membership recorded per sequence (and the PAV fit set); None: no split.
    - ``strict_partition``: refuse partition ids the input does not hold (default: record and build
      around them).
    - ``owner``: who asked for the build (``gaitprep run``: recipe and stage), recorded in the manifest.

    ``name`` and ``owner`` never change a dataset's identity (derivation id); ``partition`` and ``fmt`` do.
    """

    fmt: str = "zarr"
    workers: int = 1
    dask_address: str | None = None
    force: bool = False
    quiet: bool = False
    name: str | None = None
    partition: Partition | None = None
    strict_partition: bool = False
    owner: Owner | None = None

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise BadInputError(f"unknown format {self.fmt!r}; expected zarr, pkl or both")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise BadInputError(f"workers must be a whole number >= 1, not {self.workers!r}")

    def replace(self, **changes: Any) -> BuildOptions:
        """A copy with ``changes`` applied (e.g. ``options.replace(force=True)``)."""
        return dataclasses.replace(self, **changes)

    def dataset_name(self, out: str | Path) -> str:
        """``name``, or the output folder's name."""
        return self.name or Path(out).name

    def layout(self, arrays: dict[str, ArraySpec], primary: str) -> Layout:
        """The stored layout: ``arrays`` (name -> spec) in the formats ``fmt`` names."""
        return Layout(formats=FORMATS[self.fmt], primary=primary, arrays=arrays)  # type: ignore[arg-type]

    @property
    def executor(self) -> str:
        """Where the per-sequence work runs: ``dask:ADDRESS``, ``process:N`` or ``serial``."""
        if self.dask_address:
            return f"dask:{self.dask_address}"
        return f"process:{self.workers}" if self.workers > 1 else "serial"


DEFAULT_OPTIONS = BuildOptions()
