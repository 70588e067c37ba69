"""``export-opengait``: a gaitmodels run out as an OpenGait checkpoint plus a YAML config.

The output folder holds

    DIR/<save_name>.yaml                         model_cfg, data_cfg, loss/optimizer/scheduler/trainer/evaluator
    DIR/checkpoints/<save_name>-<iter:05d>.pt    {'model', 'optimizer': {}, 'scheduler': {}, 'iteration',
                                                  'class_order'}
    DIR/<partition>.json                         the TRAIN_SET/TEST_SET file (with ``dataset``)

The checkpoint's ``model`` uses upstream's parameter names (``Backbone.forward_block.*``, ``FCs``,
``BNNecks``; DRF's gates as UMGRL's ``PGA.*``) and upstream's class order (negative 0, neutral 1, positive
2), so OpenGait's ``ScoNet`` (or UMGRL's ``DRF``) loads it with ``restore_ckpt_strict: true``. The optimizer
and scheduler are not exported (``optimizer_reset``/``scheduler_reset`` are set), so training continues in
OpenGait from these weights with a fresh optimizer. ``gaitmodels import-opengait`` reads the file back to
the same weights, hence the same predictions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from gaitmodels.checkpoint import Checkpoint, save_checkpoint
from gaitmodels.data import ManifestData
from gaitmodels.guards import check_model_data
from gaitmodels.models import ModelConfig
from gaitmodels.opengait.names import to_opengait_state_dict
from gaitmodels.opengait.staging import write_new_folder
from gaitmodels.train import TrainConfig
from gaitprep.errors import BadInputError
from gaitprep.ownership import check_output_path
from gaitprep.progress import log
from gaitprep.skeleton import CLASS_ORDER

PLACEHOLDER_ROOT = "REPLACE_WITH_a_gaitprep_dataset_built_with_--format_pkl"
PLACEHOLDER_PARTITION = "REPLACE_WITH_the_partition_json (gaitprep export DATASET --to opengait-partition F)"


def save_name_for(run: Path, config: ModelConfig) -> str:
    """OpenGait's ``save_name``: the run folder's name (letters, digits, ``._-``), else the model's."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", run.name).strip("._") if run.is_dir() else ""
    return name or ("DRF" if config.use_pga else "ScoNet")


def opengait_state(ckpt: Checkpoint) -> dict[str, torch.Tensor]:
    """The run's weights with upstream names and upstream's class order for the logit rows."""
    order = ckpt.class_order
    state = dict(ckpt.model_state)
    if order != CLASS_ORDER:
        perm = [order.index(c) for c in CLASS_ORDER]
        state["bnnecks.fc_bin"] = state["bnnecks.fc_bin"][:, :, perm].contiguous()
    return to_opengait_state_dict(state)


def model_cfg(config: ModelConfig) -> dict[str, Any]:
    """OpenGait's ``model_cfg`` for this network (upstream ScoNet's, or UMGRL's DRF)."""
    cfg: dict[str, Any] = {
        "model": "DRF" if config.use_pga else "ScoNet",
        "backbone_cfg": {
            "type": "ResNet9",
            "block": "BasicBlock",
            "in_channel": config.in_channels,
            "channels": list(config.widths),
            "layers": [1, 1, 1, 1],
            "strides": [1, 2, 2, 1],
            "maxpool": False,
        },
        "SeparateFCs": {
            "in_channels": config.widths[-1],
            "out_channels": config.embed_dim,
            "parts_num": config.parts,
        },
        "SeparateBNNecks": {
            "class_num": config.num_classes,
            "in_channels": config.embed_dim,
            "parts_num": config.parts,
        },
        "bin_num": [config.parts],
    }
    if config.use_pga:
        cfg.update({"pav_pair_num": config.pav_pairs, "pav_metric_num": config.pav_metrics})
    return cfg


def _recipe(train_config: dict[str, Any]) -> dict[str, Any]:
    """loss_cfg, optimizer_cfg, scheduler_cfg and the trainer's sampler from the run's training config."""
    if "model" in train_config:  # a run trained here
        tc = TrainConfig(**train_config)
        p, k, frames, sampling = tc.batch_p, tc.batch_k, tc.frames, tc.sampling
        margin, scale, smoothing = tc.triplet_margin, tc.ce_scale, tc.label_smoothing
        lr, wd = tc.resolved_lr(), tc.resolved_weight_decay()
        if tc.recipe == "sgd-multistep":
            optimizer = {"solver": "SGD", "lr": lr, "momentum": 0.9, "weight_decay": wd}
            scheduler = {"scheduler": "MultiStepLR", "milestones": tc.milestones(), "gamma": 0.1}
        else:
            optimizer = {"solver": "AdamW", "lr": lr, "weight_decay": wd}
            scheduler = {"scheduler": "CosineAnnealingLR", "T_max": tc.iterations}
        triplet = tc.model != "sconet"
        total = tc.iterations
    else:  # an imported OpenGait run: upstream's recipe
        p, k = 8, 8
        frames, sampling = (
            int(train_config.get("frames", 30)),
            train_config.get("sampling", "fixed_unordered"),
        )
        margin, scale, smoothing = 0.2, float(train_config.get("ce_scale", 16.0)), 0.1
        optimizer = {"solver": "SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0005}
        scheduler = {"scheduler": "MultiStepLR", "milestones": [10000, 14000, 18000], "gamma": 0.1}
        triplet = True
        total = 20000
    losses = [
        {
            "loss_term_weight": 1.0,
            "scale": scale,
            "type": "CrossEntropyLoss",
            "log_prefix": "softmax",
            "log_accuracy": True,
            "label_smooth": smoothing > 0,
            "eps": smoothing,
        }
    ]
    if triplet:
        losses.insert(
            0, {"loss_term_weight": 1.0, "margin": margin, "type": "TripletLoss", "log_prefix": "triplet"}
        )
    sampler = {
        "batch_shuffle": True,
        "batch_size": [p, k],
        "frames_num_fixed": frames,
        "sample_type": sampling,
        "type": "TripletSampler",
    }
    return {
        "loss_cfg": losses,
        "optimizer_cfg": optimizer,
        "scheduler_cfg": scheduler,
        "sampler": sampler,
        "total_iter": total,
    }


def opengait_config(
    ckpt: Checkpoint, save_name: str, checkpoint_path: str, dataset_root: str, partition: str
) -> dict[str, Any]:
    """The whole OpenGait YAML config (as a dict) for continuing or evaluating the run in OpenGait."""
    config = ckpt.model_config
    recipe = _recipe(ckpt.train_config)
    transforms = [{"type": "BaseSilCuttingTransform"}]
    if config.use_pga:
        transforms.append({"type": "NoOperation"})  # the PAV input of UMGRL's DRF
    data_cfg: dict[str, Any] = {
        "dataset_name": "Scoliosis1K",
        "dataset_root": dataset_root,
        "dataset_partition": partition,
        "num_workers": 1,
        "remove_no_gallery": False,
        "test_dataset_name": "Scoliosis1K",
    }
    if config.use_pga:
        data_cfg["data_in_use"] = [True, True]
    return {
        "data_cfg": data_cfg,
        "evaluator_cfg": {
            "enable_float16": True,
            "restore_ckpt_strict": True,
            "restore_hint": checkpoint_path,
            "save_name": save_name,
            "eval_func": "evaluate_scoliosis",
            "sampler": {
                "batch_shuffle": False,
                "batch_size": 1,
                "sample_type": "all_ordered",
                "frames_all_limit": 720,
                "type": "InferenceSampler",
            },
            "metric": "euc",
            "transform": [dict(t) for t in transforms],
        },
        "loss_cfg": recipe["loss_cfg"],
        "model_cfg": model_cfg(config),
        "optimizer_cfg": recipe["optimizer_cfg"],
        "scheduler_cfg": recipe["scheduler_cfg"],
        "trainer_cfg": {
            "enable_float16": True,
            "fix_BN": False,
            "with_test": False,
            "log_iter": 100,
            "optimizer_reset": True,
            "scheduler_reset": True,
            "restore_ckpt_strict": True,
            "restore_hint": checkpoint_path,
            "save_iter": 1000,
            "save_name": save_name,
            "sync_BN": True,
            "total_iter": recipe["total_iter"],
            "sampler": recipe["sampler"],
            "transform": [dict(t) for t in transforms],
        },
    }


def _check_dataset(config: ModelConfig, ckpt: Checkpoint, dataset: str | Path) -> ManifestData:
    data = ManifestData.open(dataset)
    check_model_data(config, data)
    if "opengait-pkl" not in data.manifest.layout.formats:
        raise BadInputError(
            "OpenGait reads the pickle tree: build or export the dataset with --format pkl", data.root
        )
    trained = ckpt.data.get("content_digest")
    if trained is not None and trained != data.manifest.content_digest:
        log(f"warning: {data.root} holds other data than the run was trained on (content digests differ)")
    return data


def export_opengait(run: str | Path, out: str | Path, *, dataset: str | Path | None = None) -> dict[str, Any]:
    """Write the OpenGait checkpoint, YAML config and (with ``dataset``) partition for ``run`` into ``out``.

    ``dataset``: a gaitprep dataset stored as pickles (``--format pkl``) of the run's modality; the config's
    ``data_cfg`` points at it and at its partition, written beside the config. Without it, both are
    placeholders to fill in.
    """
    import yaml

    run, out = Path(run), Path(out)
    check_output_path(out, inputs=[run, dataset], kind="folder")
    ckpt = Checkpoint.load(run)
    config = ckpt.model_config
    data = _check_dataset(config, ckpt, dataset) if dataset is not None else None
    save_name = save_name_for(run, config)
    iteration = ckpt.iteration
    ckpt_rel = Path("checkpoints") / f"{save_name}-{iteration:0>5}.pt"
    final = out.resolve()
    partition_name = data.manifest.partition.name if data is not None and data.manifest.partition else None
    doc = opengait_config(
        ckpt,
        save_name,
        str(final / ckpt_rel),
        str(data.root.resolve()) if data is not None else PLACEHOLDER_ROOT,
        str(final / partition_name) if partition_name else PLACEHOLDER_PARTITION,
    )
    upstream = {
        "model": opengait_state(ckpt),
        "optimizer": {},
        "scheduler": {},
        "iteration": iteration,
        # Not read by OpenGait; import-opengait takes it as the declared logit order (DRF needs one).
        "class_order": list(CLASS_ORDER),
    }
    header = (
        f"# OpenGait config written by gaitmodels export-opengait from {run}\n"
        f"# model {config.name}: {config.in_channels}-channel {config.modality} input; classes "
        "negative 0, neutral 1, positive 2\n"
        "# The optimizer and scheduler state are not exported (optimizer_reset, scheduler_reset).\n"
    )
    if config.use_pga:
        header += (
            "# DRF (UMGRL): each sequence folder needs the skeleton map and its PAV pickle (data_in_use).\n"
        )

    def fill(staging: Path) -> None:
        save_checkpoint(upstream, staging / ckpt_rel)
        text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=100)
        (staging / f"{save_name}.yaml").write_text(header + text, encoding="utf-8")
        if data is not None and partition_name:
            from gaitprep.export import export_opengait_partition

            export_opengait_partition(data.root, staging / partition_name)

    write_new_folder(out, fill)
    return {
        "out": str(out),
        "checkpoint": str(out / ckpt_rel),
        "config": str(out / f"{save_name}.yaml"),
        "partition": str(out / partition_name) if partition_name else None,
        "model": doc["model_cfg"]["model"],
        "in_channel": config.in_channels,
        "iteration": iteration,
    }
