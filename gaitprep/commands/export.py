"""``gaitprep export`` (HDF5, Croissant, OpenGait partition) and ``gaitprep import-keypoints``."""

from __future__ import annotations

import click

from gaitprep.cliutil import emit, json_option, quiet_option
from gaitprep.export.common import TARGETS


@click.command("export")
@click.argument("dataset", type=click.Path(exists=True))
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Choice(TARGETS),
    help="hdf5: every array in one file; croissant: Croissant 1.0 JSON-LD; "
    "opengait-partition: the TRAIN_SET/TEST_SET JSON.",
)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--license", "license_", help="Croissant: the dataset's license (URL or SPDX id).")
@click.option("--url", help="Croissant: the dataset's landing page.")
@click.option("--cite-as", help="Croissant: citation text (e.g. BibTeX).")
@json_option
@quiet_option
def export(
    dataset: str,
    target: str,
    file: str,
    license_: str | None,
    url: str | None,
    cite_as: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Export DATASET (a dataset directory or its manifest.json) to FILE.

    \b
    gaitprep export DATASET --to hdf5 FILE.h5
        /<id>/<class>/<view> per sequence (other arrays at .../<view>__<array>), the manifest
        as the root attribute "manifest"; split, frames, digest on every dataset.
    gaitprep export DATASET --to croissant FILE.json
        Croissant 1.0 metadata: sha256 of every file, a record per sequence, the class order.
    gaitprep export DATASET --to opengait-partition FILE.json
        The dataset's partition as {"TRAIN_SET": [...], "TEST_SET": [...]}.

    The dataset must verify at the quick level first (exit 3 if not). FILE is replaced atomically and
    may not lie inside the dataset directory.
    """
    from gaitprep.export import export_dataset

    result = export_dataset(dataset, target, file, quiet=quiet, license=license_, url=url, cite_as=cite_as)
    human = (
        f"wrote {result.path} ({target}): {result.name}, {result.sequences} sequences, "
        f"{result.bytes:,} bytes\n  sha256 {result.sha256}"
    )
    emit(result.to_json(), as_json, human)


@click.command("import-keypoints")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Pose-pkl tree to write.")
@click.option(
    "--force", is_flag=True, help="Replace a tree import-keypoints wrote at --out (never other files)."
)
@json_option
@quiet_option
def import_keypoints(file: str, out: str, force: bool, as_json: bool, quiet: bool) -> None:
    """Read keypoints from an HDF5 FILE into a pose-pkl tree <out>/<id>/<class>/<view>/<view>.pkl.

    FILE holds one float (T, 17, 3) dataset (x, y, confidence in image pixels) per sequence at
    /<id>/<class>/<view>, as `gaitprep export --to hdf5` writes for pose datasets. Shapes, NaN and
    class names are checked (errors name the HDF5 path); the tree appears only once complete.
    """
    from gaitprep.export import import_keypoints as run_import

    result = run_import(file, out, force=force, quiet=quiet)
    skipped = f" ({len(result.skipped)} non-keypoint arrays skipped)" if result.skipped else ""
    human = f"wrote {result.path}: {result.sequences} sequences, {result.frames} frames{skipped}"
    emit(result.to_json(), as_json, human)
