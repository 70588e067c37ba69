"""``gaitprep verify-manifest`` and ``gaitprep diff-manifest``."""

from __future__ import annotations

import sys

import click

from gaitprep.cliutil import emit, json_option
from gaitprep.diff import diff_manifests
from gaitprep.errors import EXIT_VERIFY_FAILED
from gaitprep.manifest import load_manifest
from gaitprep.verify import verify_dataset


@click.command("verify-manifest")
@click.argument("manifest", type=click.Path(exists=True))
@click.option("--quick", "level", flag_value="quick", help="Self-hash, paths, presence and sizes only.")
@click.option("--files", "level", flag_value="files", default=True, help="Also sha256 every file (default).")
@click.option("--content", "level", flag_value="content", help="Also decode every array and re-digest it.")
@json_option
def verify_manifest(manifest: str, level: str, as_json: bool) -> None:
    """Check a dataset against its MANIFEST (a manifest.json or its dataset directory).

    Lists missing, extra, changed and truncated files by path, and rejects entries that escape the
    dataset directory. Exit 0 when everything matches, 3 when verification fails, 1 on bad input.
    """
    report = verify_dataset(manifest, level)  # type: ignore[arg-type]
    mb = report.bytes_checked / 1e6
    human = (
        f"OK: {report.files_checked} files, {mb:.1f} MB verified at level {level} in {report.seconds:.2f}s"
        if report.ok
        else "\n".join(
            [f"FAILED: {len(report.problems)} problem(s) in {report.manifest_path}"]
            + [f"  {p}" for p in report.problems]
        )
    )
    emit(report.to_json(), as_json, human)
    if not report.ok:
        sys.exit(EXIT_VERIFY_FAILED)


@click.command("diff-manifest")
@click.argument("a", type=click.Path(exists=True))
@click.argument("b", type=click.Path(exists=True))
@json_option
def diff_manifest(a: str, b: str, as_json: bool) -> None:
    """Say what differs between manifests A and B, in human terms (parameters, partition, sequences)."""
    result = diff_manifests(load_manifest(a), load_manifest(b))
    emit(result, as_json, "; ".join(result["summary"]))
