"""``gaitprep inspect``: what a tree holds, and every problem in it."""

from __future__ import annotations

import sys

import click

from gaitprep.cliutil import emit, json_option, quiet_option
from gaitprep.errors import EXIT_ERROR
from gaitprep.inspect import inspect_path
from gaitprep.io.frame_order import FRAME_ORDERS
from gaitprep.io.read_options import DEFAULT_READ, PERSON_MODES, ReadOptions
from gaitprep.partition import load_partition


def _human(result: dict) -> str:
    lines = [f"{result['path']}"]
    for name, s in result["layouts"].items():
        f = s["frames_per_sequence"]
        classes = ", ".join(f"{c} {n}" for c, n in s["per_class"].items())
        lines.append(f"  {name}: {s['sequences']} sequences ({classes}); class folders {s['class_folders']}")
        lines.append(
            f"    frames/sequence min {f['min']} median {f['median']:g} max {f['max']} (total {f['total']});"
            f" frame shape {', '.join(s['frame_shapes'])} {', '.join(s['dtypes'])}"
        )
        r = s.get("reader", {})
        if any(r.values()):
            lines.append(
                f"    reader: {r['person_multiple']} frames with several people ({r['person_not_first']} not "
                f"people[0]), {r['zero_entries']} all-zero entries, {r['nonfinite_joints']} non-finite joints, "
                f"{r['unpadded_frame_names']} sequences with unpadded frame names"
            )
        lines += [f"    {n}" for n in s.get("notes", [])]
        if "partition" in s:
            p = s["partition"]
            for split, counts in p["per_split"].items():
                lines.append(f"    {p['name']} {split}: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    lines += [f"  {n}" for n in result["cross_check"]]
    if result["problems"]:
        lines.append(f"  {len(result['problems'])} problem(s):")
        lines += [f"    {p}" for p in result["problems"]]
    else:
        lines.append("  no problems found")
    return "\n".join(lines)


@click.command("inspect")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--partition", type=click.Path(exists=True, dir_okay=False), help="Partition JSON for per-split counts."
)
@click.option(
    "--person",
    type=click.Choice(PERSON_MODES),
    default=DEFAULT_READ.person,
    show_default=True,
    help="Person selection in pose JSON frames (as the builders' --person).",
)
@click.option(
    "--frame-order",
    type=click.Choice(FRAME_ORDERS),
    default=DEFAULT_READ.frame_order,
    show_default=True,
    help="Order of frame files (as the builders' --frame-order).",
)
@json_option
@quiet_option
def inspect_cmd(
    path: str, partition: str | None, person: str, frame_order: str, as_json: bool, quiet: bool
) -> None:
    """Report the layout, class and split counts, frames per sequence, shapes and every problem in PATH.

    PATH is a tree <id>/<class>/<view>/ in any of the four release layouts (sil-raw, pose-raw, sil-pkl,
    pose-pkl), or a release root holding several of them, which are then cross-checked; a partition is
    checked against each layout on its own. It reports frames with several people, all-zero entries,
    non-finite joints and unpadded frame names as the builders read them. Exits 1 when problems are
    found, after listing all of them.
    """
    part = load_partition(partition) if partition else None
    read = ReadOptions(person=person, frame_order=frame_order)
    result = inspect_path(path, part, quiet=quiet, read=read)
    if as_json:
        for s in result["layouts"].values():
            s.pop("frames")
    emit(result, as_json, _human(result))
    if result["problems"]:
        sys.exit(EXIT_ERROR)
