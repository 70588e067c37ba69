"""Library entry points that build datasets: one function per command, each a plan for ``build.py``.

Every ``process_*`` function is top-level (picklable for joblib and dask) and does load + transform for
one sequence; the transforms themselves stay pure functions in their own modules.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.build import BuildPlan, BuildResult, ProcessResult, SourceItem, build_dataset
from gaitprep.errors import BadInputError
from gaitprep.io.load import load_sequence
from gaitprep.manifest import ArraySpec, Layout
from gaitprep.partition import Partition
from gaitprep.sources import open_tree, tree_items, tree_source_info

FORMATS = {"zarr": ("zarr",), "pkl": ("opengait-pkl",), "both": ("zarr", "opengait-pkl")}


def layout_for(fmt: str, arrays: dict[str, ArraySpec], primary: str) -> Layout:
    try:
        formats = FORMATS[fmt]
    except KeyError:
        raise BadInputError(f"unknown format {fmt!r}; expected zarr, pkl or both") from None
    return Layout(formats=formats, primary=primary, arrays=arrays)  # type: ignore[arg-type]


SILHOUETTE_ALGO_VERSION = "gaitprep-silhouettes-1"
POSE_ALGO_VERSION = "gaitprep-poses-1"


def process_silhouettes(spec: dict[str, Any], item: SourceItem) -> ProcessResult:
    """Upstream pretreatment for sil-raw input; unchanged re-packaging for sil-pkl input."""
    from gaitprep.silhouettes import SilhouetteSpec, pretreat_sequence

    (ref,) = item.inputs
    seq = load_sequence(ref)
    if ref.layout == "sil-pkl":
        return ProcessResult({"silhouette": seq.array}, seq.frames_in, int(seq.array.shape[0]))
    sil, drops = pretreat_sequence(seq.array, SilhouetteSpec(**spec))
    if sil.shape[0] == 0:
        raise BadInputError(
            "every frame was dropped by the silhouette pretreatment (empty sequence)", ref.folder
        )
    mass = sil.reshape(sil.shape[0], -1).sum(axis=1, dtype=np.float64)
    cut = sil[:, :, :10].sum(dtype=np.float64) + sil[:, :, -10:].sum(dtype=np.float64)
    stats = {"cut_mass_fraction": float(cut / max(mass.sum(), 1.0))}
    return ProcessResult({"silhouette": sil}, seq.frames_in, int(sil.shape[0]), drops, stats)


def build_silhouettes(
    input_path: str | Path,
    out: str | Path,
    *,
    partition: Partition | None = None,
    fmt: str = "zarr",
    workers: int = 1,
    quiet: bool = False,
    name: str | None = None,
    dask_address: str | None = None,
    force: bool = False,
) -> BuildResult:
    """sil-raw PNG frames → upstream 64×64 silhouettes; sil-pkl → re-packaged as is. uint8 (T, 64, 64)."""
    from gaitprep.silhouettes import SilhouetteSpec

    tree = open_tree(input_path, ("sil-raw", "sil-pkl"))
    items = tree_items(tree, partition, workers)
    spec = SilhouetteSpec()
    params = {
        "transform": "opengait-imgs2pickle" if tree.layout == "sil-raw" else "repackage",
        "input_layout": tree.layout,
        **spec.model_dump(mode="json"),
        "interpolation": "INTER_CUBIC",
    }
    arrays = {
        "silhouette": ArraySpec(
            dtype="uint8", per_frame=True, item_shape=(64, 64), axes=("T", "H", "W"), channels=("silhouette",)
        )
    }
    plan = BuildPlan(
        out=Path(out),
        name=name or Path(out).name,
        version="1.0.0",
        modality="silhouette",
        algo_version=SILHOUETTE_ALGO_VERSION,
        layout=layout_for(fmt, arrays, "silhouette"),
        params=params,
        items=items,
        process=functools.partial(process_silhouettes, spec.model_dump()),
        source=tree_source_info(tree, items),
        partition=partition,
    )
    return build_dataset(plan, workers=workers, quiet=quiet, dask_address=dask_address, force=force)


def process_poses(item: SourceItem) -> ProcessResult:
    (ref,) = item.inputs
    seq = load_sequence(ref)
    return ProcessResult(
        {"pose": seq.array.astype(np.float32)}, seq.frames_in, int(seq.array.shape[0]), seq.dropped
    )


def build_poses(
    input_path: str | Path,
    out: str | Path,
    *,
    partition: Partition | None = None,
    fmt: str = "zarr",
    workers: int = 1,
    quiet: bool = False,
    name: str | None = None,
    force: bool = False,
) -> BuildResult:
    """pose-raw or pose-pkl → a versioned float32 (T, 17, 3) pose dataset (x, y, confidence; image px)."""
    tree = open_tree(input_path, ("pose-pkl", "pose-raw"))
    items = tree_items(tree, partition, workers)
    arrays = {
        "pose": ArraySpec(
            dtype="float32",
            per_frame=True,
            item_shape=(17, 3),
            axes=("T", "J", "xyc"),
            channels=("x", "y", "confidence"),
        )
    }
    plan = BuildPlan(
        out=Path(out),
        name=name or Path(out).name,
        version="1.0.0",
        modality="pose",
        algo_version=POSE_ALGO_VERSION,
        layout=layout_for(fmt, arrays, "pose"),
        params={"transform": "repackage", "input_layout": tree.layout, "dtype": "float32"},
        items=items,
        process=process_poses,
        source=tree_source_info(tree, items),
        partition=partition,
    )
    return build_dataset(plan, workers=workers, quiet=quiet, force=force)
