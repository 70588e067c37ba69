"""Evaluation and prediction: upstream's rule, argmax of the mean cosine logits over the 16 parts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gaitmodels.bootstrap import RESAMPLES, SEED, bootstrap_ci
from gaitmodels.calibration import reliability
from gaitmodels.charts import save_reliability_png, save_roc_png
from gaitmodels.checkpoint import Checkpoint, load_weights
from gaitmodels.choices import DEFAULT_DEVICE
from gaitmodels.data import ManifestData, SplitArrays, eval_clip, load_split
from gaitmodels.eval_folder import (
    EVALUATION_KIND,
    METRICS_NAME,
    check_target,
    default_name,
    publish,
    publish_new,
    staging,
)
from gaitmodels.guards import check_checkpoint_data, check_eval_pav
from gaitmodels.metrics import (
    classification_report,
    roc_points,
    save_confusion_png,
    screening_scores,
    screening_views,
)
from gaitmodels.models import ModelConfig, build_model
from gaitmodels.sampling import ALL_ORDERED_MAX_FRAMES
from gaitmodels.train import resolve_device
from gaitprep.errors import BadInputError
from gaitprep.io.atomic import atomic_write_json
from gaitprep.ownership import check_output_path
from gaitprep.progress import log
from gaitprep.subjects import load_subject_map, subject_overlap

SUBJECT_NOTE = (
    "Scoliosis1K splits are by sequence id; the same person can appear in train and test "
    "(no subject map is published)."
)


def load_model(ckpt: Checkpoint, device: torch.device) -> torch.nn.Module:
    model = build_model(ckpt.model_config)
    load_weights(model, ckpt.model_state, ckpt.path)
    return model.to(device).eval()


@torch.no_grad()
def mean_logits(
    model: torch.nn.Module, split: SplitArrays, device: torch.device, quiet: bool = True
) -> np.ndarray:
    """float64 (N, classes): each sequence's cosine logits averaged over parts (all frames, first 720)."""
    from gaitprep.progress import progress

    uses_pav = model.config.use_pga
    out = []
    for i in progress(range(len(split)), total=len(split), desc="evaluate", quiet=quiet):
        x = eval_clip(split.frames[i]).to(device)
        pav = torch.from_numpy(split.pav[i : i + 1]).to(device) if uses_pav else None
        logits = model(x, pav=pav)["logits"]
        out.append(logits.float().mean(-1).cpu().numpy()[0])
    return np.stack(out).astype(np.float64)


SPLIT_LABELS = {"test": "test data", "train": "training data"}
PROBABILITY_DECIMALS = 6  # what ``predict`` prints; evaluation scores the same numbers


def probabilities(logits: np.ndarray, ckpt: Checkpoint) -> np.ndarray:
    """float64 (N, classes): softmax of the CE-scaled mean logits, rounded as ``predict`` prints them."""
    scale = float(ckpt.train_config.get("ce_scale", 16.0))
    probs = torch.softmax(torch.from_numpy(scale * logits), dim=1).numpy()
    return np.round(probs, PROBABILITY_DECIMALS)


def evaluate(
    checkpoint: str | Path,
    manifest: str | Path,
    *,
    split: str = "test",
    pav_manifest: str | Path | None = None,
    device: str = DEFAULT_DEVICE,
    out: str | Path | None = None,
    run_dir: str | Path | None = None,
    force: bool = False,
    subjects: str | Path | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    quiet: bool = False,
) -> dict[str, Any]:
    """Score a checkpoint on ``split`` of a manifest (``"train"`` is allowed and labelled training data).

    Writes metrics.json, confusion.png, reliability.png, roc.png and predictions.json to ``out`` (refused
    when it holds an earlier evaluation, unless ``force``), or, with ``run_dir``, to a new folder there
    named by dataset, split and iteration (:mod:`gaitmodels.eval_folder`). Neither may be a dataset, lie
    inside one or touch an input (:func:`gaitprep.ownership.check_output_path`). ``subjects``: a CSV
    mapping sequence ids to subjects; training and evaluated sequences that share a subject are warned
    about.
    """
    ckpt = Checkpoint.load(checkpoint)  # a bad checkpoint is the first thing to say (it is read, never run)
    for where in (out, run_dir):
        if where is not None:
            check_output_path(where, inputs=[manifest, pav_manifest], kind="folder")
    data = ManifestData.open(manifest)
    if out is not None:
        check_target(Path(out), force)
    check_checkpoint_data(ckpt, data, split, check_leak=split != "train")
    config = ckpt.model_config
    pav = _open_pav(config, pav_manifest, ckpt, data)
    subject_map = load_subject_map(subjects) if subjects is not None else None
    dev = resolve_device(device)
    arrays = load_split(data, split, pav)
    logits = mean_logits(load_model(ckpt, dev), arrays, dev, quiet)
    probs = probabilities(logits, ckpt)
    pred = logits.argmax(1)  # upstream's rule, on the unrounded logits
    names = list(ckpt.class_order)
    report = classification_report(arrays.labels, pred, names, probs)
    m = data.manifest
    label = SPLIT_LABELS.get(split, split)
    report.update(reliability(arrays.labels, probs, y_pred=pred))
    report["screening"] = screening_views(arrays.labels, probs, names, y_pred=pred)
    report["ci95"] = bootstrap_ci(arrays.labels, probs, pred=pred, resamples=resamples, seed=seed)
    report.update(
        {
            "kind": EVALUATION_KIND,
            "checkpoint": str(checkpoint),
            "iteration": ckpt.iteration,
            "model": config.name,
            "model_config": ckpt.raw["model_config"],
            "train_config": ckpt.train_config,
            "trained_on": {
                k: ckpt.data.get(k)
                for k in ("name", "manifest_digest", "partition", "pav_manifest_digest")
            },
            "manifest": m.name,
            "manifest_path": str(data.root.resolve()),
            "manifest_digest": m.manifest_digest,
            "pav_manifest_path": str(Path(pav_manifest).resolve()) if pav_manifest is not None else None,
            "split": split,
            "split_label": label,
            "partition": m.partition.name if m.partition else None,
            "partition_sha256": m.partition.sha256 if m.partition else None,
            "test_composition": {c: int((arrays.labels == i).sum()) for i, c in enumerate(names)},
            "selection_rule": ckpt.raw.get("selection_rule"),
            "frames": _frame_counts(ckpt, arrays),
            "scores": "softmax of the CE-scaled mean logits, 6 decimals (as predict prints)",
            "note": SUBJECT_NOTE,
        }
    )
    if subject_map is not None and ckpt.data.get("train_ids") is None:
        report["subject_overlap"] = None  # imported: the training data is not recorded
        log("warning: the checkpoint records no training data, so shared subjects cannot be checked")
    elif subject_map is not None:
        report["subject_overlap"] = subject_overlap(ckpt.data["train_ids"], arrays.ids, subject_map)
        if split != "train" and report["subject_overlap"]["shared_subjects"]:
            overlap = report["subject_overlap"]
            log(
                f"warning: {len(overlap['shared_subjects'])} subject(s) appear in both the training data and "
                f"the {label} (e.g. {overlap['shared_subjects'][0]}); the scores are optimistic",
            )
    if out is not None or run_dir is not None:
        report["outputs"] = _write_outputs(report, arrays, probs, pred, out, run_dir, force, title=(
            f"{config.name} on {m.name} ({label}, iteration {ckpt.iteration})"
        ))  # fmt: skip
    return report


def _write_outputs(
    report: dict[str, Any],
    arrays: SplitArrays,
    probs: np.ndarray,
    pred: np.ndarray,
    out: str | Path | None,
    run_dir: str | Path | None,
    force: bool,
    title: str,
) -> dict[str, str]:
    """Write every file into a staging folder, then publish it (see :mod:`gaitmodels.eval_folder`)."""
    parent = Path(out).parent if out is not None else Path(run_dir)
    stage = staging(parent)
    try:
        names = report["class_names"]
        save_confusion_png(np.array(report["confusion_matrix"]), names, stage / "confusion.png", title=title)
        save_reliability_png(
            report["reliability"], report["ece"], report["bins"], stage / "reliability.png", title=title
        )
        curves = {}
        for key, (truth, score) in screening_scores(arrays.labels, probs, names).items():
            view = report["screening"][key]
            points = roc_points(truth, score)
            if points is None:
                continue
            operating = (1 - view["specificity"] / 100.0, view["sensitivity"] / 100.0)
            curves[view["description"]] = (*points, operating, view["auc"])
        save_roc_png(curves, stage / "roc.png", title=title)
        predictions = {
            "class_names": names,
            "sequences": [
                {
                    "key": k,
                    "truth": names[int(t)],
                    "prediction": names[int(d)],
                    "probabilities": [float(v) for v in p],
                }
                for k, t, d, p in zip(arrays.keys, arrays.labels, pred, probs, strict=True)
            ],
        }
        atomic_write_json(stage / "predictions.json", predictions, indent=None)
        files = ("metrics.json", "confusion.png", "reliability.png", "roc.png", "predictions.json")
        atomic_write_json(stage / METRICS_NAME, report)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if out is not None:
        folder = Path(out)
        publish(stage, folder, force)
    else:
        name = default_name(report["manifest"], report["split"], int(report["iteration"]))
        folder = publish_new(stage, Path(run_dir), name)
    return {"folder": str(folder), **{f.split(".")[0]: str(folder / f) for f in files}}


def _frame_counts(ckpt: Checkpoint, arrays: SplitArrays) -> dict[str, Any]:
    """Training clip length against the evaluated lengths (all frames, first 720).

    The temporal max pools over every frame at test, so sequences much longer than the training clips
    give larger pooled features than the network ever saw (BN running statistics included); the
    numbers are recorded so that such a gap is visible next to the scores.
    """
    lengths = np.array([min(f.shape[0], ALL_ORDERED_MAX_FRAMES) for f in arrays.frames])
    return {
        "train_clip": int(ckpt.train_config["frames"]),
        "train_sampling": ckpt.train_config["sampling"],
        "eval_min": int(lengths.min()),
        "eval_median": float(np.median(lengths)),
        "eval_max": int(lengths.max()),
    }


def _open_pav(
    config: ModelConfig, pav_manifest: str | Path | None, ckpt: Checkpoint, data: ManifestData
) -> ManifestData | None:
    """The PAV dataset for a DRF checkpoint, refused unless normalised exactly as in training."""
    pav = ManifestData.open(pav_manifest) if pav_manifest is not None else None
    check_eval_pav(ckpt, data, pav)
    return pav


def predict(
    checkpoint: str | Path,
    manifest: str | Path,
    *,
    pav_manifest: str | Path | None = None,
    device: str = DEFAULT_DEVICE,
    split: str | None = None,
) -> list[dict[str, Any]]:
    """Class and probabilities (softmax of the scaled mean logits) per sequence of a dataset."""
    ckpt = Checkpoint.load(checkpoint)
    data = ManifestData.open(manifest)
    config = ckpt.model_config
    check_checkpoint_data(ckpt, data, split, check_leak=False)
    pav = _open_pav(config, pav_manifest, ckpt, data)
    dev = resolve_device(device)
    arrays = load_split(data, split, pav)
    logits = mean_logits(load_model(ckpt, dev), arrays, dev)
    probs = probabilities(logits, ckpt)
    bad = [k for k, p in zip(arrays.keys, probs, strict=True) if not np.isfinite(p).all()]
    if bad:
        raise BadInputError(
            f"the model's output is not finite for {len(bad)} sequence(s), e.g. {bad[0]}", checkpoint
        )
    names = list(ckpt.class_order)
    return [
        {
            "key": key,
            "prediction": names[int(p.argmax())],
            "probabilities": {n: float(v) for n, v in zip(names, p, strict=True)},
        }
        for key, p in zip(arrays.keys, probs, strict=True)
    ]
