"""Checkpoints are plain dicts: model config, class order, iteration, optimizer/scheduler/RNG state,
the training config and the identity of the data it was trained on. Loaded with ``weights_only=True``:
a checkpoint is data, never code. Weights holding NaN or infinity are refused at load, naming the tensor.
:class:`Checkpoint` is the typed read-back: every command reads a checkpoint once, through it.
"""

from __future__ import annotations

import errno
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gaitmodels.models import ModelConfig
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
    except RuntimeError as exc:  # torch's zip writer reports a full disk as a RuntimeError
        Path(tmp).unlink(missing_ok=True)
        first = next(iter(str(exc).splitlines()), "")
        raise OSError(errno.EIO, f"cannot write the checkpoint ({first})", str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_dir_of(checkpoint: Path) -> Path:
    """RUN for RUN/checkpoints/x.pt; otherwise the checkpoint's own folder."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


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
    check_finite_weights(ckpt.get("model_state"), path)
    return ckpt


def check_finite_weights(state: Any, path: object) -> None:
    """Every floating tensor of a state dict must be finite: NaN weights evaluate to NaN, never a score."""
    if not isinstance(state, dict):
        return
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            bad = int((~torch.isfinite(value)).sum())
            raise BadInputError(f"weights {key} hold {bad} NaN or infinite value(s)", path)


def load_weights(model: torch.nn.Module, state: dict[str, Any], path: object) -> None:
    """``model.load_state_dict(state)`` with a mismatch as one line naming the checkpoint."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)
        raise BadInputError(f"the checkpoint's weights do not fit the model ({detail[:200]})", path) from None


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint, parsed once: the model's config as a :class:`ModelConfig`, the rest as stored.

    ``raw`` is the dict as saved (``model_config``/``train_config`` are echoed from it verbatim into
    reports). ``train_config`` is the saved :class:`gaitmodels.train.TrainConfig` dump (an imported
    OpenGait run holds only the fields its recipe gives). ``data`` identifies the data trained on
    (``train_ids`` is None for an imported run); ``opengait`` is the provenance of an imported run, else
    None. The optimizer/scheduler/scaler/RNG states are None where the checkpoint has none.
    """

    path: str | Path
    raw: dict[str, Any]
    model_config: ModelConfig
    model_state: dict[str, Any]
    class_order: tuple[str, ...]
    iteration: int
    train_config: dict[str, Any]
    data: dict[str, Any]
    opengait: dict[str, Any] | None
    optimizer_state: Any = None
    scheduler_state: Any = None
    scaler_state: Any = None
    rng_state: Any = None

    @classmethod
    def load(cls, path: str | Path) -> Checkpoint:
        """:func:`load_checkpoint`, parsed; ``path`` is a checkpoint file or a run directory."""
        return cls.from_dict(load_checkpoint(path), path)

    @classmethod
    def from_dict(cls, ckpt: dict[str, Any], path: str | Path) -> Checkpoint:
        return cls(
            path=path,
            raw=ckpt,
            model_config=ModelConfig(**ckpt["model_config"]),
            model_state=ckpt["model_state"],
            class_order=tuple(ckpt["class_order"]),
            iteration=int(ckpt["iteration"]),
            train_config=ckpt["train_config"],
            data=ckpt["data"],
            opengait=ckpt.get("opengait"),
            optimizer_state=ckpt.get("optimizer_state"),
            scheduler_state=ckpt.get("scheduler_state"),
            scaler_state=ckpt.get("scaler_state"),
            rng_state=ckpt.get("rng_state"),
        )

    @property
    def imported(self) -> bool:
        """Imported from OpenGait (``gaitmodels import-opengait``): weights only, training data unknown."""
        return "opengait" in self.raw
