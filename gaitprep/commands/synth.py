"""``gaitprep synth``: write a synthetic Scoliosis1K release (all four layouts and a partition)."""

from __future__ import annotations

import re

import click

from gaitprep.cliutil import emit
from gaitprep.partition import DEFAULT_RATIO

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def _frames(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    match = _RANGE.match(value)
    if not match:
        raise click.BadParameter(f"expected N or LO-HI (e.g. 40-60), got {value!r}")
    lo = int(match.group(1))
    hi = int(match.group(2) or lo)
    if lo < 1 or hi < lo:
        raise click.BadParameter(f"expected 1 <= LO <= HI, got {value!r}")
    return lo, hi


def _size(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    match = _SIZE.match(value)
    if not match:
        raise click.BadParameter(f"expected WIDTHxHEIGHT in pixels (e.g. 640x360), got {value!r}")
    w, h = int(match.group(1)), int(match.group(2))
    if w < 8 or h < 8:
        raise click.BadParameter(f"the image must be at least 8x8 pixels, got {value!r}")
    return w, h


def _layouts(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    from gaitprep.synth.release import LAYOUTS

    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [n for n in names if n not in LAYOUTS]
    if unknown or not names:
        raise click.BadParameter(f"choose from {','.join(LAYOUTS)}; got {value!r}")
    return names


def _ratio(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from gaitprep.errors import BadInputError
    from gaitprep.synth.release import ratio_code

    try:
        ratio_code(value)
    except BadInputError as exc:
        raise click.BadParameter(str(exc)) from None
    return value.strip()


_RATE = click.FloatRange(0.0, 1.0)


@click.command("synth")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Release root to create.")
@click.option(
    "--sequences", type=click.IntRange(1), default=30, show_default=True, help="Number of sequences (ids)."
)
@click.option(
    "--frames",
    default="40-60",
    show_default=True,
    callback=_frames,
    help="Raw frames per sequence: N or LO-HI.",
)
@click.option("--size", default="640x360", show_default=True, callback=_size, help="Image size WIDTHxHEIGHT.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--ratio",
    default=DEFAULT_RATIO,
    show_default=True,
    callback=_ratio,
    help="Train ratio positive:neutral:negative of the partition (1:1:R; names Scoliosis1K_11R.json).",
)
@click.option(
    "--layouts",
    default="sil-raw,pose-raw,sil-pkl,pose-pkl",
    show_default=True,
    callback=_layouts,
    help="Comma-separated release layouts to write.",
)
@click.option(
    "--missing-rate", type=_RATE, default=0.01, show_default=True, help="Share of joints written as 0,0,0."
)
@click.option(
    "--low-conf-rate",
    type=_RATE,
    default=0.02,
    show_default=True,
    help="Share of frames with low confidence (0.06-0.4) and 4x pixel noise.",
)
@click.option(
    "--no-person-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Share of pose frames with an empty people list (dropped from pose-pkl; T differs).",
)
@click.option(
    "--empty-mask-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Share of empty masks (dropped by the silhouette pretreatment; T differs).",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Worker processes (the bytes are identical whatever the count).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace a release gaitprep synth wrote at --out (built aside, then swapped in); never a folder "
    "holding anything else.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def synth(
    out: str,
    sequences: int,
    frames: tuple[int, int],
    size: tuple[int, int],
    seed: int,
    ratio: str,
    layouts: tuple[str, ...],
    missing_rate: float,
    low_conf_rate: float,
    no_person_rate: float,
    empty_mask_rate: float,
    workers: int,
    force: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write a synthetic Scoliosis1K-style release for tests, demos and pipeline checks.

    \b
    Layouts under --out (ids 00000..., class-blocked positive/negative/neutral like the real release):
      sil-raw/<id>/<class>/000_180/000001.png    0/255 masks
      pose-raw/<id>/<class>/000_180/000001.json  {"people": [{"pose_keypoints_2d": [51 numbers]}]}
      sil-pkl/<id>/<class>/000_180/000_180.pkl   uint8 (T, 64, 64), upstream pretreatment
      pose-pkl/<id>/<class>/000_180/000_180.pkl  float64 (T, 17, 3), COCO-17 x, y, confidence
      Scoliosis1K_<code>.json                    TRAIN_SET / TEST_SET partition

    Subjects walk toward a frontal camera, turn and walk away; positive subjects have the largest
    shoulder height difference, trunk lean and pelvic tilt, negative the smallest, with overlap.
    """
    from gaitprep.synth.release import write_release

    summary = write_release(
        out,
        sequences=sequences,
        frames=frames,
        image_size=size,
        seed=seed,
        layouts=layouts,
        ratio=ratio,
        missing_rate=missing_rate,
        low_conf_rate=low_conf_rate,
        no_person_rate=no_person_rate,
        empty_mask_rate=empty_mask_rate,
        progress=not quiet,
        workers=workers,
        force=force,
    )
    records = summary.pop("records")
    summary["sil_frames"] = sum(rec["sil_frames"] for rec in records)
    summary["pose_frames"] = sum(rec["pose_frames"] for rec in records)
    emit(summary, as_json, _human(summary))


def _human(s: dict) -> str:
    classes = ", ".join(f"{c} {n}" for c, n in s["classes"].items())
    lines = [
        f"wrote {s['root']}: {s['sequences']} sequences, {s['frames']} frames, "
        f"{s['image_size'][0]}x{s['image_size'][1]}, seed {s['seed']}",
        f"  layouts: {', '.join(s['layouts'])}",
        f"  classes: {classes}",
    ]
    for split in ("train", "test"):
        per = s["splits"][split]
        lines.append(
            f"  {split}: {per['total']} (positive {per['positive']} / neutral {per['neutral']} / "
            f"negative {per['negative']})"
        )
    lines.append(f"  partition: {s['partition']}")
    lines.append(f"  sha256: {s['partition_sha256']}")
    dropped = {k: v for k, v in s["sil_dropped"].items() if v}
    if dropped:
        lines.append("  silhouette frames dropped: " + ", ".join(f"{k} {v}" for k, v in dropped.items()))
    return "\n".join(lines)
