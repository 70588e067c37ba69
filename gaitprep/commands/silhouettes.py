"""``gaitprep silhouettes``: upstream 64×64 silhouettes from PNG frames, or re-packaged sil-pkl trees."""

from __future__ import annotations

import click

from gaitprep.build.options import BuildOptions
from gaitprep.commands.choices import field_choice, field_range, undash
from gaitprep.commands.common import build_options, input_option, reader_options, report_build
from gaitprep.heatmaps.spec import HeatmapSpec
from gaitprep.io.read_options import ReadOptions


@click.command("silhouettes")
@input_option("sil-raw or sil-pkl")
@click.option(
    "--register-with",
    type=click.Path(exists=True, file_okay=False),
    help="A pose tree: crop and scale silhouettes with the recommended skeleton maps' own box (same gap "
    "filling, placement, smoothed scale and margins).",
)
@click.option(
    "--scale",
    type=field_choice(HeatmapSpec, "scale", dash=True),
    help="With --register-with: the span scaling (default: the recommended preset's; must match the maps).",
)
@click.option(
    "--sigma",
    type=field_range(HeatmapSpec, "sigma_limb"),
    help="With --register-with: the maps' sigma (canvas px), which sets the recommended margins.",
)
@build_options
@reader_options
def silhouettes(
    input_path: str,
    register_with: str | None,
    scale: str | None,
    sigma: float | None,
    out: str,
    as_json: bool,
    options: BuildOptions,
    read: ReadOptions,
) -> None:
    """Build a silhouette dataset, uint8 (T, 64, 64), with a checksummed manifest.

    From sil-raw PNG frames this runs the upstream OpenGait pretreatment (drop frames with pixel sum
    <= 10,000, crop rows, cubic resize to height 64, centre on the mass median, 64-px window); frames
    dropped are counted per sequence, as are frames whose mask touches the image border. From a sil-pkl
    tree the arrays are re-packaged unchanged.

    With --register-with, PNG and pose JSON frames are paired by the number in their names (frames on one
    side only are left out and counted); a pose pickle has no names, so its frame count must match.
    """
    from gaitprep.build.registered import build_registered_silhouettes
    from gaitprep.build.silhouettes import build_silhouettes

    if register_with:
        from gaitprep.heatmaps.spec import preset

        overrides: dict = {} if sigma is None else {"sigma_limb": sigma, "sigma_joint": sigma}
        if scale is not None:
            overrides["scale"] = undash(scale)
        spec = preset("recommended", **overrides)
        result = build_registered_silhouettes(
            input_path, register_with, out, spec=spec, options=options, read=read
        )
    else:
        result = build_silhouettes(input_path, out, options=options, read=read)
    report_build(result, as_json)
