"""The staging side of a build: the lock beside the output, the hidden staging directory with its
done-records, and the one atomic commit that makes a finished dataset visible.

- ``.<name>.lock`` beside ``<out>``: one build writes an output at a time; a lock left by a killed build
  (dead pid on this host, or unreadable and old) is taken over.
- ``.<name>.partial`` beside ``<out>``: where the sequences are written; each finished sequence leaves a
  record under ``.done/``, which a re-run after a crash reuses when its files still match their checksums.
- the commit renames the staging directory to ``<out>``; a replaced output is moved aside first, so
  ``<out>`` never shows a half-written or half-deleted dataset.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gaitprep.errors import BuildInterrupted, BuildLockedError
from gaitprep.io.tree import sha256_file
from gaitprep.manifest import FileEntry
from gaitprep.ownership import check_replaceable

if TYPE_CHECKING:
    from gaitprep.build.engine import SourceItem

DONE_DIR = ".done"
STALE_UNREADABLE_LOCK_S = 60.0


def staging_dir(out: Path) -> Path:
    """The hidden directory beside ``out`` where a build writes until its commit."""
    return out.parent / f".{out.name}.partial"


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:  # kill(0 or -n, 0) would ask about process groups, not this pid
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BuildLock:
    """An exclusive lock file beside the output; a lock left by a killed build (dead pid) is taken over."""

    def __init__(self, out: Path):
        self.path = _lock_path(out)

    def __enter__(self) -> BuildLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None or (owner["host"] == socket.gethostname() and not _pid_alive(owner["pid"])):
                    self.path.unlink(missing_ok=True)  # stale: its build is gone
                    continue
                raise BuildLockedError(
                    f"another build (pid {owner.get('pid', '?')}) is writing this output; "
                    f"wait for it or remove {self.path.name} if it is gone",
                    self.path.parent,
                ) from None
            with os.fdopen(fd, "w") as fh:
                json.dump({"pid": os.getpid(), "host": socket.gethostname()}, fh)
            return self
        raise BuildLockedError("could not take the build lock", self.path)

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)

    def _owner(self) -> dict[str, Any] | None:
        """``{"pid", "host"}`` of the holder, or None when the lock is stale: unreadable (its writer died
        between creating and filling it) and older than ``STALE_UNREADABLE_LOCK_S``."""
        try:
            doc = json.loads(self.path.read_text())
            return {"pid": int(doc["pid"]), "host": str(doc["host"])}
        except FileNotFoundError:
            return None  # released meanwhile
        except (OSError, ValueError, KeyError, TypeError):
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return None
            return None if age > STALE_UNREADABLE_LOCK_S else {"pid": "?", "host": "?"}


def done_name(item: SourceItem) -> str:
    """The file name of ``item``'s done-record under ``.done/``."""
    return f"{item.id}__{item.label}__{item.view}.json"


def files_ok(root: Path, files: tuple[FileEntry, ...]) -> bool:
    """Every file of a done-record is still there under ``root`` with its size and sha256."""
    for f in files:
        p = root / f.path
        if not p.is_file() or p.stat().st_size != f.bytes or sha256_file(p) != f.sha256:
            return False
    return True


def interrupted(stage: Path, out: Path, total: int) -> BuildInterrupted:
    """Ctrl-C: say what is kept and that running the same command again resumes."""
    finished = sum(1 for _ in (stage / DONE_DIR).glob("*.json")) if (stage / DONE_DIR).is_dir() else 0
    return BuildInterrupted(
        f"interrupted with {finished} of {total} sequences finished; run the same command again to "
        f"resume (finished sequences are kept in {stage.name} and reused)",
        out,
    )


def commit(stage: Path, out: Path) -> None:
    """Rename the finished staging directory to ``out``; a replaced output is moved aside first, then deleted,
    so ``out`` never shows a half-deleted dataset."""
    if out.exists():  # only reached with force, or for an empty directory
        check_replaceable(out)  # the last look before anything is moved: only ours is ever replaced
        old = out.parent / f".{out.name}.replaced"
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
        os.replace(stage, out)
        shutil.rmtree(old)
    else:
        os.replace(stage, out)
