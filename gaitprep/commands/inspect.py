"""``gaitprep inspect``: what a tree holds, and every problem in it."""

from __future__ import annotations

import sys

import click

from gaitprep.cliutil import emit, json_option, quiet_option
from gaitprep.errors import EXIT_ERROR
from gaitprep.inspect import inspect_path
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
@json_option
@quiet_option
def inspect_cmd(path: str, partition: str | None, as_json: bool, quiet: bool) -> None:
    """Report the layout, class and split counts, frames per sequence, shapes and every problem in PATH.

    PATH is a tree <id>/<class>/<view>/ in any of the four release layouts (sil-raw, pose-raw, sil-pkl,
    pose-pkl), or a release root holding several of them, which are then cross-checked. Exits 1 when
    problems are found, after listing all of them.
    """
    part = load_partition(partition) if partition else None
    result = inspect_path(path, part, quiet=quiet)
    if as_json:
        for s in result["layouts"].values():
            s.pop("frames")
    emit(result, as_json, _human(result))
    if result["problems"]:
        sys.exit(EXIT_ERROR)
