"""``gaitprep list``: every dataset under a folder, its parameters, formats, lineage and integrity."""

from __future__ import annotations

import sys

import click

from gaitprep.cliutil import emit, json_option
from gaitprep.errors import EXIT_ERROR, EXIT_VERIFY_FAILED


@click.command("list")
@click.argument("data_root", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--verify", is_flag=True, help="Also verify every dataset (self-hash, sizes, sha256 of every file)."
)
@json_option
def list_datasets(data_root: str, verify: bool, as_json: bool) -> None:
    """List the datasets (folders holding manifest.json) under DATA_ROOT.

    For each: name, version, modality, sequences, a one-line parameter summary, formats and lineage
    (the release tree it was built from, or the datasets under DATA_ROOT it was derived from, matched
    by derivation id or content digest). With --verify, every dataset is checked and the exit code is
    3 if any fails (after listing all of them); an unreadable manifest makes it 1.
    """
    from gaitprep.catalog import build_catalog, format_catalog

    catalog = build_catalog(data_root, verify=verify)
    emit(catalog.to_json(), as_json, format_catalog(catalog))
    if any(e.manifest is None for e in catalog.entries):
        sys.exit(EXIT_ERROR)  # an unreadable manifest is bad input, listed above with its problem
    if not catalog.ok:
        sys.exit(EXIT_VERIFY_FAILED)
