"""Data for training and evaluation, read only through gaitprep manifests.

The whole split is loaded into RAM once (random Zarr reads are 3-10x slower than pickles; engineering
notes §3.3) and sampled from there. Sampling is stateless: the frames of batch slot ``j`` at iteration
``i`` depend only on (seed, i, j), so a resumed run sees exactly the batches an uninterrupted one sees,
whatever the number of DataLoader workers.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from gaitmodels.choices import FRAME_SAMPLING
from gaitmodels.sampling import all_ordered, cut_transform, fixed_ordered, fixed_unordered
from gaitprep.errors import BadInputError
from gaitprep.io.verified import read_sequence_verified
from gaitprep.manifest import Manifest, SequenceRecord, resolve_manifest_path
from gaitprep.skeleton import CLASS_INDEX
from gaitprep.verify import quick_check

LOAD_THREADS = min(4, os.cpu_count() or 1)


@dataclass
class ManifestData:
    """One dataset opened through its manifest (verified at the quick level)."""

    manifest: Manifest
    root: Path

    @classmethod
    def open(cls, path: str | Path) -> ManifestData:
        mpath = resolve_manifest_path(path)
        return cls(quick_check(mpath), mpath.parent)

    @property
    def channels(self) -> int:
        """Channels per frame: 1 for (T, 64, 64) silhouettes, C for (T, C, 64, 64) maps."""
        spec = self.manifest.layout.arrays[self.manifest.layout.primary]
        return 1 if len(spec.item_shape) == 2 else spec.item_shape[0]

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self.manifest.layout.arrays[self.manifest.layout.primary].channels


@dataclass
class SplitArrays:
    """A split in memory. ``frames[i]``: uint8 (T_i, C, 64, 64); ``pav``: float32 (N, 8, 3) or None."""

    keys: list[str]
    ids: list[str]
    labels: np.ndarray
    frames: list[np.ndarray]
    pav: np.ndarray | None

    def __len__(self) -> int:
        return len(self.keys)


def load_split(data: ManifestData, split: str | None, pav: ManifestData | None = None) -> SplitArrays:
    """Read every sequence of ``split`` (None = all) into RAM, with its PAV when ``pav`` is given."""
    m = data.manifest
    records = m.split_records(split)
    if not records:
        raise BadInputError(f"the dataset holds no {split} sequences", data.root)
    pav_by_key = pav.manifest.record_by_key() if pav else {}
    if pav is not None:
        missing = next((r.key for r in records if r.key not in pav_by_key), None)
        if missing is not None:
            raise BadInputError(f"the PAV dataset has no record for {missing}", pav.root)

    def one(rec: SequenceRecord) -> tuple[np.ndarray, np.ndarray | None]:
        arr = read_sequence_verified(data.root, m, rec)  # hashed as read: a changed file is exit 3
        p = read_sequence_verified(pav.root, pav.manifest, pav_by_key[rec.key], "pav") if pav else None
        return (arr[:, None] if arr.ndim == 3 else arr), p

    # sha256 and zstd release the GIL: a few threads overlap hashing with decoding. Results (and the first
    # error, raised in record order) do not depend on the thread count.
    with ThreadPoolExecutor(max_workers=min(LOAD_THREADS, len(records))) as pool:
        loaded = list(pool.map(one, records))
    frames = [f for f, _ in loaded]
    pavs = [p for _, p in loaded]
    labels = np.array([CLASS_INDEX[r.label] for r in records], dtype=np.int64)
    return SplitArrays(
        keys=[r.key for r in records],
        ids=[r.id for r in records],
        labels=labels,
        frames=frames,
        pav=np.stack(pavs).astype(np.float32) if pav is not None else None,
    )


def sample_frames(num_frames: int, n: int, method: str, rng: np.random.Generator) -> np.ndarray:
    if method == "fixed_unordered":
        return fixed_unordered(num_frames, n, rng)
    if method == "fixed_ordered":
        return fixed_ordered(num_frames, n, rng)
    if method == "all_ordered":
        return all_ordered(num_frames)
    raise BadInputError(f"unknown frame sampling {method!r}; expected one of {', '.join(FRAME_SAMPLING)}")


class TrainClips(Dataset):
    """Items are tokens ``(sequence index, iteration, slot)``; returns a cut, scaled clip.

    Returns ``x`` float32 (n, C, 64, 44), ``label`` int64, ``index`` int64 (the triplet identity:
    upstream uses the sequence id) and ``pav`` float32 (8, 3) (zeros when the model takes none).
    """

    def __init__(self, split: SplitArrays, frames: int, method: str, seed: int):
        self.split, self.n, self.method, self.seed = split, frames, method, seed

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, token: tuple[int, int, int]):
        index, iteration, slot = token
        rng = np.random.default_rng([self.seed, iteration, slot, 7])
        arr = self.split.frames[index]
        clip = arr[sample_frames(arr.shape[0], self.n, self.method, rng)]
        pav = self.split.pav[index] if self.split.pav is not None else np.zeros((8, 3), np.float32)
        return (
            torch.from_numpy(cut_transform(clip)),
            torch.tensor(self.split.labels[index]),
            torch.tensor(index),
            torch.from_numpy(pav),
        )


def eval_clip(arr: np.ndarray) -> torch.Tensor:
    """All frames in order (first 720), cut and scaled: float32 (1, T, C, 64, 44)."""
    return torch.from_numpy(cut_transform(arr[all_ordered(arr.shape[0])]))[None]
