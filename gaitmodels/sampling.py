"""Which sequences form a batch and which frames of each sequence the model sees.

OpenGait's vocabulary, kept so its users feel at home:

- ``TripletSampler``: P x K batches (P ids, K sequences each) for the triplet loss;
- frame sampling ``fixed_unordered`` (train: 30 random frames), ``fixed_ordered`` and ``all_ordered``
  (test: every frame in order, first 720);
- ``cut_transform``: the load-time 10-px side cut and /255 (upstream ``BaseSilCuttingTransform``).

Everything here is deterministic from an explicit seed or ``numpy.random.Generator``; nothing reads a
file or a global random state.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from gaitmodels.models.errors import InvalidInputError
from gaitprep.cut import cut_to_unit

ALL_ORDERED_MAX_FRAMES = 720
"""Upstream's ``frames_all_limit`` for ScoNet evaluation: sequences are truncated to their first 720 frames."""


class TripletSampler(Sampler[list[int]]):
    """An infinite stream of P x K batches of dataset indices (a ``batch_sampler`` for a DataLoader).

    Each batch draws P distinct ids, then K of each id's indices: without replacement when the id has at
    least K sequences, with replacement otherwise (on Scoliosis1K every id has one sequence, so its K
    entries are the same sequence, each later given its own random frames). The P*K list is shuffled
    (upstream ``batch_shuffle: true``), and rank r of a ``world_size``-process DDP job keeps entries
    r, r + world_size, ... of it.

    Batch b depends only on (seed, b), never on rank or on earlier batches, so every rank agrees on the
    batch without communication and a resumed run can start at ``start_step`` exactly.

    Args:
        labels: the triplet id of each dataset index (sequence ids upstream), len = dataset size.
        p, k: ids per batch and indices per id (8 x 8 upstream).
        seed: the stream's seed.
        shuffle: shuffle the P*K list before striding (upstream ScoNet: true).
        rank, world_size: this process's place in a DDP job; P*K must divide by world_size.
        start_step: the first batch index the iterator yields (for resuming).
    """

    def __init__(
        self,
        labels: Sequence[Hashable],
        p: int,
        k: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
    ):
        if p < 1 or k < 1:
            raise InvalidInputError(f"P and K must be positive, got P={p}, K={k}")
        super().__init__()
        if world_size < 1 or not 0 <= rank < world_size:
            raise InvalidInputError(f"rank {rank} is not in a world of size {world_size}")
        if (p * k) % world_size:
            raise InvalidInputError(f"the P x K = {p * k} batch does not divide among {world_size} processes")
        # Ids in order of first appearance: deterministic for a given dataset order, whatever the id type.
        self.indices_by_id: dict[Hashable, list[int]] = {}
        for index, label in enumerate(labels):
            self.indices_by_id.setdefault(label, []).append(index)
        self.ids = list(self.indices_by_id)
        if len(self.ids) < p:
            raise InvalidInputError(f"P = {p} ids per batch, but the dataset holds only {len(self.ids)} ids")
        self.p, self.k, self.seed, self.shuffle = p, k, seed, shuffle
        self.rank, self.world_size, self.start_step = rank, world_size, start_step

    def full_batch(self, step: int) -> list[int]:
        """All P*K indices of batch ``step``, before striding by rank."""
        rng = np.random.default_rng([self.seed, step])
        batch: list[int] = []
        for id_pos in rng.permutation(len(self.ids))[: self.p]:
            pool = self.indices_by_id[self.ids[id_pos]]
            if len(pool) >= self.k:
                picks = rng.permutation(len(pool))[: self.k]
            else:
                picks = rng.integers(0, len(pool), size=self.k)
            batch.extend(pool[i] for i in picks)
        if self.shuffle:
            batch = [batch[i] for i in rng.permutation(len(batch))]
        return batch

    def batch(self, step: int) -> list[int]:
        """This rank's share of batch ``step``: P*K / world_size dataset indices."""
        return self.full_batch(step)[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            yield self.batch(step)
            step += 1


def _check_counts(num_frames: int, n: int | None = None) -> None:
    if num_frames < 1:
        raise InvalidInputError(f"cannot sample frames from a sequence of {num_frames} frames")
    if n is not None and n < 1:
        raise InvalidInputError(f"the number of frames to sample must be positive, got {n}")


def fixed_unordered(num_frames: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n frame indices drawn at random, unsorted: int64 (n,) in [0, num_frames).

    Without replacement when the sequence has at least n frames, with replacement otherwise (upstream
    ``np.random.choice(T, n, replace=T < n)``). Upstream trains ScoNet with n = 30.
    """
    _check_counts(num_frames, n)
    return rng.choice(num_frames, size=n, replace=num_frames < n).astype(np.int64)


def fixed_ordered(num_frames: int, n: int, rng: np.random.Generator, skip: int = 0) -> np.ndarray:
    """n frame indices in temporal order from one random window: int64 (n,).

    The window holds n + skip consecutive frames starting at a random frame; n of them are kept, sorted
    (upstream ``frames_skip_num``). With skip = 0 (the default) the result is a contiguous run of n frames.
    A sequence shorter than the window is first repeated end to start (0..T-1, 0..T-1, ...), as upstream
    does, so the run may wrap around: e.g. T = 5, n = 8 can give 3, 4, 0, 1, 2, 3, 4, 0.
    """
    _check_counts(num_frames, n)
    if skip < 0:
        raise InvalidInputError(f"skip must be >= 0, got {skip}")
    window = n + skip
    repeats = -(-window // num_frames)  # ceil
    tiled = np.tile(np.arange(num_frames, dtype=np.int64), repeats)
    start = int(rng.integers(0, tiled.size - window + 1))
    keep = np.sort(rng.choice(window, size=n, replace=False)) if skip else np.arange(n)
    return tiled[start + keep]


def all_ordered(num_frames: int, max_frames: int | None = ALL_ORDERED_MAX_FRAMES) -> np.ndarray:
    """Every frame in natural order, truncated to the first ``max_frames`` (None: no limit): int64 (<= T,)."""
    _check_counts(num_frames)
    if max_frames is not None and max_frames < 1:
        raise InvalidInputError(f"max_frames must be positive or None, got {max_frames}")
    stop = num_frames if max_frames is None else min(num_frames, max_frames)
    return np.arange(stop, dtype=np.int64)


def cut_transform(x: np.ndarray) -> np.ndarray:
    """Load-time cut and scaling: uint8 (..., H, W) -> float32 (..., H, W - 2 * cut) in [0, 1].

    (T, 64, 64) becomes (T, 64, 44) and (T, 2, 64, 64) becomes (T, 2, 64, 44). Data is stored uncut; the
    cut belongs to the training config. Upstream slices ``x[..., cut:-cut]``, which returns an EMPTY array
    when cut = 0 (W < 64); we slice ``x[..., cut:W - cut]``, identical for W >= 64 and a no-op below.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim < 2:
        raise InvalidInputError(
            f"expected a uint8 array (..., H, W), got {type(x).__name__} "
            f"{getattr(x, 'dtype', '')} {getattr(x, 'shape', '')}"
        )
    return cut_to_unit(x)
