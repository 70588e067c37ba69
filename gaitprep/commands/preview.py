"""``gaitprep preview``: a PNG montage to check centring and registration by eye."""

from __future__ import annotations

import click

from gaitprep.cliutil import emit, json_option


@click.command("preview")
@click.argument("dataset", type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
@click.option(
    "--sequences", type=click.IntRange(1), default=2, show_default=True, help="Sequences per class."
)
@click.option("--frames", type=click.IntRange(1), default=6, show_default=True, help="Frames per sequence.")
@click.option("--scale", type=click.IntRange(1, 8), default=3, show_default=True, help="Pixel magnification.")
@json_option
def preview(dataset: str, out: str, sequences: int, frames: int, scale: int, as_json: bool) -> None:
    """Write a montage of DATASET: frames x channels for a few sequences per class.

    Skeleton maps also get a colour overlay (limb red, joint green; registered channels overlap in
    yellow) with the source keypoints drawn on full-canvas maps.
    """
    from gaitprep.preview import write_preview

    result = write_preview(dataset, out, sequences_per_class=sequences, frames=frames, scale=scale)
    emit(result, as_json, f"wrote {result['path']} ({result['width']}x{result['height']})")
