"""Checkpoints are plain dicts: model config, class order, iteration, optimizer/scheduler/RNG state,
the training config and the identity of the data it was trained on. Loaded with ``weights_only=True``:
a checkpoint is data, never code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from gaitprep.errors import BadInputError

CHECKPOINT_FORMAT = "gaitmodels-checkpoint-1"


def save_checkpoint(ckpt: dict[str, Any], path: Path) -> None:
    """Write atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(ckpt, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint file, or ``RUN_DIR`` (its ``checkpoints/last.pt``); errors name the file."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BadInputError("checkpoint not found", path) from None
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise BadInputError(
            f"not a readable checkpoint ({type(exc).__name__}: {next(iter(str(exc).splitlines()), '')})", path
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise BadInputError(f"not a {CHECKPOINT_FORMAT} checkpoint", path)
    return ckpt
