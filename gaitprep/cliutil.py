"""Shared command-line plumbing for gaitprep and gaitmodels.

Every command is a thin layer over a library function. This module gives them one error policy
(one line on stderr, no traceback, exit 1 for bad input, 3 for failed verification), one way to print
``--json`` (exactly one document on stdout) and progress bars that go to stderr only.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import click

from gaitprep.errors import EXIT_ERROR, GaitprepError

T = TypeVar("T")

JSON_SCHEMA_VERSION = 1


class LazyGroup(click.Group):
    """A click group whose subcommands live in their own modules, imported only when used.

    Keeps ``gaitprep --help`` fast (no torch/zarr import) and each command in a module of its own.
    ``lazy`` maps a command name to ``"module.path:attribute"``.
    """

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GaitprepError as exc:
            fail(str(exc), exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            fail("interrupted", EXIT_ERROR)
        except MemoryError:
            fail("out of memory", EXIT_ERROR)
        except OSError as exc:
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            fail(f"{where}{exc.strerror or exc}", EXIT_ERROR)
        except Exception as exc:  # an internal error: still one line, traceback only on request
            if os.environ.get("GAITPREP_DEBUG"):
                raise
            fail(
                f"internal error: {type(exc).__name__}: {exc} (set GAITPREP_DEBUG=1 for a traceback)",
                EXIT_ERROR,
            )


def fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def emit(result: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print ``result`` as one JSON document on stdout, or ``human`` text."""
    if as_json:
        doc = {"schema_version": JSON_SCHEMA_VERSION, **result}
        click.echo(json.dumps(doc, indent=2, sort_keys=True, default=str))
    elif human is not None:
        click.echo(human)


def log(message: str) -> None:
    """Diagnostics go to stderr so that stdout stays machine-readable."""
    click.echo(message, err=True)


def progress(
    iterable: Iterable[T], total: int | None = None, desc: str = "", quiet: bool = False
) -> Iterator[T]:
    """Progress on stderr (see :mod:`gaitprep.progress`): a bar on a terminal, else a line every few
    seconds; silent when ``quiet``."""
    from gaitprep.progress import progress as _progress

    yield from _progress(iterable, total=total, desc=desc, quiet=quiet)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
