"""``gaitprep pav``: Postural Asymmetry Vectors with a normaliser fitted on TRAIN ids only."""

from __future__ import annotations

import click

from gaitprep.build.options import BuildOptions
from gaitprep.commands.choices import literal_choice
from gaitprep.commands.common import build_options, input_option, reader_options, report_build
from gaitprep.errors import BadInputError
from gaitprep.io.read_options import ReadOptions
from gaitprep.pav import DEFAULT_FIT_ON, FitOn


@click.command("pav")
@input_option("pose-pkl or pose-raw")
@click.option(
    "--fit-on",
    type=literal_choice(FitOn),
    default=DEFAULT_FIT_ON,
    show_default=True,
    help="Ids the min-max normaliser is fitted on. 'all' leaks test statistics; it is recorded.",
)
@click.option("--per-frame", is_flag=True, help="Also store the per-frame (T, 8, 3) metrics.")
@build_options
@reader_options
def pav(
    input_path: str,
    fit_on: str,
    per_frame: bool,
    out: str,
    as_json: bool,
    options: BuildOptions,
    read: ReadOptions,
) -> None:
    """Compute the 24-d PAV (8 left/right pairs x height difference, midline deviation, folded tilt).

    Per frame after body-height normalisation, IQR-filtered mean per sequence, then min-max normalised
    with minima/maxima fitted on the partition's TRAIN ids (stored in the manifest with the partition's
    sha256). The hip pair's midline deviation is identically 0 after hip-centring and is kept as a
    constant column for shape compatibility.
    """
    from gaitprep.build.pav import build_pav

    if options.partition is None:
        raise BadInputError("--partition is required: the PAV normaliser is fitted on its TRAIN ids")
    result = build_pav(input_path, out, fit_on=fit_on, per_frame=per_frame, options=options, read=read)
    report_build(result, as_json)
