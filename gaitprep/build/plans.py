"""What every builder shares: checking the output against its inputs, reading a tree's items, making the
:class:`~gaitprep.build.engine.BuildPlan` from one :class:`~gaitprep.build.options.BuildOptions`.

A builder is then: open its input(s), say what it stores (arrays, params, a picklable ``process``), call
:func:`make_plan` (or :func:`tree_plan`) and hand plan and options to ``build_dataset``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gaitprep.build.engine import BuildPlan, ProcessResult, SourceItem
from gaitprep.build.options import BuildOptions
from gaitprep.io.read_options import ReadOptions
from gaitprep.io.tree import Tree
from gaitprep.manifest import ArraySpec, SourceInfo, json_digest
from gaitprep.ownership import check_output_path
from gaitprep.sources import open_tree, partition_missing, tree_items, tree_source_info

DATASET_VERSION = "1.0.0"
# What a record's ``source_frames`` count in, by the pose layout the frames came from.
FRAME_IDS = {"pose-raw": "pose-raw frame-name numbers", "pose-pkl": "pose-pkl array index"}
SILHOUETTE_ARRAYS = {
    "silhouette": ArraySpec(
        dtype="uint8", per_frame=True, item_shape=(64, 64), axes=("T", "H", "W"), channels=("silhouette",)
    )
}


def checked_inputs(out: str | Path, paths: tuple[str | Path, ...], options: BuildOptions) -> tuple[Path, ...]:
    """The paths a build reads (``paths`` and the partition file), after checking ``out`` against them and
    the ownership rule up front, before any input is read (``ownership.check_output_path``)."""
    inputs = tuple(Path(p) for p in paths)
    if options.partition is not None and options.partition.path:
        inputs += (Path(options.partition.path),)
    check_output_path(out, inputs=inputs, kind="dataset", force=options.force)
    return inputs


@dataclass(frozen=True)
class TreeInput:
    """One release tree opened for a build: its items (splits from the options' partition), the partition
    ids it lacks and every path the build reads."""

    tree: Tree
    items: list[SourceItem]
    missing: tuple[str, ...]
    inputs: tuple[Path, ...]


def open_tree_input(
    input_path: str | Path,
    out: str | Path,
    layouts: tuple[str, ...],
    read: ReadOptions,
    options: BuildOptions,
    extra_inputs: tuple[str | Path, ...] = (),
) -> TreeInput:
    """Check ``out``, open the tree (one of ``layouts``, read with ``read``) and list its items.

    Partition ids the tree does not hold are returned (or refused with ``options.strict_partition``).
    ``extra_inputs``: other paths the build reads (checked against ``out`` too).
    """
    inputs = checked_inputs(out, (input_path, *extra_inputs), options)
    tree = open_tree(input_path, layouts, read)
    missing = partition_missing(options.partition, tree.ids, options.strict_partition, tree.root)
    return TreeInput(tree, tree_items(tree, options.partition, options.workers), missing, inputs)


def joined_item(first: SourceItem, second: SourceItem, inputs: tuple[Any, ...]) -> SourceItem:
    """One sequence read from two sources (``first``'s id, class, view and split): its fingerprint joins
    both sources' fingerprints; ``inputs`` is what its ``process`` loads."""
    digest = json_digest([first.source_digest, second.source_digest])
    return SourceItem(first.id, first.label, first.class_folder, first.view, first.split, digest, inputs)


def make_plan(
    out: str | Path,
    options: BuildOptions,
    *,
    modality: str,
    algo_version: str,
    arrays: dict[str, ArraySpec],
    primary: str,
    params: dict[str, Any],
    items: list[SourceItem],
    process: Callable[[SourceItem], ProcessResult],
    source: SourceInfo,
    partition_missing: tuple[str, ...],
    inputs: tuple[Path, ...],
    **extra: Any,
) -> BuildPlan:
    """The plan of one dataset at ``out``: what it stores (the keyword arguments; ``extra``: ``fitted``,
    ``aggregate``) and, from ``options``, its name, layout formats, partition and owner."""
    return BuildPlan(
        out=Path(out),
        name=options.dataset_name(out),
        version=DATASET_VERSION,
        modality=modality,
        algo_version=algo_version,
        layout=options.layout(arrays, primary),
        params=params,
        items=items,
        process=process,
        source=source,
        partition=options.partition,
        partition_missing=partition_missing,
        inputs=inputs,
        owner=options.owner,
        **extra,
    )


def tree_plan(src: TreeInput, out: str | Path, options: BuildOptions, **what: Any) -> BuildPlan:
    """:func:`make_plan` for a dataset built from the one tree ``src``: its items, source and inputs."""
    return make_plan(
        out,
        options,
        items=src.items,
        source=tree_source_info(src.tree, src.items),
        partition_missing=src.missing,
        inputs=src.inputs,
        **what,
    )
