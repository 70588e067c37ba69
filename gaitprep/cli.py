"""The ``gaitprep`` command line: each subcommand lives in ``gaitprep/commands/`` and calls the library."""

from __future__ import annotations

import click

from gaitprep import __version__
from gaitprep.cliutil import LazyGroup

COMMANDS = {
    "synth": "gaitprep.commands.synth:synth",
    "inspect": "gaitprep.commands.inspect:inspect_cmd",
    "render-heatmaps": "gaitprep.commands.heatmaps:render_heatmaps",
    "preview": "gaitprep.commands.preview:preview",
    "silhouettes": "gaitprep.commands.silhouettes:silhouettes",
    "pav": "gaitprep.commands.pav:pav",
    "verify-manifest": "gaitprep.commands.manifests:verify_manifest",
    "diff-manifest": "gaitprep.commands.manifests:diff_manifest",
    "run": "gaitprep.commands.pipeline:run",
    "list": "gaitprep.commands.catalog:list_datasets",
    "export": "gaitprep.commands.export:export",
    "import-keypoints": "gaitprep.commands.export:import_keypoints",
    "split": "gaitprep.commands.split:split",
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="gaitprep")
def main() -> None:
    """Prepare Scoliosis1K-style gait data: explicit parameters, checksummed manifests, fast.

    \b
    Exit codes: 0 success, 1 bad input or error, 2 usage error, 3 verification failed.
    With --json, stdout holds exactly one JSON document; logs and progress go to stderr.
    """
