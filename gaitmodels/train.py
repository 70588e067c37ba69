"""The training loop: a manifest in, checkpoints, a CSV log and TensorBoard events out.

Single process by default; under ``torchrun`` (WORLD_SIZE > 1) it runs DDP, each rank taking its stride
of every P x K batch (gloo on CPU, NCCL on CUDA). As upstream, the triplet loss all-gathers embeddings and
labels across ranks, so it sees the whole batch (:mod:`gaitmodels.distributed`); gradients are averaged by
DDP, logged CE and accuracy are averaged over ranks, and rank 0 alone logs and writes. Batch-norm
statistics stay per rank on CPU (SyncBatchNorm needs CUDA).
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from gaitmodels.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, load_weights, save_checkpoint
from gaitmodels.data import FRAME_SAMPLING, ManifestData, SplitArrays, TrainClips, load_split
from gaitmodels.distributed import gathered_triplet_loss, mean_over_ranks
from gaitmodels.guards import check_init, check_model_data, check_pav
from gaitmodels.losses import inverse_frequency_weights, part_cross_entropy
from gaitmodels.models import ModelConfig, build_model
from gaitmodels.sampling import TripletSampler
from gaitprep.errors import BadInputError, TrainingDivergedError
from gaitprep.ownership import check_output_path
from gaitprep.progress import log
from gaitprep.skeleton import CLASS_ORDER

CSV_FIELDS = ("iteration", "loss", "ce", "triplet", "triplet_nonzero", "accuracy", "lr")


class TrainConfig(BaseModel):
    """Every choice of a run; stored in each checkpoint and in ``RUN/train_config.json``."""

    # Hyper-parameters are finite numbers: NaN or infinity is refused when the configuration is parsed.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    model: Literal["sconet", "sconet-mt", "sconet-mt-ske", "drf"]
    recipe: Literal["sgd-multistep", "adamw-cosine"] = "sgd-multistep"
    class_weights: Literal["none", "inverse-frequency"] = "none"
    iterations: int = Field(20_000, ge=1)
    batch_p: int = Field(8, ge=1)
    batch_k: int = Field(8, ge=1)
    frames: int = Field(30, ge=1)
    sampling: str = "fixed_unordered"
    lr: float | None = Field(None, ge=0)  # None: the recipe's default; 0 freezes the weights
    weight_decay: float | None = Field(None, ge=0)
    widths: tuple[PositiveInt, PositiveInt, PositiveInt, PositiveInt] = (64, 128, 256, 512)
    seed: int = Field(0, ge=0, lt=2**63)
    save_every: int = Field(1000, ge=1)
    log_every: int = Field(10, ge=1)
    amp: bool = True  # fp16 autocast + GradScaler on CUDA only (upstream); ignored on CPU
    loader_workers: int = Field(0, ge=0)
    triplet_margin: float = Field(0.2, ge=0)
    label_smoothing: float = Field(0.1, ge=0, le=1)
    ce_scale: float = Field(16.0, gt=0)

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else (0.1 if self.recipe == "sgd-multistep" else 1e-3)

    def resolved_weight_decay(self) -> float:
        if self.weight_decay is not None:
            return self.weight_decay
        return 5e-4 if self.recipe == "sgd-multistep" else 0.05

    def milestones(self) -> list[int]:
        """Upstream decays at 10k/14k/18k of 20k iterations: the same fractions of ours."""
        return sorted({max(1, round(self.iterations * f)) for f in (0.5, 0.7, 0.9)})


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """The learning rate of 0-based iteration ``step`` as a fraction of the base rate.

    sgd-multistep: x0.1 at each milestone (50/70/90 % of the iterations); adamw-cosine: linear warm-up
    over the first 5 %, then cosine to 0. A pure function of (config, step), so a resumed run recomputes
    the same rate whatever was saved, and an extended run (larger ``iterations``) follows the new plan.
    """
    if cfg.recipe == "sgd-multistep":
        return 0.1 ** sum(1 for m in cfg.milestones() if m <= step)
    warmup = max(1, cfg.iterations // 20)
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, cfg.iterations - warmup)))


def make_optimizer(cfg: TrainConfig, params) -> tuple[torch.optim.Optimizer, Any]:
    """SGD (momentum 0.9) or AdamW, with a LambdaLR scheduler following :func:`lr_factor`."""
    lr, wd = cfg.resolved_lr(), cfg.resolved_weight_decay()
    if cfg.recipe == "sgd-multistep":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    else:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)

    def factor(step: int) -> float:  # a plain function: LambdaLR's state_dict then stores no code
        return lr_factor(cfg, step)

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BadInputError("--device cuda was asked for, but no CUDA device is available")
    return torch.device(name)


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


class TokenBatches(torch.utils.data.Sampler):
    """Batches of ``(sequence index, iteration, slot)`` tokens from iteration ``start`` to ``stop``.

    ``slot`` is the entry's place in the FULL P x K batch (rank r of w holds slots r, r + w, ...), so the
    frames drawn for it do not depend on the number of processes: a DDP job sees the same clips as a
    single process.
    """

    def __init__(self, sampler: TripletSampler, start: int, stop: int):
        self.sampler, self.start, self.stop = sampler, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self):
        rank, world = self.sampler.rank, self.sampler.world_size
        for it in range(self.start, self.stop):
            yield [(idx, it, rank + world * j) for j, idx in enumerate(self.sampler.batch(it))]


def _rng_state() -> dict[str, Any]:
    """The global generators, as plain tensors/lists/tuples so ``torch.load(weights_only=True)`` reads them."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": keys.tolist(), "pos": pos, "has_gauss": has_gauss, "gauss": gauss},
        "python": random.getstate(),
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`_rng_state` (sampling itself is stateless; this keeps anything else exact too)."""
    torch.set_rng_state(state["torch"])
    npst = state["numpy"]
    if isinstance(npst, dict):
        keys = np.asarray(npst["keys"], dtype=np.uint32)
        np.random.set_state((npst["kind"], keys, npst["pos"], npst["has_gauss"], npst["gauss"]))
    random.setstate(_as_tuple(state["python"]))


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value


RESUME_MAY_CHANGE = ("iterations", "save_every", "log_every", "loader_workers")
"""What a resumed run takes from the new configuration: how long it runs, how it logs, saves and loads."""


def refuse_imported(ckpt: dict[str, Any], path: str | Path) -> None:
    """An imported OpenGait checkpoint carries weights only: no optimizer, scheduler or data to resume."""
    if "opengait" in ckpt:
        raise BadInputError(
            "--resume: this run was imported from OpenGait and has no optimizer state or training data "
            "to resume; start a new run from its weights with --init",
            path,
        )


def _resumed_config(cfg: TrainConfig, ckpt: dict[str, Any], path: str | Path) -> TrainConfig:
    """The run's own configuration, with ``RESUME_MAY_CHANGE`` from ``cfg``; the new total must lie ahead."""
    refuse_imported(ckpt, path)
    resumed = TrainConfig(**ckpt["train_config"])
    if cfg.model != resumed.model:
        raise BadInputError(
            f"--resume: the run trains {resumed.model}, not {cfg.model}; a resumed run keeps its model", path
        )
    done = int(ckpt["iteration"])
    if cfg.iterations <= done:
        raise BadInputError(
            f"--resume: the checkpoint is at iteration {done}, so there is nothing to do up to "
            f"{cfg.iterations}; pass a larger --iterations to extend the run",
            path,
        )
    return resumed.model_copy(update={k: getattr(cfg, k) for k in RESUME_MAY_CHANGE})


def _check_fresh_run_dir(out: Path) -> None:
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


def _load_init(model: torch.nn.Module, ckpt: dict[str, Any], path: str | Path) -> None:
    """Copy a checkpoint's weights; only the PGA gates may be missing or extra (ScoNet-MT-ske <-> DRF)."""
    try:
        result = model.load_state_dict(ckpt["model_state"], strict=False)
    except RuntimeError as exc:  # shapes differ: torch's message spans several lines
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise BadInputError(
            f"--init: the checkpoint's weights do not fit the model ({detail[:200]})", path
        ) from None
    odd = [k for k in (*result.missing_keys, *result.unexpected_keys) if not k.startswith("pga.")]
    if odd:
        raise BadInputError(f"--init: the checkpoint's weights do not fit the model (e.g. {odd[0]})", path)


def train(
    cfg: TrainConfig,
    maps_path: str | Path,
    out: str | Path,
    *,
    pav_path: str | Path | None = None,
    device: str = "auto",
    resume: str | Path | None = None,
    init: str | Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train ``cfg.model`` on the TRAIN split of ``maps_path``; returns a summary dict.

    With ``resume`` (a run directory or checkpoint) the run continues from the checkpoint's iteration to
    ``cfg.iterations`` with the run's own configuration; metrics.csv rows after that iteration are
    dropped and rewritten. An interrupted run resumed this way ends with exactly the weights of an
    uninterrupted one. A larger ``cfg.iterations`` extends the run, re-planning the learning-rate schedule
    for the new total from the current iteration.
    """
    out = Path(out)
    # The run directory is ours (train --resume writes into it again) but never a dataset, nor an input.
    check_output_path(out, inputs=[maps_path, pav_path], kind="folder")
    start = 0
    ckpt = None
    if resume is not None:
        ckpt = load_checkpoint(resume)
        cfg = _resumed_config(cfg, ckpt, resume)
        start = int(ckpt["iteration"])
    else:
        _check_fresh_run_dir(out)
    if cfg.sampling not in FRAME_SAMPLING:
        raise BadInputError(
            f"unknown frame sampling {cfg.sampling!r}; expected one of {', '.join(FRAME_SAMPLING)}"
        )
    world, rank, local_rank = _dist_info()
    if cfg.sampling == "all_ordered" and cfg.batch_p * cfg.batch_k > world:
        raise BadInputError(
            "all_ordered sampling gives clips of different lengths, which cannot share a batch; "
            "train with fixed_unordered (upstream) or fixed_ordered"
        )
    model_cfg = ModelConfig(name=cfg.model, widths=cfg.widths)
    if model_cfg.uses_triplet and cfg.batch_k < 2 and rank == 0:
        # Positives are the copies of one sequence id (upstream): with K = 1 no anchor has one.
        log(
            f"warning: --batch {cfg.batch_p},1 puts one copy of each sequence id in a batch, so {cfg.model}'s "
            "triplet term is always 0 and this trains cross-entropy only; use K >= 2"
        )
    data = ManifestData.open(maps_path)
    pav = ManifestData.open(pav_path) if pav_path else None
    check_model_data(model_cfg, data)
    check_pav(model_cfg, data, pav)
    if ckpt is not None and ckpt["data"]["manifest_digest"] != data.manifest.manifest_digest:
        raise BadInputError("--resume: the manifest differs from the one the run was trained on", maps_path)
    if ckpt is not None and ckpt["data"].get("pav_manifest_digest") != (
        pav.manifest.manifest_digest if pav else None
    ):
        raise BadInputError(
            "--resume: the PAV manifest differs from the one the run was trained on", pav_path
        )
    init_ckpt = None
    if init is not None:
        init_ckpt = load_checkpoint(init)
        check_init(init_ckpt, model_cfg)
    split = load_split(data, "train", pav)
    sampler = TripletSampler(split.ids, cfg.batch_p, cfg.batch_k, seed=cfg.seed, rank=rank, world_size=world)

    dev = resolve_device(device)
    if world > 1:
        import torch.distributed as dist

        if dev.type == "cuda":
            dev = torch.device("cuda", local_rank)
            torch.cuda.set_device(dev)
        # Every check above ran on every rank before this rendezvous, so no rank writes before all agree.
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    torch.manual_seed(cfg.seed)
    model = build_model(model_cfg)
    if init_ckpt is not None:
        _load_init(model, init_ckpt, init)
    if world > 1 and dev.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(dev)
    optimizer, scheduler = make_optimizer(cfg, model.parameters())
    if ckpt is not None:
        load_weights(model, ckpt["model_state"], resume)
        optimizer.load_state_dict(ckpt["optimizer_state"])
        scheduler.load_state_dict(ckpt["scheduler_state"])
        # The rate of the next iteration under this (possibly extended) plan, not the one saved.
        for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
            group["lr"] = base * lr_factor(cfg, start)
        _set_rng_state(ckpt["rng_state"])
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )

    weights = None
    if cfg.class_weights == "inverse-frequency":
        counts = [int((split.labels == i).sum()) for i in range(len(CLASS_ORDER))]
        weights = torch.tensor(inverse_frequency_weights(counts), dtype=torch.float32, device=dev)
    loader = torch.utils.data.DataLoader(
        TrainClips(split, cfg.frames, cfg.sampling, cfg.seed),
        batch_sampler=TokenBatches(sampler, start, cfg.iterations),
        num_workers=cfg.loader_workers,
        pin_memory=dev.type == "cuda",
    )
    use_amp = cfg.amp and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    if ckpt is not None and "scaler_state" in ckpt and use_amp:
        scaler.load_state_dict(ckpt["scaler_state"])

    is_main = rank == 0
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(
            json.dumps(cfg.model_dump(mode="json"), indent=2, sort_keys=True)
        )
    writer = _tensorboard(out / "tensorboard") if is_main else None
    csv_path = out / "metrics.csv"
    if is_main:
        _truncate_csv(csv_path, start)

    from gaitprep.progress import progress

    net.train()
    last: dict[str, float] = {}
    last_saved = Path(resume) if resume is not None else None
    batches = progress(loader, total=cfg.iterations - start, desc="train", quiet=quiet or not is_main)
    for it, (x, labels, seq_index, pav_b) in enumerate(batches, start=start):
        x, labels, seq_index = x.to(dev, non_blocking=True), labels.to(dev), seq_index.to(dev)
        pav_t = pav_b.to(dev) if model_cfg.use_pga else None
        with torch.autocast(dev.type, dtype=torch.float16, enabled=use_amp):
            outputs = net(x, pav=pav_t)
        ce = part_cross_entropy(
            outputs["logits"].float(),
            labels,
            scale=cfg.ce_scale,
            label_smoothing=cfg.label_smoothing,
            class_weights=weights,
        )
        loss = ce
        trip_val, nonzero = 0.0, 0.0
        trip_detached = torch.zeros((), device=dev)
        if model_cfg.uses_triplet:
            # Over the whole batch across ranks; scaled by the world size so DDP's mean is the full gradient.
            trip_loss, trip = gathered_triplet_loss(outputs["embed"].float(), seq_index, cfg.triplet_margin)
            loss = loss + trip_loss
            trip_detached = trip.loss.detach()
            trip_val, nonzero = float(trip_detached), float(trip.nonzero_fraction)
        if not torch.isfinite(loss.detach()).all():
            # Stop before the step: the weights and every checkpoint written so far stay good.
            kept = (
                f"the last good checkpoint is {last_saved}" if last_saved else "no checkpoint was written yet"
            )
            raise TrainingDivergedError(
                f"the loss became {float(loss.detach())} at iteration {it + 1}; training stopped and {kept} "
                "(try a lower --lr)",
                out,
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        correct = (outputs["logits"].detach().mean(-1).argmax(-1) == labels).float().mean()
        stats = mean_over_ranks(torch.stack([ce.detach(), correct]))  # the whole batch's CE and accuracy
        acc = float(stats[1])
        last = {
            "iteration": it + 1,
            "loss": float(stats[0] + trip_detached),
            "ce": float(stats[0]),
            "triplet": trip_val,
            "triplet_nonzero": nonzero,
            "accuracy": acc,
            "lr": lr,
        }
        if is_main and ((it + 1) % cfg.log_every == 0 or it + 1 == cfg.iterations):
            _log_row(csv_path, last, writer)
            if not quiet:
                log(
                    f"iter {it + 1}: loss {last['loss']:.4f} (ce {last['ce']:.4f}, triplet {trip_val:.4f}) "
                    f"acc {acc:.3f} lr {lr:.2e}"
                )
        if is_main and ((it + 1) % cfg.save_every == 0 or it + 1 == cfg.iterations):
            ck = _checkpoint(model, optimizer, scheduler, scaler, cfg, model_cfg, data, pav, split, it + 1)
            save_checkpoint(ck, out / "checkpoints" / f"iter-{it + 1:06d}.pt")
            save_checkpoint(ck, out / "checkpoints" / "last.pt")
            last_saved = out / "checkpoints" / f"iter-{it + 1:06d}.pt"
    if writer is not None:
        writer.close()
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return {
        "run": str(out),
        "iterations": cfg.iterations,
        "resumed_from": start,
        "last": last,
        "checkpoint": str(out / "checkpoints" / "last.pt"),
        "device": str(dev),
        "world_size": world,
    }


def _checkpoint(
    model,
    optimizer,
    scheduler,
    scaler,
    cfg: TrainConfig,
    model_cfg: ModelConfig,
    data: ManifestData,
    pav: ManifestData | None,
    split: SplitArrays,
    iteration: int,
) -> dict[str, Any]:
    m = data.manifest
    return {
        "format": CHECKPOINT_FORMAT,
        "model_config": model_cfg.model_dump(mode="json"),
        "class_order": list(model_cfg.class_order),
        "iteration": iteration,
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "scheduler_state": scheduler.state_dict(),
        "scaler_state": scaler.state_dict(),
        "rng_state": _rng_state(),
        "train_config": cfg.model_dump(mode="json"),
        "selection_rule": "last iteration (no validation split exists; never chosen on test)",
        "data": {
            "manifest_digest": m.manifest_digest,
            "content_digest": m.content_digest,
            "name": m.name,
            "modality": m.modality,
            "channels": list(data.channel_names),
            "partition": m.partition.name if m.partition else None,
            "partition_sha256": m.partition.sha256 if m.partition else None,
            "train_ids": sorted(set(split.ids)),
            "pav_manifest_digest": pav.manifest.manifest_digest if pav else None,
            # The PAV normaliser the model learnt with: evaluation and prediction must use the same one.
            "pav_fitted": _pav_fitted(pav),
        },
    }


def _pav_fitted(pav: ManifestData | None) -> dict[str, Any] | None:
    if pav is None:
        return None
    f = pav.manifest.fitted
    return {k: f.get(k) for k in ("mn", "mx", "impute", "fit_on", "partition_sha256")}


def _tensorboard(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional: the CSV log always exists
        log("tensorboard is not installed; logging to metrics.csv only (pip install 'gaitprep[tensorboard]')")
        return None
    return SummaryWriter(str(path))


def _truncate_csv(path: Path, start: int) -> None:
    """Keep the header and the rows up to ``start`` (a resumed run rewrites what came after)."""
    rows = []
    if path.exists() and start > 0:
        with open(path, newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if int(r["iteration"]) <= start]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)


def _log_row(path: Path, row: dict[str, float], writer) -> None:
    try:
        with open(path, "a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=CSV_FIELDS).writerow(row)
    except OSError as exc:  # a full disk: name the file (a write error carries no file name)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    if writer is not None:
        for key in ("loss", "ce", "triplet", "accuracy", "lr"):
            writer.add_scalar(f"train/{key}", row[key], int(row["iteration"]))
