"""Evaluation and prediction: upstream's rule, argmax of the mean cosine logits over the 16 parts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gaitmodels.checkpoint import load_checkpoint, load_weights
from gaitmodels.data import ManifestData, SplitArrays, eval_clip, load_split
from gaitmodels.guards import check_checkpoint_data, check_eval_pav
from gaitmodels.metrics import classification_report, save_confusion_png
from gaitmodels.models import ModelConfig, build_model
from gaitmodels.sampling import ALL_ORDERED_MAX_FRAMES
from gaitmodels.train import resolve_device
from gaitprep.errors import BadInputError
from gaitprep.ownership import check_output_path

SUBJECT_NOTE = (
    "Scoliosis1K splits are by sequence id; the same person can appear in train and test "
    "(no subject map is published)."
)


def load_model(ckpt: dict[str, Any], device: torch.device, path: object = "checkpoint") -> torch.nn.Module:
    model = build_model(ModelConfig(**ckpt["model_config"]))
    load_weights(model, ckpt["model_state"], path)
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


def evaluate(
    checkpoint: str | Path,
    manifest: str | Path,
    *,
    split: str = "test",
    pav_manifest: str | Path | None = None,
    device: str = "auto",
    out: str | Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Score a checkpoint on ``split`` of a manifest; writes metrics.json and confusion.png to ``out``
    (a folder of ours that evaluations write into again, but never a dataset, nor inside one)."""
    if out is not None:
        check_output_path(out, inputs=[manifest, pav_manifest], kind="folder")
    ckpt = load_checkpoint(checkpoint)
    data = ManifestData.open(manifest)
    check_checkpoint_data(ckpt, data, split)
    config = ModelConfig(**ckpt["model_config"])
    pav = _open_pav(config, pav_manifest, ckpt, data)
    dev = resolve_device(device)
    arrays = load_split(data, split, pav)
    logits = mean_logits(load_model(ckpt, dev, checkpoint), arrays, dev, quiet)
    pred = logits.argmax(1)
    report = classification_report(arrays.labels, pred, ckpt["class_order"])
    m = data.manifest
    report.update(
        {
            "checkpoint": str(checkpoint),
            "iteration": ckpt["iteration"],
            "model": config.name,
            "manifest": m.name,
            "manifest_digest": m.manifest_digest,
            "split": split,
            "partition": m.partition.name if m.partition else None,
            "partition_sha256": m.partition.sha256 if m.partition else None,
            "test_composition": {
                c: int((arrays.labels == i).sum()) for i, c in enumerate(ckpt["class_order"])
            },
            "selection_rule": ckpt.get("selection_rule"),
            "frames": _frame_counts(ckpt, arrays),
            "note": SUBJECT_NOTE,
        }
    )
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        save_confusion_png(
            np.array(report["confusion_matrix"]),
            ckpt["class_order"],
            out / "confusion.png",
            title=f"{config.name} on {m.name} ({split})",
        )
        report["outputs"] = {
            "metrics": str(out / "metrics.json"),
            "confusion_png": str(out / "confusion.png"),
        }
    return report


def _frame_counts(ckpt: dict[str, Any], arrays: SplitArrays) -> dict[str, Any]:
    """Training clip length against the evaluated lengths (all frames, first 720).

    The temporal max pools over every frame at test, so sequences much longer than the training clips
    give larger pooled features than the network ever saw (BN running statistics included); the
    numbers are recorded so that such a gap is visible next to the scores.
    """
    lengths = np.array([min(f.shape[0], ALL_ORDERED_MAX_FRAMES) for f in arrays.frames])
    return {
        "train_clip": int(ckpt["train_config"]["frames"]),
        "train_sampling": ckpt["train_config"]["sampling"],
        "eval_min": int(lengths.min()),
        "eval_median": float(np.median(lengths)),
        "eval_max": int(lengths.max()),
    }


def _open_pav(
    config: ModelConfig, pav_manifest: str | Path | None, ckpt: dict[str, Any], data: ManifestData
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
    device: str = "auto",
    split: str | None = None,
) -> list[dict[str, Any]]:
    """Class and probabilities (softmax of the scaled mean logits) per sequence of a dataset."""
    ckpt = load_checkpoint(checkpoint)
    data = ManifestData.open(manifest)
    config = ModelConfig(**ckpt["model_config"])
    check_checkpoint_data(ckpt, data, split, check_leak=False)
    pav = _open_pav(config, pav_manifest, ckpt, data)
    dev = resolve_device(device)
    arrays = load_split(data, split, pav)
    logits = mean_logits(load_model(ckpt, dev, checkpoint), arrays, dev)
    scale = float(ckpt["train_config"].get("ce_scale", 16.0))
    probs = torch.softmax(torch.from_numpy(scale * logits), dim=1).numpy()
    bad = [k for k, p in zip(arrays.keys, probs, strict=True) if not np.isfinite(p).all()]
    if bad:
        raise BadInputError(
            f"the model's output is not finite for {len(bad)} sequence(s), e.g. {bad[0]}", checkpoint
        )
    names = ckpt["class_order"]
    return [
        {
            "key": key,
            "prediction": names[int(p.argmax())],
            "probabilities": {n: round(float(v), 6) for n, v in zip(names, p, strict=True)},
        }
        for key, p in zip(arrays.keys, probs, strict=True)
    ]
