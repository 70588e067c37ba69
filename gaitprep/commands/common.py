"""Options and reporting shared by the dataset-building commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from gaitprep.build import BuildResult
from gaitprep.build_summary import summarise, summary_lines
from gaitprep.cliutil import emit
from gaitprep.progress import log


def input_option(layouts: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--input TREE`` of the named layouts (a tree, or a release root holding one)."""
    return click.option(
        "--input",
        "input_path",
        required=True,
        type=click.Path(exists=True, file_okay=False),
        help=f"A {layouts} tree, or a release root holding one.",
    )


def build_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--out, --partition, --strict-partition, --format, --workers, --name, --force, --json, --quiet.

    The command receives ``out``, ``as_json`` and ``options``: one
    :class:`~gaitprep.build.options.BuildOptions` made from the others (the partition file loaded).
    """
    import functools

    from gaitprep.build.options import FORMATS, BuildOptions

    @functools.wraps(fn)
    def wrapper(
        *args: Any,
        partition: str | None,
        strict_partition: bool,
        fmt: str,
        workers: int,
        name: str | None,
        force: bool,
        quiet: bool,
        **kwargs: Any,
    ) -> Any:
        from gaitprep.partition import load_partition

        options = BuildOptions(
            fmt=fmt,
            workers=workers,
            force=force,
            quiet=quiet,
            name=name,
            partition=load_partition(partition) if partition else None,
            strict_partition=strict_partition,
        )
        return fn(*args, options=options, **kwargs)

    for decorator in reversed(
        [
            click.option(
                "--out", required=True, type=click.Path(file_okay=False), help="Output dataset directory."
            ),
            click.option(
                "--partition",
                type=click.Path(exists=True, dir_okay=False),
                help="Partition JSON (TRAIN_SET/TEST_SET); its split membership is recorded per sequence.",
            ),
            click.option(
                "--strict-partition",
                is_flag=True,
                help="Fail when --partition lists ids the input does not hold (default: build what is on "
                "disk, warn with their count, record them in the manifest).",
            ),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(list(FORMATS)),
                default=BuildOptions.fmt,
                show_default=True,
                help="Zarr v3 store, OpenGait pickle tree, or both.",
            ),
            click.option(
                "--workers",
                type=click.IntRange(1),
                default=BuildOptions.workers,
                show_default=True,
                help="Worker processes (outputs are identical whatever the count).",
            ),
            click.option(
                "--name", help="Dataset name recorded in the manifest (default: the --out folder name)."
            ),
            click.option(
                "--force",
                is_flag=True,
                help="Replace a different or damaged gaitprep dataset at --out (never a folder holding "
                "anything else, nor an input).",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout."),
            click.option("--quiet", "-q", is_flag=True, help="No progress bars."),
        ]
    ):
        wrapper = decorator(wrapper)
    return wrapper


def reader_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--person and --frame-order; the command receives ``read`` (a ReadOptions). Choices and defaults
    come from :class:`gaitprep.io.read_options.ReadOptions`."""
    import functools

    from gaitprep.io.frame_order import FRAME_ORDERS
    from gaitprep.io.read_options import DEFAULT_READ, PERSON_MODES, ReadOptions

    @functools.wraps(fn)
    def wrapper(*args: Any, person: str, frame_order: str, **kwargs: Any) -> Any:
        return fn(*args, read=ReadOptions(person=person, frame_order=frame_order), **kwargs)

    for decorator in reversed(
        [
            click.option(
                "--person",
                type=click.Choice(PERSON_MODES),
                default=DEFAULT_READ.person,
                show_default=True,
                help="Pose JSON frames listing several people: auto follows the walking subject (largest, "
                "most confident detection, then continuity of position and size); first takes people[0] "
                "as upstream.",
            ),
            click.option(
                "--frame-order",
                type=click.Choice(FRAME_ORDERS),
                default=DEFAULT_READ.frame_order,
                show_default=True,
                help="Order of frame files: numeric by the number in the name (0.json, 1.json, ..., "
                "10.json); lexical by the name as text, as upstream.",
            ),
        ]
    ):
        wrapper = decorator(wrapper)
    return wrapper


def report_build(result: BuildResult, as_json: bool) -> None:
    m = result.manifest
    doc = {
        "path": str(result.path),
        "up_to_date": result.up_to_date,
        "built": result.built,
        "reused": result.reused,
        "name": m.name,
        "modality": m.modality,
        "sequences": len(m.records),
        "frames": m.counts["frames"],
        "frames_dropped": m.counts["frames_dropped"],
        "derivation_id": m.derivation_id,
        "content_digest": m.content_digest,
        "manifest_digest": m.manifest_digest,
        "statistics": m.statistics,
        "partition_missing_ids": len(m.partition_missing_ids),
    }
    if m.partition_missing_ids:
        shown = ", ".join(m.partition_missing_ids[:5]) + (" ..." if len(m.partition_missing_ids) > 5 else "")
        log(
            f"warning: partition {m.partition.name if m.partition else ''} lists "
            f"{len(m.partition_missing_ids)} ids that the input does not hold ({shown}); built what is on "
            "disk (recorded as partition_missing_ids; --strict-partition makes this an error)"
        )
    summary = summarise(m)
    doc["summary"] = summary.as_dict()
    for line in summary_lines(summary):
        log(line)
    if result.up_to_date:
        human = f"up to date: {result.path} ({m.modality}, {len(m.records)} sequences)"
    else:
        reused = f", {result.reused} reused from an interrupted build" if result.reused else ""
        human = (
            f"wrote {result.path}: {m.modality}, {len(m.records)} sequences, {m.counts['frames']} frames"
            f"{reused}\n  content digest {m.content_digest}\n  manifest {result.path}/manifest.json"
        )
        if m.counts["frames_dropped"]:
            log(f"frames dropped: {m.counts['frames_dropped']}")
        for key in ("person_frames", "unpaired_frames", "nonfinite_joints", "unpadded_frame_names"):
            if m.counts.get(key):
                log(f"{key.replace('_', ' ')}: {m.counts[key]}")
    emit(doc, as_json, human)
