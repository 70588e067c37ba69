"""A torch ``Dataset`` over a gaitprep dataset, built on :func:`gaitprep.open_dataset`.

    from torch.utils.data import DataLoader
    from gaitmodels.dataset import SequenceDataset

    loader = DataLoader(SequenceDataset("demo/datasets/skeleton-maps", split="train"), batch_size=None)

Item ``i`` is ``(x, label)``: the sequence's primary array (verified as it is read) after the manifest's
load transform, float32 (T, C, 64, 44) or (T, 64, 44), or the stored uint8 array with
``transform=False``; ``label`` int64 in the manifest's class order. Sequences have different lengths,
so batching needs a frame sampler (see ``gaitmodels.data.TrainClips`` for the training one).
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import Dataset

import gaitprep
from gaitprep.api import Dataset as GaitprepDataset


class SequenceDataset(Dataset):
    """``split``: ``"train"``, ``"test"`` or None (all); ``array``: another array than the primary one."""

    def __init__(
        self,
        dataset: str | os.PathLike[str] | GaitprepDataset,
        split: str | None = None,
        *,
        transform: bool = True,
        array: str | None = None,
    ):
        self.dataset = dataset if isinstance(dataset, GaitprepDataset) else gaitprep.open_dataset(dataset)
        self.keys = self.dataset.keys(split)
        self.transform = transform
        self.array = array

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        key = self.keys[index]
        arr = self.dataset.read(key, self.array)
        if self.transform:
            arr = gaitprep.load_transform(arr)
        return torch.from_numpy(arr), torch.tensor(self.dataset.label(key), dtype=torch.int64)
