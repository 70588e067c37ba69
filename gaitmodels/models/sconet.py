"""The ScoNet family in one readable file: config, network, initialisation, prediction.

    frames (n, s, C, 64, 44) ──ResNet9 per frame──> (n, s, 512, 16, 11)
        ──temporal max (per seqL segment at test)──> (n, 512, 16, 11)
        ──horizontal pooling pyramid, 16 strips, mean + max──> (n, 512, 16)
        ──separate FCs 512 -> 256 per part──> embed (n, 256, 16)        ── triplet loss
        ──[DRF only: PAV-guided gates]──> embed'
        ──BN neck + per-part cosine classifier──> logits (n, 3, 16)      ── CE loss, prediction

| name            | input                     | losses        | parameters |
|-----------------|---------------------------|---------------|------------|
| sconet          | silhouettes, 1 channel    | CE            | 7,014,592  |
| sconet-mt       | silhouettes, 1 channel    | CE + triplet  | 7,014,592  |
| sconet-mt-ske   | [limb, joint] maps, 2 ch. | CE + triplet  | 7,015,168  |
| drf             | maps + PAV (n, 8, 3)      | CE + triplet  | 7,021,572  |

A checkpoint is a plain dict that carries ``ModelConfig.model_dump(mode="json")`` (key ``model_config``)
beside the weights (key ``model_state``), so ``build_model(ModelConfig(**checkpoint["model_config"]))``
rebuilds the network without the training script (:class:`gaitmodels.checkpoint.Checkpoint` parses it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from gaitmodels.choices import DEFAULT_WIDTHS, SILHOUETTE_MODELS, ModelName
from gaitmodels.models.backbone import ResNet9
from gaitmodels.models.errors import InvalidInputError
from gaitmodels.models.heads import (
    HorizontalPoolingPyramid,
    SeparateBNNecks,
    SeparateFCs,
    SeqLengths,
    TemporalMaxPool,
)
from gaitmodels.models.pga import PAVGuidedAttention
from gaitprep.skeleton import CLASS_ORDER


class ModelConfig(BaseModel):
    """Every choice that changes the network's shape or meaning; frozen, and stored in each checkpoint.

    ``in_channels`` defaults from the name (1 for silhouette models, 2 for skeleton maps) and ``use_pga`` is
    true exactly for ``drf``. ``class_order`` names the class of each logit row: ours is
    (negative, neutral, positive); the author DRF checkpoint's is (negative, positive, neutral).
    ``widths`` are the backbone's stage widths; smaller ones (e.g. (16, 32, 64, 128)) make quick CPU demos.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ModelName
    in_channels: int = Field(ge=1)
    num_classes: int = Field(default=3, ge=2)
    class_order: tuple[str, ...] = CLASS_ORDER
    parts: int = Field(default=16, ge=1)
    widths: tuple[int, int, int, int] = DEFAULT_WIDTHS
    embed_dim: int = Field(default=256, ge=1)
    use_pga: bool
    pav_pairs: int = Field(default=8, ge=1)
    pav_metrics: int = Field(default=3, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "name" in data:
            data = dict(data)
            data.setdefault("in_channels", 1 if data["name"] in SILHOUETTE_MODELS else 2)
            data.setdefault("use_pga", data["name"] == "drf")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.name in SILHOUETTE_MODELS and self.in_channels != 1:
            raise ValueError(f"{self.name} reads 1-channel silhouettes, not {self.in_channels} channels")
        if self.use_pga != (self.name == "drf"):
            raise ValueError("use_pga must be true for drf and false for every other model")
        if len(self.class_order) != self.num_classes or len(set(self.class_order)) != self.num_classes:
            raise ValueError(f"class_order {self.class_order} must name {self.num_classes} distinct classes")
        if any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be positive, got {self.widths}")
        return self

    @property
    def modality(self) -> str:
        """The gaitprep modality this model reads: ``silhouette``, ``skeleton_map`` (2 channels [limb,
        joint]) or ``stacked`` (3 channels [silhouette, limb, joint], e.g. an imported OpenGait model)."""
        if self.name in SILHOUETTE_MODELS:
            return "silhouette"
        return "stacked" if self.in_channels == 3 else "skeleton_map"

    @property
    def uses_triplet(self) -> bool:
        """False only for the paper's single-task ScoNet, which trains with CE alone."""
        return self.name != "sconet"


class ScoNet(nn.Module):
    """ScoNet / ScoNet-MT / ScoNet-MT-ske, and DRF when ``config.use_pga``."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.backbone = ResNet9(config.in_channels, config.widths)
        self.temporal_pool = TemporalMaxPool()
        self.hpp = HorizontalPoolingPyramid(config.parts)
        self.fcs = SeparateFCs(config.parts, config.widths[-1], config.embed_dim)
        self.pga = (
            PAVGuidedAttention(config.embed_dim, config.pav_pairs, config.pav_metrics)
            if config.use_pga
            else None
        )
        self.bnnecks = SeparateBNNecks(config.parts, config.embed_dim, config.num_classes)
        init_parameters(self)

    def forward(
        self,
        x: torch.Tensor,
        seqL: SeqLengths | None = None,  # upstream's name, kept so OpenGait users recognise it
        pav: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Frames in, part embeddings and cosine logits out.

        Args:
            x: float (n, s, C, H, W) in [0, 1] after the cut transform, e.g. (n, 30, 2, 64, 44); for
                C = 1 also (n, s, H, W).
            seqL: optional lengths of the sequences concatenated along the frame axis (then n = 1); each
                segment is pooled separately and the output batch has len(seqL) rows.
            pav: float (n_out, pav_pairs, pav_metrics), the per-sequence normalised PAV; required by DRF
                and refused by every other model.

        Returns:
            ``embed`` float (n_out, embed_dim, parts), the pre-BN features the triplet loss uses (gated for
            DRF); ``logits`` float (n_out, num_classes, parts), cosine logits in [-1, 1].
        """
        cfg = self.config
        if not torch.is_floating_point(x):
            raise InvalidInputError(
                f"expected float frames in [0, 1], got dtype {x.dtype}; apply the cut transform"
            )
        if x.ndim == 4 and cfg.in_channels == 1:
            x = x.unsqueeze(2)
        if x.ndim != 5 or x.shape[2] != cfg.in_channels:
            raise InvalidInputError(
                f"{cfg.name} expects frames of shape (n, s, {cfg.in_channels}, H, W)"
                + (" or (n, s, H, W)" if cfg.in_channels == 1 else "")
                + f", got {tuple(x.shape)}"
            )
        if cfg.use_pga and pav is None:
            raise InvalidInputError(f"{cfg.name} uses PAV-guided attention and needs pav of shape (n, 8, 3)")
        if not cfg.use_pga and pav is not None:
            raise InvalidInputError(f"{cfg.name} has no PAV-guided attention; do not pass pav")

        n, s, c, h, w = x.shape
        feat = self.backbone(x.reshape(n * s, c, h, w))  # time folded into the batch
        feat = feat.reshape(n, s, *feat.shape[1:])  # (n, s, c', h', w')
        feat = self.temporal_pool(feat, seqL)  # (n_out, c', h', w')
        feat = self.hpp(feat)  # (n_out, c', parts)
        embed = self.fcs(feat)  # (n_out, embed_dim, parts)
        if self.pga is not None:
            embed = self.pga(embed, pav)
        _, logits = self.bnnecks(embed)
        return {"embed": embed, "logits": logits}


def init_parameters(model: nn.Module) -> None:
    """Upstream ``BaseModel.init_parameters``: xavier-uniform conv/linear weights with zero bias, BN affine
    weight N(1, 0.02) and zero bias, and the part-wise FC / classifier tensors xavier-uniform as 3-D tensors
    (fan_in = c_in * c_out, fan_out = p * c_out, hence the small FC bound sqrt(6 / 135,168) ~ 0.00666)."""
    for m in model.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, SeparateFCs | SeparateBNNecks):
            nn.init.xavier_uniform_(m.fc_bin)


def build_model(config: ModelConfig | Mapping[str, Any]) -> ScoNet:
    """The network for a config (or the config dict stored in a checkpoint), freshly initialised."""
    if not isinstance(config, ModelConfig):
        config = ModelConfig.model_validate(dict(config))
    return ScoNet(config)


def predict(logits: torch.Tensor) -> torch.Tensor:
    """Upstream's evaluation rule: argmax over classes of the mean over parts (no softmax).

    logits (n, classes, parts) -> long (n,) class indices in the model's ``class_order``.
    """
    if logits.ndim != 3:
        raise InvalidInputError(f"expected logits of shape (n, classes, parts), got {tuple(logits.shape)}")
    return logits.mean(dim=-1).argmax(dim=-1)


# Upstream (OpenGait) parameter names -> ours. Applied in order to each key.
_OPENGAIT_RENAMES: tuple[tuple[str, str], ...] = (
    (r"^module\.", ""),  # DDP wrapper
    (r"^Backbone\.forward_block\.", "backbone."),
    (r"^backbone\.conv1\.conv\.", "backbone.conv1."),  # upstream's BasicConv2d wrapper
    (r"^backbone\.(layer[1-4])\.0\.", r"backbone.\1."),  # one-block nn.Sequential stages
    (r"^FCs\.", "fcs."),
    (r"^BNNecks\.", "bnnecks."),
    (r"^(PGA|attention_layer)\.", "pga."),  # the fork renamed the author bundle's attention_layer to PGA
)


def convert_opengait_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an OpenGait ScoNet (or UMGRL DRF) ``model`` state dict to this module's parameter names.

    Only names change; the class order of the logits does not (permute ``bnnecks.fc_bin`` or the logits
    when the checkpoint's order differs). Load the result with ``load_state_dict(..., strict=True)`` so
    that any key this mapping does not know is reported.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = key
        for pattern, repl in _OPENGAIT_RENAMES:
            new = re.sub(pattern, repl, new)
        out[new] = value
    return out
