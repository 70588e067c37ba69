"""Parameter names between OpenGait and gaitmodels, both ways, and the architecture a state dict implies.

| OpenGait (``BaseModel.state_dict()``)            | gaitmodels (``ScoNet.state_dict()``) |
|--------------------------------------------------|--------------------------------------|
| ``Backbone.forward_block.conv1.conv.*``          | ``backbone.conv1.*``                 |
| ``Backbone.forward_block.bn1.*``                 | ``backbone.bn1.*``                   |
| ``Backbone.forward_block.layer{1-4}.0.*``        | ``backbone.layer{1-4}.*``            |
| ``FCs.fc_bin`` (p, c_in, c_out)                  | ``fcs.fc_bin``                       |
| ``BNNecks.fc_bin`` (p, c, classes), ``BNNecks.bn1d.*`` | ``bnnecks.*``                  |
| ``PGA.*`` (UMGRL DRF) or ``attention_layer.*`` (author DRF bundle) | ``pga.*``          |

A ``module.`` prefix (a DDP-wrapped model saved as is) is dropped. Tensors keep their shapes and layout:
only names change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from gaitmodels.models import convert_opengait_state_dict
from gaitprep.errors import BadInputError

FIRST_CONV = "Backbone.forward_block.conv1.conv.weight"
PGA_PREFIXES = ("PGA.", "attention_layer.")
MODALITY_BY_CHANNELS = {1: "silhouette", 2: "skeleton_map", 3: "stacked"}

# gaitmodels names -> OpenGait's, applied in order (the inverse of models.sconet._OPENGAIT_RENAMES).
_TO_OPENGAIT: tuple[tuple[str, str], ...] = (
    ("backbone.conv1.", "Backbone.forward_block.conv1.conv."),
    *((f"backbone.layer{i}.", f"Backbone.forward_block.layer{i}.0.") for i in range(1, 5)),
    ("backbone.", "Backbone.forward_block."),
    ("fcs.", "FCs."),
    ("bnnecks.", "BNNecks."),
    ("pga.", "PGA."),  # UMGRL's DRF names its PAVGuidedAttention ``PGA``
)


def to_opengait_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our ``model_state`` with OpenGait's (and UMGRL's DRF) parameter names, in the same order."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        for ours, theirs in _TO_OPENGAIT:
            if key.startswith(ours):
                key = theirs + key[len(ours) :]
                break
        out[key] = value
    return out


def strip_ddp_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("module."): v for k, v in state_dict.items()}


@dataclass(frozen=True)
class Architecture:
    """What an OpenGait state dict's tensor shapes say about the network.

    ``in_channels`` comes from the first convolution ``(widths[0], in_channels, 3, 3)``; ``widths`` from
    the stage convolutions; ``parts``, ``embed_dim`` and ``num_classes`` from ``FCs.fc_bin``
    (parts, widths[3], embed_dim) and ``BNNecks.fc_bin`` (parts, embed_dim, classes); ``pga_prefix`` is
    ``"PGA."``, ``"attention_layer."`` or None; ``pav_pairs``/``pav_metrics`` from the PGA gates.
    """

    in_channels: int
    widths: tuple[int, int, int, int]
    parts: int
    embed_dim: int
    num_classes: int
    pga_prefix: str | None
    pav_pairs: int | None = None
    pav_metrics: int | None = None

    @property
    def modality(self) -> str:
        return MODALITY_BY_CHANNELS[self.in_channels]


def _shape(sd: Mapping[str, torch.Tensor], key: str, ndim: int, path: object) -> tuple[int, ...]:
    value = sd.get(key)
    if not isinstance(value, torch.Tensor):
        raise BadInputError(f"not an OpenGait ScoNet/DRF checkpoint: it has no tensor {key}", path)
    if value.ndim != ndim:
        raise BadInputError(f"{key} has shape {tuple(value.shape)}, expected {ndim} dimensions", path)
    return tuple(value.shape)


def infer_architecture(state_dict: Mapping[str, torch.Tensor], path: object = None) -> Architecture:
    """Read the architecture off an OpenGait ``model`` state dict (``module.`` already stripped)."""
    c0, in_channels, kh, kw = _shape(state_dict, FIRST_CONV, 4, path)
    if (kh, kw) != (3, 3):
        raise BadInputError(f"the first convolution is {kh}x{kw}; ScoNet's ResNet9 stem is 3x3", path)
    if in_channels not in MODALITY_BY_CHANNELS:
        raise BadInputError(
            f"the first convolution takes {in_channels} input channels; expected 1 (silhouettes), "
            "2 (skeleton maps [limb, joint]) or 3 (stacked [silhouette, limb, joint])",
            path,
        )
    widths = tuple(
        _shape(state_dict, f"Backbone.forward_block.layer{i}.0.conv1.weight", 4, path)[0] for i in range(1, 5)
    )
    parts, fc_in, embed_dim = _shape(state_dict, "FCs.fc_bin", 3, path)
    bn_parts, bn_c, classes = _shape(state_dict, "BNNecks.fc_bin", 3, path)
    if fc_in != widths[3] or (bn_parts, bn_c) != (parts, embed_dim) or c0 != widths[0]:
        raise BadInputError(
            f"tensor shapes disagree: backbone widths {widths}, stem {c0}, FCs.fc_bin {(parts, fc_in, embed_dim)}, "
            f"BNNecks.fc_bin {(bn_parts, bn_c, classes)}",
            path,
        )
    prefixes = {p for p in PGA_PREFIXES if any(k.startswith(p) for k in state_dict)}
    if len(prefixes) > 1:
        raise BadInputError("the checkpoint holds both PGA.* and attention_layer.* weights", path)
    prefix = next(iter(prefixes), None)
    pairs = metrics = None
    if prefix is not None:
        out_c, pm = _shape(state_dict, f"{prefix}channel_attention.weight", 2, path)
        _, metrics, _ = _shape(state_dict, f"{prefix}spatial_attention.weight", 3, path)
        if out_c != embed_dim or pm % metrics:
            raise BadInputError(
                f"the PAV gates' shapes ({out_c}, {pm}) do not fit {embed_dim}-d part features", path
            )
        pairs = pm // metrics
    return Architecture(in_channels, widths, parts, embed_dim, classes, prefix, pairs, metrics)  # type: ignore[arg-type]


def to_gaitmodels_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenGait names -> ours (``module.`` dropped); see :func:`gaitmodels.models.convert_opengait_state_dict`."""
    return convert_opengait_state_dict(state_dict)
