"""Write a new output folder atomically: fill a hidden staging folder beside it, then rename it into place.

Nothing half-written is ever visible at the output path, and an existing, non-empty folder (which we did
not write) is never replaced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from gaitprep.errors import BadInputError


def write_new_folder(out: str | Path, fill: Callable[[Path], None]) -> Path:
    """Call ``fill(staging)`` and rename the staging folder to ``out``; ``out`` must be absent or empty."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInputError("already exists and is not an empty folder; choose another --out", out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.writing-", dir=out.parent))
    try:
        fill(staging)
        os.replace(staging, out)  # also replaces an empty folder at ``out``
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
