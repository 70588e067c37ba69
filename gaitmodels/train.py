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
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gaitmodels.checkpoint import CHECKPOINT_FORMAT, Checkpoint, save_checkpoint
from gaitmodels.choices import DEFAULT_DEVICE, FRAME_SAMPLING
from gaitmodels.data import ManifestData, SplitArrays, TrainClips, load_split
from gaitmodels.distributed import gathered_triplet_loss, mean_over_ranks
from gaitmodels.guards import check_init, check_model_data, check_pav
from gaitmodels.losses import inverse_frequency_weights, part_cross_entropy
from gaitmodels.models import ModelConfig, build_model
from gaitmodels.resume import (  # noqa: F401  (RESUME_MAY_CHANGE, refuse_imported: part of this module's API)
    RESUME_MAY_CHANGE,
    check_fresh_run_dir,
    check_same_data,
    open_resume,
    refuse_imported,
    restore_state,
    rng_state,
)
from gaitmodels.sampling import TripletSampler
from gaitmodels.train_config import TrainConfig, lr_factor, make_optimizer  # noqa: F401  (lr_factor: API)
from gaitprep.errors import BadInputError, TrainingDivergedError
from gaitprep.ownership import check_output_path
from gaitprep.progress import log
from gaitprep.skeleton import CLASS_ORDER

CSV_FIELDS = ("iteration", "loss", "ce", "triplet", "triplet_nonzero", "accuracy", "lr")


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


def _load_init(model: torch.nn.Module, ckpt: Checkpoint) -> None:
    """Copy a checkpoint's weights; only the PGA gates may be missing or extra (ScoNet-MT-ske <-> DRF)."""
    path = ckpt.path
    try:
        result = model.load_state_dict(ckpt.model_state, strict=False)
    except RuntimeError as exc:  # shapes differ: torch's message spans several lines
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise BadInputError(
            f"--init: the checkpoint's weights do not fit the model ({detail[:200]})", path
        ) from None
    odd = [k for k in (*result.missing_keys, *result.unexpected_keys) if not k.startswith("pga.")]
    if odd:
        raise BadInputError(f"--init: the checkpoint's weights do not fit the model (e.g. {odd[0]})", path)


@dataclass
class _Trainer:
    """What one training step touches: the model (``net`` is it wrapped in DDP), optimiser, schedule,
    the fp16 gradient scaler and the class weights of the cross-entropy."""

    model: torch.nn.Module
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    dev: torch.device
    use_amp: bool
    class_weights: torch.Tensor | None


def train(
    cfg: TrainConfig,
    maps_path: str | Path,
    out: str | Path,
    *,
    pav_path: str | Path | None = None,
    device: str = DEFAULT_DEVICE,
    resume: str | Path | Checkpoint | None = None,
    init: str | Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train ``cfg.model`` on the TRAIN split of ``maps_path``; returns a summary dict.

    With ``resume`` (a run directory or checkpoint, or a :class:`Checkpoint` already read) the run
    continues from the checkpoint's iteration to ``cfg.iterations`` with the run's own configuration;
    metrics.csv rows after that iteration are dropped and rewritten. An interrupted run resumed this way
    ends with exactly the weights of an uninterrupted one. A larger ``cfg.iterations`` extends the run,
    re-planning the learning-rate schedule for the new total from the current iteration.
    """
    out = Path(out)
    # The run directory is ours (train --resume writes into it again) but never a dataset, nor an input.
    check_output_path(out, inputs=[maps_path, pav_path], kind="folder")
    ckpt = None
    if resume is not None:
        cfg, ckpt = open_resume(resume, cfg)
    else:
        check_fresh_run_dir(out)
    start = ckpt.iteration if ckpt is not None else 0
    world, rank, local_rank = _dist_info()
    model_cfg = _check_config(cfg, world, rank)
    data, pav, split, init_ckpt = _open_data(model_cfg, maps_path, pav_path, ckpt, init)
    sampler = TripletSampler(split.ids, cfg.batch_p, cfg.batch_k, seed=cfg.seed, rank=rank, world_size=world)
    dev = _start_device(device, world, local_rank)
    t = _make_trainer(cfg, model_cfg, split, dev, world, init_ckpt, ckpt)
    loader = torch.utils.data.DataLoader(
        TrainClips(split, cfg.frames, cfg.sampling, cfg.seed),
        batch_sampler=TokenBatches(sampler, start, cfg.iterations),
        num_workers=cfg.loader_workers,
        pin_memory=dev.type == "cuda",
    )
    is_main = rank == 0
    writer = _start_logs(out, cfg, start) if is_main else None
    csv_path = out / "metrics.csv"

    from gaitprep.progress import progress

    t.net.train()
    last: dict[str, float] = {}
    last_saved = Path(ckpt.path) if ckpt is not None else None
    batches = progress(loader, total=cfg.iterations - start, desc="train", quiet=quiet or not is_main)
    for it, batch in enumerate(batches, start=start):
        last = _train_step(t, cfg, model_cfg, batch, it, out, last_saved)
        done = it + 1
        if is_main and (done % cfg.log_every == 0 or done == cfg.iterations):
            _log_row(csv_path, last, writer)
            if not quiet:
                log(
                    f"iter {done}: loss {last['loss']:.4f} (ce {last['ce']:.4f}, triplet {last['triplet']:.4f}) "
                    f"acc {last['accuracy']:.3f} lr {last['lr']:.2e}"
                )
        if is_main and (done % cfg.save_every == 0 or done == cfg.iterations):
            ck = _checkpoint(t, cfg, model_cfg, data, pav, split, done)
            save_checkpoint(ck, out / "checkpoints" / f"iter-{done:06d}.pt")
            save_checkpoint(ck, out / "checkpoints" / "last.pt")
            last_saved = out / "checkpoints" / f"iter-{done:06d}.pt"
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


def _check_config(cfg: TrainConfig, world: int, rank: int) -> ModelConfig:
    """The network a run trains, after refusing configurations that cannot train."""
    if cfg.sampling not in FRAME_SAMPLING:
        raise BadInputError(
            f"unknown frame sampling {cfg.sampling!r}; expected one of {', '.join(FRAME_SAMPLING)}"
        )
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
    return model_cfg


def _open_data(
    model_cfg: ModelConfig,
    maps_path: str | Path,
    pav_path: str | Path | None,
    ckpt: Checkpoint | None,
    init: str | Path | None,
) -> tuple[ManifestData, ManifestData | None, SplitArrays, Checkpoint | None]:
    """The datasets (checked against the model, and against the run when resuming), the ``--init``
    checkpoint (checked against the model) and the loaded TRAIN split."""
    data = ManifestData.open(maps_path)
    pav = ManifestData.open(pav_path) if pav_path else None
    check_model_data(model_cfg, data)
    check_pav(model_cfg, data, pav)
    if ckpt is not None:
        check_same_data(ckpt, data, pav, maps_path, pav_path)
    init_ckpt = None
    if init is not None:
        init_ckpt = Checkpoint.load(init)
        check_init(init_ckpt, model_cfg)
    return data, pav, load_split(data, "train", pav), init_ckpt


def _start_device(device: str, world: int, local_rank: int) -> torch.device:
    """The device; under torchrun, this rank's GPU and the process group (after every check passed)."""
    dev = resolve_device(device)
    if world > 1:
        import torch.distributed as dist

        if dev.type == "cuda":
            dev = torch.device("cuda", local_rank)
            torch.cuda.set_device(dev)
        # Every check above ran on every rank before this rendezvous, so no rank writes before all agree.
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dev


def _make_trainer(
    cfg: TrainConfig,
    model_cfg: ModelConfig,
    split: SplitArrays,
    dev: torch.device,
    world: int,
    init_ckpt: Checkpoint | None,
    ckpt: Checkpoint | None,
) -> _Trainer:
    """The seeded model (from ``--init`` weights, or the resumed state), optimiser, schedule and scaler."""
    torch.manual_seed(cfg.seed)
    model = build_model(model_cfg)
    if init_ckpt is not None:
        _load_init(model, init_ckpt)
    if world > 1 and dev.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(dev)
    optimizer, scheduler = make_optimizer(cfg, model.parameters())
    if ckpt is not None:
        restore_state(ckpt, model, optimizer, scheduler, cfg)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    weights = None
    if cfg.class_weights == "inverse-frequency":
        counts = [int((split.labels == i).sum()) for i in range(len(CLASS_ORDER))]
        weights = torch.tensor(inverse_frequency_weights(counts), dtype=torch.float32, device=dev)
    use_amp = cfg.amp and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    if ckpt is not None and ckpt.scaler_state is not None and use_amp:
        scaler.load_state_dict(ckpt.scaler_state)
    return _Trainer(model, net, optimizer, scheduler, scaler, dev, use_amp, weights)


def _start_logs(out: Path, cfg: TrainConfig, start: int):
    """Rank 0: the run directory, its ``train_config.json``, TensorBoard (or None) and metrics.csv kept
    up to ``start``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps(cfg.model_dump(mode="json"), indent=2, sort_keys=True))
    writer = _tensorboard(out / "tensorboard")
    _truncate_csv(out / "metrics.csv", start)
    return writer


def _train_step(
    t: _Trainer,
    cfg: TrainConfig,
    model_cfg: ModelConfig,
    batch: tuple[torch.Tensor, ...],
    it: int,
    out: Path,
    last_saved: Path | None,
) -> dict[str, float]:
    """One optimiser step on a batch; returns its CSV row. A non-finite loss stops before the step."""
    dev = t.dev
    x, labels, seq_index, pav_b = batch
    x, labels, seq_index = x.to(dev, non_blocking=True), labels.to(dev), seq_index.to(dev)
    pav_t = pav_b.to(dev) if model_cfg.use_pga else None
    with torch.autocast(dev.type, dtype=torch.float16, enabled=t.use_amp):
        outputs = t.net(x, pav=pav_t)
    ce = part_cross_entropy(
        outputs["logits"].float(),
        labels,
        scale=cfg.ce_scale,
        label_smoothing=cfg.label_smoothing,
        class_weights=t.class_weights,
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
        kept = f"the last good checkpoint is {last_saved}" if last_saved else "no checkpoint was written yet"
        raise TrainingDivergedError(
            f"the loss became {float(loss.detach())} at iteration {it + 1}; training stopped and {kept} "
            "(try a lower --lr)",
            out,
        )
    t.optimizer.zero_grad(set_to_none=True)
    t.scaler.scale(loss).backward()
    t.scaler.step(t.optimizer)
    t.scaler.update()
    lr = t.optimizer.param_groups[0]["lr"]
    t.scheduler.step()
    correct = (outputs["logits"].detach().mean(-1).argmax(-1) == labels).float().mean()
    stats = mean_over_ranks(torch.stack([ce.detach(), correct]))  # the whole batch's CE and accuracy
    return {
        "iteration": it + 1,
        "loss": float(stats[0] + trip_detached),
        "ce": float(stats[0]),
        "triplet": trip_val,
        "triplet_nonzero": nonzero,
        "accuracy": float(stats[1]),
        "lr": lr,
    }


def _checkpoint(
    t: _Trainer,
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
        "model_state": t.model.state_dict(),
        "optimizer_state": t.optimizer.state_dict(),
        "scheduler_state": t.scheduler.state_dict(),
        "scaler_state": t.scaler.state_dict(),
        "rng_state": rng_state(),
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
