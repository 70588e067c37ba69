"""DDP that trains like one process: gathered triplet batches, averaged logs, one rank that speaks.

Under ``torchrun`` each rank holds ``P*K / world`` entries of every batch (``TripletSampler`` strides the
full batch by rank). Upstream OpenGait (``gather_and_scale_wrapper`` around ``TripletLoss``) all-gathers
embeddings and labels before the triplet loss, so the loss sees the whole P x K batch, and multiplies it
by the world size: each rank back-propagates only through its own entries (the gathered copies of the
others' are constants), DDP averages the gradients over ranks, and the sum is the one-process gradient.
:func:`gathered_triplet_loss` does the same. Cross-entropy needs no gathering (it is a mean of per-entry
terms); the logged CE and accuracy are averaged over ranks so the log reads like a single process's.

Batch-norm statistics stay per rank on CPU (gloo): ``SyncBatchNorm`` runs on CUDA only.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from gaitmodels.losses import TripletResult, triplet_loss


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the world size: from torch.distributed once initialised, else torchrun's
    environment (``RANK``, ``WORLD_SIZE``), else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the one rank that prints, logs and writes."""
    return rank_and_world()[0] == 0


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_gather_keep_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's ``x`` (n, ...) along dim 0 -> (world * n, ...), rank order.

    This rank's block is ``x`` itself, so gradients flow into it; the other blocks are constants
    (upstream ``ddp_all_gather``). Every rank must pass the same shape. Without a process group, ``x``.
    """
    if not _active():
        return x
    blocks = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(blocks, x.detach().contiguous())
    blocks[dist.get_rank()] = x
    return torch.cat(blocks, dim=0)


def gathered_triplet_loss(
    embed: torch.Tensor, labels: torch.Tensor, margin: float = 0.2
) -> tuple[torch.Tensor, TripletResult]:
    """The triplet loss on the whole batch across ranks.

    Args:
        embed: float (n, c, p), this rank's share of the batch's part embeddings.
        labels: int (n,), their triplet labels (sequence ids).

    Returns ``(to_backprop, result)``: ``result`` holds the loss over the gathered (world * n) batch,
    equal to a single process's loss on the same batch; ``to_backprop`` is ``world * result.loss``
    (upstream's scaling), whose gradients DDP's averaging turns into the single-process gradients.
    """
    world = dist.get_world_size() if _active() else 1
    result = triplet_loss(all_gather_keep_grad(embed.float()), all_gather_keep_grad(labels), margin)
    return result.loss * world, result


def mean_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """The element-wise mean over ranks of a small float tensor (for logging); ``values`` alone otherwise."""
    if not _active():
        return values
    out = values.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / dist.get_world_size()
