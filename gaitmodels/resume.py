"""Resuming a run, in one place: what a resumed run keeps and may change, the checks that it continues
the same run on the same data, and the restored optimizer, schedule and random-generator state.

A fresh run's directory is checked here too, since a run directory either starts a run or resumes one.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gaitmodels.checkpoint import Checkpoint, load_weights, run_dir_of
from gaitmodels.data import ManifestData
from gaitmodels.train_config import TrainConfig, lr_factor
from gaitprep.errors import BadInputError

RESUME_MAY_CHANGE = ("iterations", "save_every", "log_every", "loader_workers")
"""What a resumed run takes from the new configuration: how long it runs, how it logs, saves and loads."""


def refuse_imported(ckpt: Checkpoint) -> None:
    """An imported OpenGait checkpoint carries weights only: no optimizer, scheduler or data to resume."""
    if ckpt.imported:
        raise BadInputError(
            "--resume: this run was imported from OpenGait and has no optimizer state or training data "
            "to resume; start a new run from its weights with --init",
            ckpt.path,
        )


def resumed_config(cfg: TrainConfig, ckpt: Checkpoint) -> TrainConfig:
    """The run's own configuration, with ``RESUME_MAY_CHANGE`` from ``cfg``; the new total must lie ahead."""
    refuse_imported(ckpt)
    path = ckpt.path
    resumed = TrainConfig(**ckpt.train_config)
    if cfg.model != resumed.model:
        raise BadInputError(
            f"--resume: the run trains {resumed.model}, not {cfg.model}; a resumed run keeps its model", path
        )
    done = ckpt.iteration
    if cfg.iterations <= done:
        raise BadInputError(
            f"--resume: the checkpoint is at iteration {done}, so there is nothing to do up to "
            f"{cfg.iterations}; pass a larger --iterations to extend the run",
            path,
        )
    return resumed.model_copy(update={k: getattr(cfg, k) for k in RESUME_MAY_CHANGE})


def check_fresh_run_dir(out: Path) -> None:
    """A new run must not mix its checkpoints and logs with an earlier run's, nor overwrite a file of that
    name that someone else put there (``metrics.csv``: a new run starts it afresh)."""
    if (out / "train_config.json").exists() or any((out / "checkpoints").glob("*.pt")):
        raise BadInputError(
            "the run directory already holds a run; continue it with --resume or choose another --out", out
        )
    if (out / "metrics.csv").exists() or (out / "metrics.csv").is_symlink():
        raise BadInputError(
            "the run directory holds a metrics.csv that a new run would overwrite; choose another --out", out
        )


def resume_settings(
    resume: str, model: str, given: dict[str, Any], out: str | None
) -> tuple[TrainConfig, str, Checkpoint]:
    """The configuration and run directory of a resumed run: the run's own configuration, with the
    options a resumed run may change (``RESUME_MAY_CHANGE``) taken from the command line when given;
    any other explicit option must agree with the run. The checkpoint is read here, once, and
    handed on to :func:`gaitmodels.train.train`."""
    ckpt = Checkpoint.load(resume)
    refuse_imported(ckpt)
    saved = ckpt.train_config
    for field, value in given.items():
        old = tuple(saved[field]) if isinstance(saved[field], list) else saved[field]
        if field not in RESUME_MAY_CHANGE and old != value:
            raise BadInputError(
                f"--resume: the run has {field} = {old}, not {value}; a resumed run keeps its configuration",
                resume,
            )
    if out is None:
        path = Path(resume)
        out = str(path if path.is_dir() else run_dir_of(path))
    changes = {k: v for k, v in given.items() if k in RESUME_MAY_CHANGE}
    # The model is checked against the run's in train(), which names both in its refusal.
    return TrainConfig(**{**saved, **changes, "model": model}), out, ckpt


def open_resume(resume: str | Path | Checkpoint, cfg: TrainConfig) -> tuple[TrainConfig, Checkpoint]:
    """The checkpoint to resume (read unless already read) and the run's configuration for it."""
    ckpt = resume if isinstance(resume, Checkpoint) else Checkpoint.load(resume)
    return resumed_config(cfg, ckpt), ckpt


def check_same_data(
    ckpt: Checkpoint, data: ManifestData, pav: ManifestData | None, maps_path: object, pav_path: object
) -> None:
    """A resumed run trains on the very manifests (maps and PAV) it was trained on."""
    if ckpt.data["manifest_digest"] != data.manifest.manifest_digest:
        raise BadInputError("--resume: the manifest differs from the one the run was trained on", maps_path)
    if ckpt.data.get("pav_manifest_digest") != (pav.manifest.manifest_digest if pav else None):
        raise BadInputError(
            "--resume: the PAV manifest differs from the one the run was trained on", pav_path
        )


def restore_state(
    ckpt: Checkpoint, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, cfg: TrainConfig
) -> None:
    """Weights, optimizer, scheduler and random generators as saved; the learning rate of the next
    iteration under this (possibly extended) plan, not the one saved."""
    load_weights(model, ckpt.model_state, ckpt.path)
    optimizer.load_state_dict(ckpt.optimizer_state)
    scheduler.load_state_dict(ckpt.scheduler_state)
    for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = base * lr_factor(cfg, ckpt.iteration)
    set_rng_state(ckpt.rng_state)


def rng_state() -> dict[str, Any]:
    """The global generators, as plain tensors/lists/tuples so ``torch.load(weights_only=True)`` reads them."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": keys.tolist(), "pos": pos, "has_gauss": has_gauss, "gauss": gauss},
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state` (sampling itself is stateless; this keeps anything else exact too)."""
    torch.set_rng_state(state["torch"])
    npst = state["numpy"]
    if isinstance(npst, dict):
        keys = np.asarray(npst["keys"], dtype=np.uint32)
        np.random.set_state((npst["kind"], keys, npst["pos"], npst["has_gauss"], npst["gauss"]))
    random.setstate(_as_tuple(state["python"]))


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value
