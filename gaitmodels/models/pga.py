"""PAV-guided attention (PGA): DRF's gates on the part features, driven by the Postural Asymmetry Vector.

The DRF paper's text was not available; this follows the independent UMGRL reimplementation (R-DRF):

    g_ch   = sigmoid(Linear(pairs * metrics -> c)(flatten(PAV)))        (n, c, 1); flatten is pair-major
    z      = Conv1d(metrics -> 1, kernel 1)(PAV transposed to (n, metrics, pairs))      (n, 1, pairs)
    g_part = sigmoid(linear_interpolate(z, p, align_corners=False))      (n, 1, p); interpolate, THEN sigmoid
    F'     = F * g_ch * g_part                                           (n, c, p)

The submodule names follow the reimplementation (``channel_attention``, ``spatial_attention``; "spatial"
means along the p horizontal parts), so its checkpoints load without renaming. 6,404 parameters at
c = 256, 8 pairs, 3 metrics.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gaitmodels.models.errors import InvalidInputError


class PAVGuidedAttention(nn.Module):
    """Channel gate from the whole PAV and part gate from each pair's metrics, multiplied onto F."""

    def __init__(self, channels: int = 256, pairs: int = 8, metrics: int = 3):
        super().__init__()
        self.pairs = pairs
        self.metrics = metrics
        self.channel_attention = nn.Linear(pairs * metrics, channels)
        self.spatial_attention = nn.Conv1d(metrics, 1, kernel_size=1)

    def gates(self, pav: torch.Tensor, parts: int) -> tuple[torch.Tensor, torch.Tensor]:
        """PAV (n, pairs, metrics) float -> (g_ch (n, channels, 1), g_part (n, 1, parts)), both in (0, 1)."""
        if pav.ndim != 3 or tuple(pav.shape[1:]) != (self.pairs, self.metrics):
            raise InvalidInputError(
                f"expected PAV of shape (n, {self.pairs}, {self.metrics}), got {tuple(pav.shape)}"
            )
        g_ch = torch.sigmoid(self.channel_attention(pav.flatten(1))).unsqueeze(-1)
        z = self.spatial_attention(pav.transpose(1, 2))  # (n, 1, pairs)
        z = F.interpolate(z, size=parts, mode="linear", align_corners=False)
        return g_ch, torch.sigmoid(z)

    def forward(self, features: torch.Tensor, pav: torch.Tensor) -> torch.Tensor:
        """features (n, channels, parts), PAV (n, pairs, metrics) -> gated features (n, channels, parts)."""
        if pav.shape[0] != features.shape[0]:
            raise InvalidInputError(
                f"PAV batch {pav.shape[0]} does not match the {features.shape[0]} pooled sequences"
            )
        g_ch, g_part = self.gates(pav.to(features.dtype), features.shape[-1])
        return features * g_ch * g_part
