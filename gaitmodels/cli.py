"""The ``gaitmodels`` command line: train, evaluate and predict, through manifests only."""

from __future__ import annotations

import click

from gaitmodels import __version__
from gaitprep.cliutil import LazyGroup

COMMANDS = {
    "train": "gaitmodels.commands:train",
    "evaluate": "gaitmodels.commands:evaluate",
    "predict": "gaitmodels.commands:predict",
    "import-opengait": "gaitmodels.commands_opengait:import_opengait",
    "export-opengait": "gaitmodels.commands_opengait:export_opengait",
    "compare": "gaitmodels.commands:compare",
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="gaitmodels")
def main() -> None:
    """Train and evaluate ScoNet-family models on gaitprep datasets, through their manifests.

    \b
    A model/data mismatch (modality, channels, class order, split) is refused with one sentence.
    Exit codes: 0 success, 1 bad input or error, 2 usage error, 3 verification failed.
    """
