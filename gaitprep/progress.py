"""Progress reporting on stderr, for the library and the command lines alike.

On a terminal a tqdm bar redraws itself in place. Without one (CI logs, batch jobs, ``2> build.log``) a bar
would either print nothing (tqdm's ``disable=None``) or flood the log, so a plain line is written instead
every ``interval`` seconds, and a closing one when any was written::

    maps: 120/1493 sequences (8.0 %), 12.3 s elapsed, about 141 s left

Nothing here touches stdout, so ``--json`` output stays one document.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")

DEFAULT_INTERVAL_S = 5.0
INTERVAL_ENV = "GAITPREP_PROGRESS_INTERVAL"


def _interval_from_env() -> float:
    try:
        value = float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if value >= 0 else DEFAULT_INTERVAL_S


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False


class ProgressLines:
    """Counts finished items and writes one line every ``interval`` seconds (and at ``close``).

    ``clock`` returns seconds (monotonic); tests pass a fake one instead of sleeping.
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        stream: TextIO,
        *,
        unit: str = "sequences",
        interval: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total, self.desc, self.stream, self.unit = total, desc, stream, unit
        self.interval, self.clock = interval, clock
        self.started = clock()
        self.last_line = self.started
        self.count = 0
        self.lines_written = 0

    def line(self) -> str:
        elapsed = self.clock() - self.started
        head = f"{self.desc}: " if self.desc else ""
        if self.total:
            pct = 100.0 * self.count / self.total
            text = f"{head}{self.count}/{self.total} {self.unit} ({pct:.1f} %), {elapsed:.1f} s elapsed"
            if 0 < self.count < self.total:
                left = elapsed * (self.total - self.count) / self.count
                text += f", about {left:.0f} s left"
            return text
        return f"{head}{self.count} {self.unit}, {elapsed:.1f} s elapsed"

    def _write(self) -> None:
        self.stream.write(self.line() + "\n")
        self.stream.flush()
        self.lines_written += 1
        self.last_line = self.clock()

    def update(self, n: int = 1) -> None:
        self.count += n
        if self.clock() - self.last_line >= self.interval:
            self._write()

    def close(self) -> None:
        """A closing line when periodic lines were written (a short run stays silent)."""
        if self.lines_written:
            self._write()


def log(message: str) -> None:
    """Diagnostics go to stderr so that stdout stays machine-readable (one line, flushed)."""
    stream = sys.stderr
    stream.write(f"{message}\n")
    stream.flush()


def progress(
    iterable: Iterable[T],
    total: int | None = None,
    desc: str = "",
    quiet: bool = False,
    *,
    unit: str = "seq",
    stream: TextIO | None = None,
    interval: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[T]:
    """Yield from ``iterable`` while reporting on stderr: a tqdm bar on a terminal, else a line every
    ``interval`` seconds (default 5, or ``$GAITPREP_PROGRESS_INTERVAL``). Silent when ``quiet``."""
    stream = sys.stderr if stream is None else stream
    if quiet:
        yield from iterable
        return
    if _is_terminal(stream):
        from tqdm import tqdm

        yield from tqdm(iterable, total=total, desc=desc, file=stream, leave=False, unit=unit)
        return
    lines = ProgressLines(
        total,
        desc,
        stream,
        unit="sequences" if unit == "seq" else unit,
        interval=_interval_from_env() if interval is None else interval,
        clock=clock,
    )
    completed = False
    try:
        for item in iterable:
            yield item
            lines.update()
        completed = True
    finally:
        if completed:
            lines.close()
