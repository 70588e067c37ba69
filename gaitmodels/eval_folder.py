"""Where an evaluation's files go, without ever overwriting one silently.

An evaluation folder holds ``metrics.json`` (whose ``kind`` is :data:`EVALUATION_KIND`), the PNGs and
``predictions.json``. Its files are written into a hidden staging folder beside the target and renamed into
place at the end, so a folder is either a whole evaluation or absent.

- Default: a new folder under the run directory per evaluation, named by dataset, split and checkpoint
  iteration (``eval-test-skeleton-maps-iter000200``); a second identical evaluation gets ``...-2``.
- ``--out DIR``: a folder that does not exist, or an empty one, is used; an earlier evaluation there is
  refused unless ``force``; anything else (a folder we did not write) is never replaced.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from gaitprep.errors import BadInputError

EVALUATION_KIND = "gaitmodels-evaluation"
METRICS_NAME = "metrics.json"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _dir_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


_DIR_MODE = _dir_mode()  # read once at import: os.umask is process-wide


def default_name(dataset: str, split: str, iteration: int) -> str:
    """``eval-<split>-<dataset>-iter<000000>`` with the dataset name reduced to safe characters."""
    return f"eval-{split}-{_SAFE.sub('_', dataset).strip('._') or 'dataset'}-iter{iteration:06d}"


def is_evaluation(folder: Path) -> bool:
    """True when ``folder`` holds a metrics.json that an evaluation of ours wrote."""
    try:
        doc = json.loads((folder / METRICS_NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and (
        doc.get("kind") == EVALUATION_KIND
        # before the kind was recorded: the fields every evaluation wrote
        or {"confusion_matrix", "manifest_digest", "checkpoint", "split"} <= set(doc)
    )


def check_target(out: Path, force: bool, owns: Callable[[Path], bool] | None = None) -> None:
    """Refuse ``out`` unless writing there replaces nothing, or only an evaluation of ours with ``force``.

    ``owns`` tells a folder of ours (default :func:`is_evaluation`)."""
    owns = owns or is_evaluation
    if not out.exists():
        return
    if not out.is_dir():
        raise BadInputError("exists and is not a folder; choose another --out", out)
    if not any(out.iterdir()):
        return
    if not owns(out):
        raise BadInputError(
            "holds files that we did not write; it is never replaced: choose another --out", out
        )
    if not force:
        raise BadInputError(
            "holds earlier results of ours; use --force to replace it, or choose another --out", out
        )


def staging(parent: Path) -> Path:
    """A new hidden folder in ``parent`` to write an evaluation into."""
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".eval-", suffix=".partial", dir=parent))
    os.chmod(stage, _DIR_MODE)  # mkdtemp gives 0o700; a published folder gets what mkdir would give
    return stage


def publish(stage: Path, out: Path, force: bool, owns: Callable[[Path], bool] | None = None) -> None:
    """Rename the finished ``stage`` to ``out`` (checked again now), replacing an evaluation only with ``force``."""
    try:
        check_target(out, force, owns)
        if out.exists() and any(out.iterdir()):  # our earlier evaluation, and force
            old = Path(tempfile.mkdtemp(prefix=".eval-old-", dir=out.parent))
            os.replace(out, old / "x")
            os.replace(stage, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if out.exists():
                out.rmdir()  # empty: ours to fill
            os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def publish_new(stage: Path, parent: Path, name: str) -> Path:
    """Rename ``stage`` to ``parent/name``, or ``name-2``, ``name-3``... if taken; returns the folder."""
    k = 1
    while True:
        target = parent / (name if k == 1 else f"{name}-{k}")
        if not target.exists():
            try:
                os.rename(stage, target)  # fails on a non-empty folder that appeared meanwhile
                return target
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    shutil.rmtree(stage, ignore_errors=True)
                    raise
        k += 1
