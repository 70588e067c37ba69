"""The parallel runner of a build: every sequence still to do through ``work`` (the engine's ``build_one``),
serially, on local joblib processes or on a dask cluster, with a progress bar.

Local workers watch their parent and exit when the build process dies; a test hook pauses a build at a
known point (``GAITPREP_TEST_PAUSE_AFTER``) so fault tests interrupt it without racing the machine.
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gaitprep.errors import GaitprepError
from gaitprep.manifest import Layout, SequenceRecord

if TYPE_CHECKING:
    from gaitprep.build.engine import ProcessResult, SourceItem
    from gaitprep.build.options import BuildOptions

_WATCHED_PARENT: int | None = None


def exit_if_orphaned(parent: int | None) -> None:
    """A local worker whose build process died (SIGKILL, or SIGTERM to it alone) exits instead of writing
    on: checked now, and from then on by a daemon thread every 0.2 s (an idle worker exits too)."""
    global _WATCHED_PARENT
    if parent is None or os.getpid() == parent:
        return
    if os.getppid() != parent:
        os._exit(1)
    if _WATCHED_PARENT != parent:
        import threading

        _WATCHED_PARENT = parent

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.2)
            os._exit(1)

        threading.Thread(target=watch, name="gaitprep-parent-watch", daemon=True).start()


def absolute_paths(value: Any) -> Any:
    """``value`` with every ``Path`` in it made absolute, inside tuples, lists, dicts and dataclasses (a
    ``SourceItem`` and the ``SequenceRef`` it holds): what is sent to workers in another directory."""
    if isinstance(value, Path):
        return value.absolute()
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*(absolute_paths(v) for v in value))
    if isinstance(value, tuple | list):
        return type(value)(absolute_paths(v) for v in value)
    if isinstance(value, dict):
        return {k: absolute_paths(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: absolute_paths(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
        return dataclasses.replace(value, **changes)
    return value


# ``work(item, process, stage, layout[, parent])``: the engine's ``build_one`` (top-level, so picklable).
Work = Callable[..., SequenceRecord]


def run_parallel(
    todo: list[SourceItem],
    work: Work,
    process: Callable[[SourceItem], ProcessResult],
    stage: Path,
    layout: Layout,
    options: BuildOptions,
    desc: str,
) -> list[SequenceRecord]:
    """``work`` every item of ``todo`` into ``stage``: on ``options.dask_address``'s cluster, in
    ``options.workers`` local processes, or serially. Returns the records in the order they finish."""
    from joblib import Parallel, delayed, parallel_config

    from gaitprep.progress import progress

    def shown(records: Iterable[SequenceRecord]) -> Iterator[SequenceRecord]:
        return _test_pause(progress(records, total=len(todo), desc=desc, quiet=options.quiet))

    if options.dask_address:
        # dask workers may have been started in another working directory: send absolute paths only.
        stage = stage.absolute()
        tasks = (delayed(work)(absolute_paths(item), process, stage, layout) for item in todo)
        try:
            from dask.distributed import Client
        except ImportError:
            raise GaitprepError(
                "--dask-scheduler needs dask[distributed]: pip install 'gaitprep[dask]'"
            ) from None
        with Client(options.dask_address), parallel_config(backend="dask"):
            return list(shown(Parallel(return_as="generator_unordered")(tasks)))
    if options.workers <= 1:
        return list(
            _test_pause(
                work(item, process, stage, layout)
                for item in progress(todo, total=len(todo), desc=desc, quiet=options.quiet)
            )
        )
    parent = os.getpid()
    tasks = (delayed(work)(item, process, stage, layout, parent) for item in todo)
    results = Parallel(n_jobs=options.workers, return_as="generator_unordered", batch_size=1)(tasks)
    with warnings.catch_warnings():
        # An interrupted build cancels queued tasks on purpose: one "error: interrupted" line says so.
        warnings.filterwarnings("ignore", message=r".*(been successfully executed|still being processed)")
        try:
            return list(shown(results))
        finally:
            results.close()


PAUSE_ENV = "GAITPREP_TEST_PAUSE_AFTER"
RESUME_ENV = "GAITPREP_TEST_RESUME_FILE"


def _test_pause(records: Iterable[SequenceRecord]) -> Iterator[SequenceRecord]:
    """Test hook: with ``GAITPREP_TEST_PAUSE_AFTER=N`` the build stops after its N-th finished sequence and
    waits there, holding its lock, for a signal (Ctrl-C, SIGTERM, SIGKILL) or, when
    ``GAITPREP_TEST_RESUME_FILE`` names a file, until that file exists. Fault tests thus interrupt a build
    at a known point instead of racing the machine's speed. Unset (always, outside tests), it does nothing."""
    after = os.environ.get(PAUSE_ENV)
    n = int(after) if after and after.isdigit() else None
    resume = os.environ.get(RESUME_ENV)
    for i, record in enumerate(records, start=1):
        yield record
        if i == n:
            while not (resume and os.path.exists(resume)):  # else only a signal ends this
                time.sleep(0.05)
