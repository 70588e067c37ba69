"""Shared command-line plumbing for gaitprep and gaitmodels.

Every command is a thin layer over a library function. This module gives them one error policy
(one line on stderr, no traceback, exit 1 for bad input, 3 for failed verification), one way to print
``--json`` (exactly one document on stdout) and progress bars that go to stderr only.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from gaitprep.errors import EXIT_ERROR, EXIT_USAGE, GaitprepError, validation_summary

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
        from pydantic import ValidationError

        quiet_resource_tracker()
        args = _ctx_args(ctx)
        try:
            with terminate_as_interrupt():
                return super().invoke(ctx)
        except GaitprepError as exc:
            fail(str(exc), exc.exit_code)
        except click.UsageError as exc:  # one line too (click's own form prints usage and a blank line)
            fail(" ".join(exc.format_message().split()), EXIT_USAGE)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            fail("interrupted", EXIT_ERROR)
        except MemoryError:
            fail(f"{_input_of(args)}: out of memory (the input needs more memory than is free)", EXIT_ERROR)
        except RecursionError:
            fail(f"{_input_of(args)}: input is nested too deeply to process", EXIT_ERROR)
        except ValidationError as exc:
            fail(validation_summary(exc), EXIT_ERROR)
        except OSError as exc:
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else f"{_input_of(args)}: "
            fail(f"{where}{exc.strerror or exc}", EXIT_ERROR)
        except Exception as exc:  # an internal error: still one line, traceback only on request
            if os.environ.get("GAITPREP_DEBUG"):
                raise
            fail(
                f"internal error: {type(exc).__name__}: {exc} (set GAITPREP_DEBUG=1 for a traceback)",
                EXIT_ERROR,
            )


def quiet_resource_tracker() -> None:
    """A process pool's resource tracker (a helper process) outlives a build killed with SIGKILL and then
    cleans up after it, warning on the shared stderr; that clean-up is expected, so its warning is muted
    (in the helper, through the environment it inherits)."""
    mute = "ignore::UserWarning:joblib.externals.loky.backend.resource_tracker"
    current = os.environ.get("PYTHONWARNINGS", "")
    if mute not in current.split(","):
        os.environ["PYTHONWARNINGS"] = f"{current},{mute}" if current else mute


def fail(message: str, code: int) -> None:
    click.echo("error: " + " ".join(message.splitlines()), err=True)
    sys.exit(code)


def _ctx_args(ctx: click.Context) -> list[str]:
    """The command name and its arguments as given (click 8.2 keeps the name in ``protected_args``)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [*getattr(ctx, "protected_args", ()), *ctx.args]


def _input_of(args: list[str]) -> str:
    """What a failure without a file name concerns: the first argument naming an existing path, else the
    command itself (``gaitprep render-heatmaps``)."""
    for arg in args[1:]:
        if not arg.startswith("-") and os.path.exists(arg):
            return arg
    return " ".join([Path(sys.argv[0]).name, *args[:1]]).strip()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Handle SIGTERM like Ctrl-C while a command runs: a KeyboardInterrupt unwinds the same cleanup
    (staging left for resume, lock removed, one ``error: interrupted`` line). Main thread only."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def emit(result: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print ``result`` as one JSON document on stdout, or ``human`` text."""
    if as_json:
        doc = {"schema_version": JSON_SCHEMA_VERSION, **result}
        try:  # NaN and Infinity are not JSON: refuse rather than print a document parsers reject
            text = json.dumps(doc, indent=2, sort_keys=True, default=str, allow_nan=False)
        except ValueError:
            raise GaitprepError("the result holds NaN or infinite numbers, which JSON cannot carry") from None
        click.echo(text)
    elif human is not None:
        click.echo(human)


def progress(
    iterable: Iterable[T], total: int | None = None, desc: str = "", quiet: bool = False
) -> Iterator[T]:
    """Progress on stderr (see :mod:`gaitprep.progress`): a bar on a terminal, else a line every few
    seconds; silent when ``quiet``."""
    from gaitprep.progress import progress as _progress

    yield from _progress(iterable, total=total, desc=desc, quiet=quiet)


_DASK_ADDRESS = re.compile(
    r"^(?:(?:tcp|tls|ucx|ws|wss)://)?(?P<host>[A-Za-z0-9][A-Za-z0-9.\-]*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?$"
)


def check_dask_address(value: str | None) -> str | None:
    """A dask.distributed scheduler address (``tcp://host:8786``, ``host:8786``, ``tls://[::1]:8786``);
    anything else is a usage error (exit 2) before any work starts."""
    if value is None:
        return None
    match = _DASK_ADDRESS.match(value)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
        raise click.BadParameter(
            f"{value!r} is not a scheduler address such as tcp://host:8786", param_hint="--dask-scheduler"
        )
    return value


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
