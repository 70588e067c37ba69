"""``gaitprep pav``: Postural Asymmetry Vectors with a normaliser fitted on TRAIN ids only."""

from __future__ import annotations

import click

from gaitprep.commands.choices import literal_choice
from gaitprep.commands.common import build_options, input_option, reader_options, report_build
from gaitprep.errors import BadInputError
from gaitprep.partition import load_partition
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
    partition: str | None,
    fmt: str,
    workers: int,
    name: str | None,
    force: bool,
    as_json: bool,
    quiet: bool,
    read=None,
    strict_partition: bool = False,
) -> None:
    """Compute the 24-d PAV (8 left/right pairs x height difference, midline deviation, folded tilt).

    Per frame after body-height normalisation, IQR-filtered mean per sequence, then min-max normalised
    with minima/maxima fitted on the partition's TRAIN ids (stored in the manifest with the partition's
    sha256). The hip pair's midline deviation is identically 0 after hip-centring and is kept as a
    constant column for shape compatibility.
    """
    from gaitprep.build.datasets import build_pav

    if partition is None:
        raise BadInputError("--partition is required: the PAV normaliser is fitted on its TRAIN ids")
    result = build_pav(
        input_path,
        out,
        partition=load_partition(partition),
        fit_on=fit_on,
        fmt=fmt,
        per_frame=per_frame,
        workers=workers,
        quiet=quiet,
        name=name,
        force=force,
        read=read,
        strict_partition=strict_partition,
    )
    report_build(result, as_json)
