"""The set-level heads of the ScoNet family (upstream ``opengait/modeling/modules.py``).

Shapes use n sequences, s frames, c channels, h x w feature maps and p horizontal parts (strips).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gaitmodels.models.errors import InvalidInputError

SeqLengths = Sequence[int] | torch.Tensor


def _lengths(seq_lengths: SeqLengths) -> list[int]:
    """A list of ints from a list, tuple or tensor of segment lengths (upstream passes a (1, n) tensor)."""
    if isinstance(seq_lengths, torch.Tensor):
        return [int(v) for v in seq_lengths.reshape(-1).tolist()]
    return [int(v) for v in seq_lengths]


class TemporalMaxPool(nn.Module):
    """Max over frames: (n, s, c, h, w) -> (n, c, h, w).

    With ``seq_lengths`` the input holds sequences of different lengths concatenated along the frame axis
    (n must be 1, upstream's ``all_ordered`` test batches); each segment is pooled on its own, giving
    (len(seq_lengths), c, h, w).
    """

    def forward(self, x: torch.Tensor, seq_lengths: SeqLengths | None = None) -> torch.Tensor:
        if seq_lengths is None:
            return x.amax(dim=1)
        lengths = _lengths(seq_lengths)
        if x.shape[0] != 1:
            raise InvalidInputError(
                f"seqL packs sequences along the frame axis, so the batch axis must be 1; got {x.shape[0]}"
            )
        if any(n < 1 for n in lengths) or sum(lengths) != x.shape[1]:
            raise InvalidInputError(
                f"seqL {lengths} must be positive and sum to the {x.shape[1]} frames in the batch"
            )
        segments = torch.split(x[0], lengths, dim=0)
        return torch.stack([segment.amax(dim=0) for segment in segments])


class HorizontalPoolingPyramid(nn.Module):
    """Mean + max over each of ``bins`` horizontal strips: (n, c, h, w) -> (n, c, bins); strip 0 is the top.

    Upstream takes a pyramid of bin counts; ScoNet uses the single level 16.
    """

    def __init__(self, bins: int = 16):
        super().__init__()
        self.bins = bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, _ = x.shape
        if h % self.bins:
            raise InvalidInputError(f"feature height {h} is not divisible into {self.bins} horizontal strips")
        strips = x.reshape(n, c, self.bins, -1)
        return strips.mean(-1) + strips.amax(-1)


class SeparateFCs(nn.Module):
    """One bias-free linear map per part, stored as ONE tensor ``fc_bin`` (p, c_in, c_out).

    (n, c_in, p) -> (n, c_out, p). Initialised xavier-uniform as a 3-D tensor, as upstream does.
    """

    def __init__(self, parts: int, c_in: int, c_out: int):
        super().__init__()
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts, c_in, c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x.permute(2, 0, 1).matmul(self.fc_bin)  # (p, n, c_out): one batched matmul over parts
        return out.permute(1, 2, 0).contiguous()


class SeparateBNNecks(nn.Module):
    """BN neck and per-part cosine classifier (BoT re-id neck, upstream ``SeparateBNNecks`` with norm=True).

    (n, c, p) -> (bn_feature (n, c, p), logits (n, classes, p)). One ``BatchNorm1d(c * p)`` normalises the
    flattened features (flattened channel-major, as upstream's ``view``); then, per part, the L2-normalised
    feature times the column-normalised weight ``fc_bin`` (p, c, classes) gives cosine logits in [-1, 1].
    """

    def __init__(self, parts: int, c: int, classes: int):
        super().__init__()
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts, c, classes)))
        self.bn1d = nn.BatchNorm1d(c * parts)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, c, p = x.shape
        x = self.bn1d(x.reshape(n, c * p)).reshape(n, c, p)
        feature = F.normalize(x.permute(2, 0, 1), dim=-1)  # (p, n, c)
        logits = feature.matmul(F.normalize(self.fc_bin, dim=1))  # (p, n, classes)
        return feature.permute(1, 2, 0).contiguous(), logits.permute(1, 2, 0).contiguous()
