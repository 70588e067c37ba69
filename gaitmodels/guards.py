"""Refuse model/data mismatches with one sentence each (domain reference §9).

Every check raises gaitprep.errors.MismatchError (exit 1) naming what disagrees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gaitmodels.data import ManifestData
from gaitmodels.models import ModelConfig
from gaitprep.errors import MismatchError
from gaitprep.progress import log
from gaitprep.skeleton import CLASS_INDEX

if TYPE_CHECKING:
    from gaitmodels.checkpoint import Checkpoint

EXPECTED_CHANNELS = {
    "silhouette": ("silhouette",),
    "skeleton_map": ("limb", "joint"),
    "stacked": ("silhouette", "limb", "joint"),
}


def _describe(data: ManifestData) -> str:
    m = data.manifest
    return f"{data.channels}-channel {m.modality} data [{', '.join(data.channel_names)}] ({m.name})"


def check_model_data(config: ModelConfig, data: ManifestData) -> None:
    """Modality, channel count and order, class order, and a partition to split on."""
    m = data.manifest
    if m.modality != config.modality or data.channels != config.in_channels:
        raise MismatchError(
            f"model {config.name} expects {config.in_channels}-channel {config.modality} input, "
            f"but the manifest holds {_describe(data)}"
        )
    expected = EXPECTED_CHANNELS.get(m.modality)
    if expected and tuple(data.channel_names) != expected:
        raise MismatchError(
            f"model {config.name} expects channels [{', '.join(expected)}] in that order, "
            f"but the manifest declares [{', '.join(data.channel_names)}]"
        )
    check_class_order(dict(m.class_order), tuple(config.class_order), m.name)
    if m.partition is None:
        raise MismatchError(f"dataset {m.name} carries no partition, so there is no train/test split to use")


def check_class_order(data_order: dict[str, int], model_order: tuple[str, ...], what: str) -> None:
    model_map = {name: i for i, name in enumerate(model_order)}
    if data_order != model_map or data_order != CLASS_INDEX:
        raise MismatchError(
            f"class order differs: {what} uses {data_order}, the model uses {model_map}; "
            "permute the logits or rebuild with the canonical order negative=0, neutral=1, positive=2"
        )


def check_pav(config: ModelConfig, maps: ManifestData, pav: ManifestData | None) -> None:
    """DRF needs a PAV dataset fitted on the TRAIN ids of the same partition, from the same sources."""
    if not config.use_pga:
        if pav is not None:
            raise MismatchError(f"model {config.name} takes no PAV; drop --pav-manifest or use --model drf")
        return
    if pav is None:
        raise MismatchError("model drf needs PAV input: pass --pav-manifest (a gaitprep pav dataset)")
    pm, mm = pav.manifest, maps.manifest
    if pm.modality != "pav":
        raise MismatchError(f"--pav-manifest holds {pm.modality} data, not pav")
    fit = pm.fitted.get("fit_on")
    if fit != "train":
        raise MismatchError(
            f"the PAV normaliser of {pm.name} was fitted on {fit!r} ids, not on TRAIN ids only"
        )
    if pm.partition is None or mm.partition is None or pm.partition.sha256 != mm.partition.sha256:
        raise MismatchError(
            f"the PAV was fitted on partition {_partition_label(pm)} "
            f"but the maps use partition {_partition_label(mm)}"
        )
    if pm.fitted.get("partition_sha256") != mm.partition.sha256:
        raise MismatchError("the PAV normaliser's recorded partition hash differs from the maps' partition")
    if pm.source.digest != mm.source.digest:
        raise MismatchError(
            f"the PAV ({pm.name}) and the maps ({mm.name}) were derived from different sources"
        )
    missing = set(mm.record_by_key()) - set(pm.record_by_key())
    if missing:
        raise MismatchError(
            f"the PAV dataset lacks {len(missing)} sequences of the maps, e.g. {sorted(missing)[0]}"
        )


def _partition_label(m) -> str:
    """A partition's name and hash prefix (two files can share a name, e.g. Scoliosis1K_118.json)."""
    return f"{m.partition.name} (sha256 {m.partition.sha256[:12]})" if m.partition else "none"


def check_eval_pav(ckpt: Checkpoint, maps: ManifestData, pav: ManifestData | None) -> None:
    """Evaluation/prediction of a DRF checkpoint: the PAV must be normalised exactly as in training."""
    config = ckpt.model_config
    if not config.use_pga:
        if pav is not None:
            raise MismatchError(
                f"the checkpoint is a {config.name} model, which takes no PAV; drop --pav-manifest"
            )
        return
    if pav is None:
        raise MismatchError(
            "this is a DRF checkpoint: pass --pav-manifest (the PAV dataset it was trained with)"
        )
    pm = pav.manifest
    if pm.modality != "pav":
        raise MismatchError(f"--pav-manifest holds {pm.modality} data, not pav")
    if ckpt.data.get("train_ids") is None:  # imported: its PAV normaliser is unknown
        log("warning: the checkpoint records no PAV normaliser (imported), so the PAV's fit cannot be checked")
        trained = {}
    else:
        trained = ckpt.data.get("pav_fitted") or {"partition_sha256": ckpt.data.get("partition_sha256")}
    for key, value in trained.items():
        if pm.fitted.get(key) != value:
            raise MismatchError(
                f"the PAV normaliser of {pm.name} differs from the one the checkpoint was trained with "
                f"({key} differs); use the PAV dataset fitted on the training partition"
            )
    if pm.source.digest != maps.manifest.source.digest:
        raise MismatchError(
            f"the PAV ({pm.name}) and the maps ({maps.manifest.name}) were derived from different sources"
        )


def check_checkpoint_data(
    ckpt: Checkpoint, data: ManifestData, split: str | None, *, check_leak: bool = True
) -> None:
    """Evaluation: same modality/channels/class order as training, and no training ids in the split.

    ``check_leak=False`` (prediction, which scores nothing) skips the training-id check.
    """
    config = ckpt.model_config
    m = data.manifest
    if m.modality != ckpt.data["modality"] or data.channels != config.in_channels:
        raise MismatchError(
            f"the checkpoint was trained on {config.in_channels}-channel {ckpt.data['modality']} data, "
            f"but the manifest holds {_describe(data)}"
        )
    if tuple(data.channel_names) != tuple(ckpt.data["channels"]):
        raise MismatchError(
            f"channel order differs: checkpoint [{', '.join(ckpt.data['channels'])}], "
            f"data [{', '.join(data.channel_names)}]"
        )
    check_class_order(dict(m.class_order), ckpt.class_order, m.name)
    if not check_leak:
        return
    if ckpt.data.get("train_ids") is None:  # imported (gaitmodels import-opengait): data unknown
        log(
            "warning: the checkpoint records no training data (imported from OpenGait), so train/test "
            "overlap cannot be checked; make sure it was not trained on these ids"
        )
        return
    trained = set(ckpt.data["train_ids"])
    leaked = sorted({r.id for r in m.split_records(split)} & trained)
    if leaked:
        raise MismatchError(
            f"{len(leaked)} evaluation sequences were in the checkpoint's training set (e.g. {leaked[0]}); "
            "evaluate on held-out ids"
        )


def check_init(ckpt: Checkpoint, config: ModelConfig) -> None:
    """``--init`` must come from a checkpoint of the same modality and input channels."""
    other = ckpt.model_config
    if other.modality != config.modality or other.in_channels != config.in_channels:
        raise MismatchError(
            f"--init checkpoint is a {other.in_channels}-channel {other.modality} model ({other.name}); "
            f"cannot initialise a {config.in_channels}-channel {config.modality} model ({config.name})"
        )
    if tuple(other.class_order) != tuple(config.class_order):
        raise MismatchError(
            f"class order differs: the --init checkpoint uses {list(other.class_order)}, "
            f"the model {list(config.class_order)}"
        )
    if other.widths != config.widths:
        raise MismatchError(
            f"--init checkpoint has backbone widths {other.widths}, the model {config.widths}"
        )
    if (other.embed_dim, other.parts) != (config.embed_dim, config.parts):
        raise MismatchError(
            f"--init checkpoint has {other.parts} parts of {other.embed_dim}-d embeddings, "
            f"the model {config.parts} of {config.embed_dim}-d"
        )
