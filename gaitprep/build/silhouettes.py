"""The silhouette builder: sil-raw PNG frames through the upstream pretreatment, or sil-pkl re-packaged."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.build.engine import BuildResult, ProcessResult, SourceItem, build_dataset
from gaitprep.build.options import DEFAULT_OPTIONS, BuildOptions
from gaitprep.build.plans import SILHOUETTE_ARRAYS, open_tree_input, tree_plan
from gaitprep.errors import BadInputError
from gaitprep.io.load import load_sequence
from gaitprep.io.read_options import DEFAULT_READ, ReadOptions
from gaitprep.silhouette_stats import border_frames
from gaitprep.sources import read_params

SILHOUETTE_ALGO_VERSION = "gaitprep-silhouettes-1"


def process_silhouettes(spec: dict[str, Any], item: SourceItem) -> ProcessResult:
    """Upstream pretreatment for sil-raw input; unchanged re-packaging for sil-pkl input."""
    from gaitprep.cut import cut_columns
    from gaitprep.silhouettes import SilhouetteSpec, pretreat_sequence

    (ref,) = item.inputs
    seq = load_sequence(ref)
    if ref.layout == "sil-pkl":
        return ProcessResult({"silhouette": seq.array}, seq.frames_in, int(seq.array.shape[0]))
    border = border_frames(seq.array)
    sil, drops = pretreat_sequence(seq.array, SilhouetteSpec(**spec))
    if sil.shape[0] == 0:
        raise BadInputError(
            "every frame was dropped by the silhouette pretreatment (empty sequence)", ref.folder
        )
    mass = sil.reshape(sil.shape[0], -1).sum(axis=1, dtype=np.float64)
    width = sil.shape[-1]
    side = cut_columns(width)  # the columns the load-time cut removes on each side
    cut = sil[:, :, :side].sum(dtype=np.float64) + sil[:, :, width - side :].sum(dtype=np.float64)
    stats = {"cut_mass_fraction": float(cut / max(mass.sum(), 1.0)), "border_frames": float(border)}
    return ProcessResult(
        {"silhouette": sil}, seq.frames_in, int(sil.shape[0]), drops, stats, seq.reader_record()
    )


def build_silhouettes(
    input_path: str | Path,
    out: str | Path,
    *,
    options: BuildOptions = DEFAULT_OPTIONS,
    read: ReadOptions = DEFAULT_READ,
) -> BuildResult:
    """sil-raw PNG frames → upstream 64×64 silhouettes; sil-pkl → re-packaged as is. uint8 (T, 64, 64).

    Partition ids missing from the tree are recorded (``partition_missing_ids``) and built around, or
    refused with ``options.strict_partition``. ``read.frame_order`` sets the order of the PNG frames.
    """
    from gaitprep.silhouettes import SilhouetteSpec

    src = open_tree_input(input_path, out, ("sil-raw", "sil-pkl"), read, options)
    spec = SilhouetteSpec()
    params = {
        "transform": "opengait-imgs2pickle" if src.tree.layout == "sil-raw" else "repackage",
        "input_layout": src.tree.layout,
        **spec.model_dump(mode="json"),
        "interpolation": "INTER_CUBIC",
        **read_params(src.tree),
    }
    plan = tree_plan(
        src,
        out,
        options,
        modality="silhouette",
        algo_version=SILHOUETTE_ALGO_VERSION,
        arrays=SILHOUETTE_ARRAYS,
        primary="silhouette",
        params=params,
        process=functools.partial(process_silhouettes, spec.model_dump()),
    )
    return build_dataset(plan, options)
