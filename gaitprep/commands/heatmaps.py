"""``gaitprep render-heatmaps``: Gaussian skeleton maps from a pose tree, every choice explicit."""

from __future__ import annotations

from typing import Any

import click

from gaitprep.build.options import BuildOptions
from gaitprep.commands.choices import field_choice, field_default, field_range, literal_choice, undash
from gaitprep.commands.common import build_options, input_option, reader_options, report_build
from gaitprep.heatmaps.spec import DEFAULT_PRESET, HeatmapSpec, PresetName
from gaitprep.io.read_options import ReadOptions


@click.command("render-heatmaps")
@input_option("pose-pkl or pose-raw")
@click.option(
    "--preset",
    type=literal_choice(PresetName),
    default=DEFAULT_PRESET,
    show_default=True,
    help="opengait: upstream-compatible, bit for bit (per-channel alignment, coco17, per-frame scale, content "
    "crop). recommended: shared alignment, body joints, the body's extent in the middle with a 3-sigma margin, "
    "scale smoothed over 45 frames, full-canvas crop, drawn on the output grid.",
)
@click.option(
    "--sigma", type=field_range(HeatmapSpec, "sigma_limb"), help="Sigma of both channels (canvas px)."
)
@click.option("--sigma-limb", type=field_range(HeatmapSpec, "sigma_limb"), help="Sigma of the limb channel.")
@click.option(
    "--sigma-joint", type=field_range(HeatmapSpec, "sigma_joint"), help="Sigma of the joint channel."
)
@click.option(
    "--joints",
    type=field_choice(HeatmapSpec, "joint_set"),
    help="Named joint set: body drops the face joints and their limbs from both channels.",
)
@click.option("--shoulder-edge/--no-shoulder-edge", default=None, help="Add the (5, 6) shoulder limb.")
@click.option(
    "--span-joints",
    type=field_choice(HeatmapSpec, "scale_span_joints"),
    help="Joints whose height sets the scale.",
)
@click.option("--channels", help="Channel order, e.g. limb,joint (upstream) or joint.")
@click.option(
    "--align",
    type=field_choice(HeatmapSpec, "align", dash=True),
    help="per-channel crops each channel from its own support (upstream; channels not registered).",
)
@click.option(
    "--combine", type=field_choice(HeatmapSpec, "combine"), help="How Gaussians of one channel combine."
)
@click.option(
    "--scale",
    type=field_choice(HeatmapSpec, "scale", dash=True),
    help="Span of each frame (upstream), the sequence median, or smoothed over --scale-window frames.",
)
@click.option(
    "--scale-window",
    type=field_range(HeatmapSpec, "scale_window"),
    help="Frames of the --scale smoothed window (odd; recommended 45).",
)
@click.option(
    "--placement",
    type=field_choice(HeatmapSpec, "placement"),
    help="Hips at the centre (upstream) or the body's own vertical extent (recommended).",
)
@click.option(
    "--margin-sigmas",
    type=field_range(HeatmapSpec, "margin_sigmas"),
    help="Room above and below the body for the Gaussian tails, in sigmas (recommended 3; default upstream's "
    "85-px span).",
)
@click.option(
    "--impute-on",
    type=field_choice(HeatmapSpec, "impute_on"),
    help="Joints whose coordinates gap filling uses: all 17 (recommended) or the drawn joint set.",
)
@click.option(
    "--never-observed",
    type=field_choice(HeatmapSpec, "knn_never_observed", dash=True),
    help="A joint never observed in a sequence: switch gap filling off (upstream) or leave only that joint.",
)
@click.option(
    "--hip-missing",
    type=field_choice(HeatmapSpec, "hip_missing"),
    help="A hip still (0, 0) after gap filling: draw the frame as upstream does, or blank/drop it.",
)
@click.option(
    "--crop", type=field_choice(HeatmapSpec, "crop", dash=True), help="Content crop (jitters) or fixed 2x."
)
@click.option(
    "--canvas",
    type=field_range(HeatmapSpec, "canvas"),
    help=f"Canvas size in px (upstream {field_default(HeatmapSpec, 'canvas')}).",
)
@click.option(
    "--size",
    type=field_range(HeatmapSpec, "size"),
    help=f"Output size in px (upstream {field_default(HeatmapSpec, 'size')}).",
)
@click.option("--quantise", type=field_choice(HeatmapSpec, "quantise"), help="Grey quantiser.")
@click.option(
    "--unnormalisable",
    type=field_choice(HeatmapSpec, "unnormalisable"),
    help="Frames the hip-centred canvas transform cannot normalise (a hip still missing after gap filling, "
    "a zero or non-finite joint span): blank (default) writes an all-zero frame, drop removes it; counted "
    "either way. Frames "
    "with no person (an empty people list or only all-zero entries) are always dropped by the reader "
    "and counted as no_person.",
)
@click.option(
    "--low-conf-interpolate",
    type=field_range(HeatmapSpec, "low_conf_interpolate"),
    help="Interpolate joints below this confidence over time (not upstream).",
)
@click.option(
    "--raster",
    type=field_choice(HeatmapSpec, "raster"),
    help="Where Gaussians are evaluated: the 128 canvas then area-downsampled (upstream), or directly on the "
    "output grid (recommended; ~2.5x faster, full-canvas crop only).",
)
@click.option("--knn-fill/--no-knn-fill", default=None, help="Upstream KNN gap filling of (0, 0) joints.")
@build_options
@reader_options
def render_heatmaps(
    input_path: str, out: str, as_json: bool, options: BuildOptions, read: ReadOptions, **spec_options: Any
) -> None:
    """Render skeleton maps uint8 (T, C, 64, 64) [limb, joint] with a checksummed manifest.

    A preset sets a documented group of options; explicit options override it. Every parameter that
    changes the bits (sigmas, joint and limb lists, alignment, scale, crop, quantiser) is written to the
    manifest, with per-dataset statistics: channel registration offset, centre/width jitter, four-side border
    figures (frames reaching grey 64 on the top/bottom row or in the cut columns, mass there), torso-length
    jitter, blank frames. A summary goes to stderr at the end, with a warning naming any side that more than
    1% of frames touch.
    """
    from gaitprep.build.heatmaps import build_heatmaps

    spec = heatmap_spec_from_options(**spec_options)
    report_build(build_heatmaps(input_path, out, spec, options=options, read=read), as_json)


# Command-line spellings (dashes) of HeatmapSpec values (underscores).
_DASHED = ("align", "scale", "knn_never_observed", "crop")


def heatmap_spec_from_options(preset: str, sigma: float | None, channels: str | None, **values: Any) -> Any:
    """The HeatmapSpec of ``preset`` with every option given on the command line overriding it.

    ``sigma`` sets both channels (not with ``sigma_limb``/``sigma_joint``); ``channels`` is a comma list.
    """
    from gaitprep.heatmaps.spec import preset as make_preset

    renamed = {
        "joints": "joint_set",
        "span_joints": "scale_span_joints",
        "never_observed": "knn_never_observed",
    }
    overrides: dict[str, Any] = {}
    if sigma is not None:
        if values["sigma_limb"] is not None or values["sigma_joint"] is not None:
            raise click.UsageError(
                "--sigma sets both channels; do not combine it with --sigma-limb/--sigma-joint"
            )
        overrides["sigma_limb"] = overrides["sigma_joint"] = sigma
    for key, value in values.items():
        key = renamed.get(key, key)
        if value is not None:
            overrides[key] = undash(value) if key in _DASHED else value
    if channels:
        overrides["channels"] = tuple(c.strip() for c in channels.split(","))
    if values["raster"] is None and overrides.get("crop", "full_canvas") != "full_canvas":
        overrides["raster"] = "canvas"  # output-grid rasterising needs the fixed full-canvas crop
    return make_preset(preset, **overrides)
