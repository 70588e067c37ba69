"""``import-opengait``: an OpenGait ScoNet / DRF checkpoint in, a gaitmodels run directory out.

OpenGait's ``BaseModel.save_ckpt`` writes ``{'model': state_dict, 'optimizer', 'scheduler', 'iteration'}``.
Only the ``model`` tensors and the iteration are read, with ``torch.load(weights_only=True)`` (data, never
code). The architecture comes from tensor shapes (:func:`gaitmodels.opengait.names.infer_architecture`):
the first convolution's input channels give the modality (1 silhouette, 2 skeleton map [limb, joint],
3 stacked [silhouette, limb, joint]); that is the check that catches a "ScoNet" checkpoint which is really a
silhouette model being scored on skeleton maps.

The run directory holds ``checkpoints/last.pt`` (a gaitmodels checkpoint whose ``opengait`` entry records
the provenance: source sha256, iteration, config, declared class order) and ``opengait_import.json`` (the
same, for people). Its ``data`` entry names no training data (``train_ids`` is None), so ``evaluate`` checks
modality, channels and class order but warns that train/test overlap cannot be checked. The logit rows are
permuted into our class order (negative, neutral, positive) at import, so the run evaluates like our own.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from gaitmodels.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
from gaitmodels.models import ModelConfig, build_model
from gaitmodels.opengait.names import (
    Architecture,
    infer_architecture,
    strip_ddp_prefix,
    to_gaitmodels_state_dict,
)
from gaitmodels.opengait.staging import write_new_folder
from gaitprep.errors import BadInputError, MismatchError
from gaitprep.ownership import check_output_path
from gaitprep.skeleton import CLASS_ORDER

CHANNELS_BY_MODALITY = {
    "silhouette": ["silhouette"],
    "skeleton_map": ["limb", "joint"],
    "stacked": ["silhouette", "limb", "joint"],
}
PROVENANCE_FILE = "opengait_import.json"
# Upstream's ScoNet recipe (configs/sconet/sconet_scoliosis1k.yaml), used when no --config is given.
UPSTREAM_RECIPE = {"frames": 30, "sampling": "fixed_unordered", "ce_scale": 16.0}
OPENGAIT_MODELS = {"ScoNet", "DRF"}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_opengait_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], int | None]:
    """The ``model`` state dict (``module.`` stripped) and iteration of an OpenGait checkpoint file.

    A bare state dict (a file holding only the tensors) is accepted too; its iteration is None.
    """
    state, iteration, _ = _read(path)
    return state, iteration


def _read(path: str | Path) -> tuple[dict[str, torch.Tensor], int | None, tuple[str, ...] | None]:
    """State dict, iteration and the class order the file itself records (``export-opengait`` writes one)."""
    path = Path(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BadInputError("checkpoint not found", path) from None
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        first = next(iter(str(exc).splitlines()), "")
        raise BadInputError(f"not a readable checkpoint ({type(exc).__name__}: {first})", path) from None
    if not isinstance(raw, dict):
        raise BadInputError(f"not an OpenGait checkpoint: it holds a {type(raw).__name__}, not a dict", path)
    if raw.get("format") == CHECKPOINT_FORMAT:
        raise BadInputError("this is already a gaitmodels checkpoint; use it directly", path)
    state = raw.get("model", raw)
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(v, torch.Tensor) for v in state.values())
    ):
        raise BadInputError("not an OpenGait checkpoint: no 'model' state dict of tensors", path)
    iteration = raw.get("iteration") if "model" in raw else None
    if iteration is not None and (not isinstance(iteration, int) or isinstance(iteration, bool)):
        raise BadInputError(f"the checkpoint's iteration is {iteration!r}, not an integer", path)
    recorded = raw.get("class_order") if "model" in raw else None
    if recorded is not None:
        recorded = parse_class_order(recorded) if isinstance(recorded, list | tuple) else recorded
        if not isinstance(recorded, tuple):
            raise BadInputError(f"the checkpoint's class_order is {recorded!r}, not a list of names", path)
    return strip_ddp_prefix(state), iteration, recorded


def read_config(path: str | Path) -> dict[str, Any]:
    """An OpenGait YAML config as plain JSON-able data (safe_load: no Python objects)."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError("config not found", path) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BadInputError(f"not a readable YAML config ({' '.join(str(exc).split())})", path) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("model_cfg"), dict):
        raise BadInputError("not an OpenGait config: it has no model_cfg mapping", path)
    return json.loads(json.dumps(doc, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return str(value)


def parse_class_order(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"negative,positive,neutral"`` -> a permutation of our three class names (case-folded)."""
    names = text.split(",") if isinstance(text, str) else list(text)
    order = tuple(n.strip().casefold() for n in names)
    if sorted(order) != sorted(CLASS_ORDER):
        raise BadInputError(
            f"--class-order must name {', '.join(CLASS_ORDER)} once each, in the checkpoint's logit order; "
            f"got {','.join(order)}"
        )
    return order


def _get(cfg: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    node: Any = cfg
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def _check_config(arch: Architecture, config: Mapping[str, Any], path: object) -> str:
    """Cross-check the config's model_cfg against the tensor shapes; return the OpenGait model name."""
    mcfg = config["model_cfg"]
    name = mcfg.get("model")
    if name not in OPENGAIT_MODELS:
        raise BadInputError(f"model_cfg.model is {name!r}; only ScoNet and DRF can be imported", path)
    declared = {
        "backbone_cfg.in_channel": (_get(mcfg, "backbone_cfg", "in_channel", default=1), arch.in_channels),
        "backbone_cfg.channels": (_get(mcfg, "backbone_cfg", "channels"), list(arch.widths)),
        "SeparateFCs.out_channels": (_get(mcfg, "SeparateFCs", "out_channels"), arch.embed_dim),
        "SeparateFCs.parts_num": (_get(mcfg, "SeparateFCs", "parts_num"), arch.parts),
        "SeparateBNNecks.class_num": (_get(mcfg, "SeparateBNNecks", "class_num"), arch.num_classes),
    }
    for key, (said, found) in declared.items():
        if said is not None and said != found:
            raise MismatchError(
                f"{path}: model_cfg.{key} is {said}, but the checkpoint's weights have {found}"
            )
    return name


def resolve_model(
    arch: Architecture, config: Mapping[str, Any] | None, model: str | None, path: object
) -> str:
    """Our model name: ``--model`` when given, else from the config, else from the keys; all must agree."""
    has_pga = arch.pga_prefix is not None
    if config is not None:
        og = _check_config(arch, config, path)
        use_pga = og == "DRF" and bool(config["model_cfg"].get("use_pga", True))
        if use_pga != has_pga:
            raise MismatchError(
                f"{path}: the config describes {og}{'' if use_pga else ' without PAV gates'}, but the weights "
                f"{'hold' if has_pga else 'have no'} PAV-guided attention (PGA/attention_layer) tensors"
            )
    implied = "drf" if has_pga else ("sconet-mt" if arch.in_channels == 1 else "sconet-mt-ske")
    if config is not None and arch.in_channels == 1 and not has_pga:
        losses = [term.get("type") for term in config.get("loss_cfg") or [] if isinstance(term, Mapping)]
        if losses and "TripletLoss" not in losses:
            implied = "sconet"  # the paper's single-task ScoNet: CE only
    if model is None:
        return implied
    if (model == "drf") != has_pga:
        raise MismatchError(
            f"{path}: --model {model} does not fit the weights, which "
            f"{'hold' if has_pga else 'have no'} PAV-guided attention (PGA/attention_layer) tensors"
        )
    if (model in ("sconet", "sconet-mt")) != (arch.in_channels == 1):
        raise MismatchError(
            f"{path}: --model {model} does not fit the weights: the first convolution takes "
            f"{arch.in_channels} channel(s) ({arch.modality})"
        )
    return model


def _recipe(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The training facts evaluation reports (clip length, frame sampling, CE scale), from the config."""
    if config is None:
        return {**UPSTREAM_RECIPE, "from": "upstream defaults (configs/sconet/sconet_scoliosis1k.yaml)"}
    ce = [
        t
        for t in config.get("loss_cfg") or []
        if isinstance(t, Mapping) and t.get("type") == "CrossEntropyLoss"
    ]
    return {
        "frames": int(_get(config, "trainer_cfg", "sampler", "frames_num_fixed", default=30)),
        "sampling": str(_get(config, "trainer_cfg", "sampler", "sample_type", default="fixed_unordered")),
        "ce_scale": float(ce[0].get("scale", 16.0)) if ce else 16.0,
        "from": "config",
    }


def import_opengait(
    checkpoint: str | Path,
    out: str | Path,
    *,
    config: str | Path | None = None,
    class_order: str | Sequence[str] | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Convert an OpenGait checkpoint into the run directory ``out``; returns a summary dict.

    Raises BadInputError / MismatchError (one sentence) on an unreadable file, unknown tensors, a
    config or ``model`` that contradicts the weights, a DRF checkpoint without a declared class order,
    or an ``out`` that already holds files.
    """
    checkpoint, out = Path(checkpoint), Path(out)
    check_output_path(out, inputs=[checkpoint, config], kind="folder")
    state, iteration, recorded = _read(checkpoint)
    arch = infer_architecture(state, checkpoint)
    cfg_doc = read_config(config) if config is not None else None
    name = resolve_model(arch, cfg_doc, model, checkpoint)
    if arch.num_classes != len(CLASS_ORDER):
        raise BadInputError(
            f"the classifier has {arch.num_classes} classes; Scoliosis1K models have 3", checkpoint
        )
    declared, origin = _declared_order(class_order, recorded, name, checkpoint)
    model_cfg = ModelConfig(
        name=name,
        in_channels=arch.in_channels,
        parts=arch.parts,
        widths=arch.widths,
        embed_dim=arch.embed_dim,
        **({"pav_pairs": arch.pav_pairs, "pav_metrics": arch.pav_metrics} if arch.pga_prefix else {}),
    )
    net = build_model(model_cfg)
    ours = to_gaitmodels_state_dict(state)
    _check_fit(net, ours, name, checkpoint)
    net.load_state_dict(ours, strict=True)
    # Logit row i is class declared[i]; reorder the classifier columns into ours.
    perm = [declared.index(c) for c in CLASS_ORDER]
    model_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    model_state["bnnecks.fc_bin"] = model_state["bnnecks.fc_bin"][:, :, perm].contiguous()
    provenance = {
        "source": str(checkpoint),
        "source_sha256": sha256_file(checkpoint),
        "iteration": iteration,
        "config": cfg_doc,
        "config_file": str(config) if config is not None else None,
        "config_sha256": sha256_file(Path(config)) if config is not None else None,
        "declared_class_order": list(declared),
        "class_order_from": origin,
        "logit_permutation": perm,
        "pga_prefix": arch.pga_prefix,
        "modality": arch.modality,
        "in_channels": arch.in_channels,
    }
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "model_config": model_cfg.model_dump(mode="json"),
        "class_order": list(model_cfg.class_order),
        "iteration": iteration if iteration is not None else 0,
        "model_state": model_state,
        # Not a TrainConfig: only the recipe facts evaluation and prediction report.
        "train_config": _recipe(cfg_doc),
        "selection_rule": "chosen in OpenGait before import (unknown to gaitmodels)",
        "data": {
            "modality": arch.modality,
            "channels": CHANNELS_BY_MODALITY[arch.modality],
            "manifest_digest": None,
            "content_digest": None,
            "name": None,
            "partition": None,
            "partition_sha256": None,
            "train_ids": None,  # unknown: evaluation cannot check train/test overlap
            "pav_manifest_digest": None,
            "pav_fitted": None,
        },
        "opengait": provenance,
    }
    _write_run(out, ckpt, provenance)
    return {
        "run": str(out),
        "checkpoint": str(out / "checkpoints" / "last.pt"),
        "model": name,
        "modality": arch.modality,
        "in_channels": arch.in_channels,
        "widths": list(arch.widths),
        "embed_dim": arch.embed_dim,
        "iteration": iteration,
        "declared_class_order": list(declared),
        "source_sha256": provenance["source_sha256"],
    }


def _declared_order(
    class_order: str | Sequence[str] | None, recorded: tuple[str, ...] | None, name: str, checkpoint: Path
) -> tuple[tuple[str, ...], str]:
    """The logit order of the imported weights and where it came from: ``--class-order``, the order the
    checkpoint records (written by export-opengait; the two must agree), else upstream ScoNet's. A DRF
    checkpoint must declare one (the author bundle and upstream code differ)."""
    if class_order is not None and recorded is not None and parse_class_order(class_order) != recorded:
        raise MismatchError(
            f"{checkpoint}: --class-order {class_order} contradicts the order the checkpoint records "
            f"({','.join(recorded)})"
        )
    if class_order is None and recorded is not None:
        class_order, origin = recorded, "recorded in the checkpoint (gaitmodels export-opengait)"
    else:
        origin = "--class-order" if class_order is not None else "default (upstream ScoNet)"
    if class_order is None and name == "drf":
        raise BadInputError(
            "declare the DRF checkpoint's class order with --class-order: the author bundle uses "
            "negative,positive,neutral, current upstream code negative,neutral,positive",
            checkpoint,
        )
    declared = parse_class_order(class_order) if class_order is not None else CLASS_ORDER
    return declared, origin


def _check_fit(net: torch.nn.Module, ours: Mapping[str, torch.Tensor], name: str, path: object) -> None:
    """Every tensor the network needs, no other, each of the needed shape (else one sentence)."""
    needed = net.state_dict()
    unknown = [k for k in ours if k not in needed]
    missing = [k for k in needed if k not in ours]
    if unknown or missing:
        what = f"unknown tensor {unknown[0]}" if unknown else f"missing tensor {missing[0]}"
        raise BadInputError(f"the weights do not fit {name} ({what})", path)
    for key, value in needed.items():
        if (
            tuple(ours[key].shape) != tuple(value.shape)
            or ours[key].dtype.is_floating_point != value.dtype.is_floating_point
        ):
            raise BadInputError(
                f"tensor {key} is {ours[key].dtype} {tuple(ours[key].shape)}, the inferred network needs "
                f"{value.dtype} {tuple(value.shape)}",
                path,
            )


def _write_run(out: Path, ckpt: dict[str, Any], provenance: dict[str, Any]) -> None:
    """The run directory: ``checkpoints/last.pt`` and the provenance as JSON, written atomically."""

    def fill(staging: Path) -> None:
        save_checkpoint(ckpt, staging / "checkpoints" / "last.pt")
        record = {k: v for k, v in provenance.items() if k != "config"}
        (staging / PROVENANCE_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")

    write_new_folder(out, fill)
