"""The Python API: open a gaitprep dataset and read its sequences as numpy arrays, verified as they are read.

    import gaitprep
    ds = gaitprep.open_dataset("demo/datasets/skeleton-maps")
    ds.keys("train")                           # sequence keys "id/class/view"
    ds["00000/positive/000_180"]               # uint8 (T, 2, 64, 64) [limb, joint], as stored
    x, y = ds.load("train", transform=True)    # float32 (T, 2, 64, 44) arrays, int64 class indices

Opening checks the manifest (its self-hash, every listed file present with its size: the quick level);
every read then checks the sha256 of the files it reads against the manifest, so a changed file is an
error, never silently different data. Nothing here imports torch (``gaitmodels.dataset`` adapts a
dataset for a torch ``DataLoader``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from gaitprep.cut import cut_to_unit
from gaitprep.errors import BadInputError
from gaitprep.manifest import Manifest, SequenceRecord

SPLITS = ("train", "test")


def load_transform(array: np.ndarray) -> np.ndarray:
    """The manifests' load transform (OpenGait's ``BaseSilCuttingTransform``), stored uncut, applied here.

    uint8 (..., H, W) -> float32 (..., H, W - 2 * cut) in [0, 1], cut = int(W // 64) * 10: (T, 64, 64)
    silhouettes become (T, 64, 44), (T, 2, 64, 64) maps (T, 2, 64, 44). A width under 64 is not cut.
    """
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim < 2:
        raise BadInputError(
            f"the load transform takes a uint8 array (..., H, W), not {getattr(array, 'dtype', type(array))} "
            f"{getattr(array, 'shape', '')}"
        )
    return cut_to_unit(array)


class Dataset:
    """A gaitprep dataset opened through its manifest. Build one with :func:`open_dataset`.

    ``manifest``: the typed :class:`~gaitprep.manifest.Manifest`; ``format``: the stored format read
    (``"zarr"`` or ``"opengait-pkl"``); ``root``: the dataset directory.
    """

    def __init__(self, root: Path, manifest: Manifest, fmt: str):
        self.root = root
        self.manifest = manifest
        self.format = fmt
        self._records = manifest.record_by_key()

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"<gaitprep.Dataset {m.name!r}: {m.modality}, {len(m.records)} sequences, {self.format}, "
            f"primary array {m.layout.primary!r} at {self.root}>"
        )

    # --- what is in it ---------------------------------------------------------------------------------

    @property
    def primary(self) -> str:
        """The name of each sequence's main array (``maps``, ``silhouette``, ``pav``...)."""
        return self.manifest.layout.primary

    @property
    def arrays(self) -> tuple[str, ...]:
        """Every array name a sequence holds."""
        return tuple(sorted(self.manifest.layout.arrays))

    @property
    def class_order(self) -> dict[str, int]:
        """Class name -> label index, e.g. ``{"negative": 0, "neutral": 1, "positive": 2}``."""
        return dict(self.manifest.class_order)

    def keys(self, split: str | None = None) -> list[str]:
        """Sequence keys ``id/class/view`` in the manifest's (sorted) order; only ``split``'s when given."""
        if split is not None and split not in SPLITS:
            raise BadInputError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)} or None")
        return [r.key for r in self.manifest.split_records(split)]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, key: object) -> bool:
        return key in self._records

    def record(self, key: str) -> SequenceRecord:
        """The manifest's record of sequence ``key`` (split, frames, files, digests, statistics)."""
        try:
            return self._records[key]
        except KeyError:
            raise KeyError(f"{key!r} is not a sequence of {self.root} (keys are 'id/class/view')") from None

    def label(self, key: str) -> int:
        """The class index of sequence ``key`` in the manifest's class order."""
        return self.manifest.class_order[self.record(key).label]

    # --- reading ---------------------------------------------------------------------------------------

    def __getitem__(self, key: str) -> np.ndarray:
        """The primary array of sequence ``key`` as stored (e.g. uint8 (T, 2, 64, 64)), verified."""
        return self._read_array(self.record(key))

    def read(self, key: str, array: str | None = None) -> np.ndarray:
        """One named array of sequence ``key`` (default: the primary one), verified."""
        return self._read_array(self.record(key), array)

    def load(
        self, split: str | None = None, *, transform: bool = False, array: str | None = None, threads: int = 0
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Every sequence of ``split`` (None: all) in ``keys(split)`` order: ``(arrays, labels)``.

        ``labels`` is int64 (N,) in the manifest's class order. ``transform=True`` applies the manifest's
        load transform (:func:`load_transform`: cut and scale to float32 in [0, 1]) to image arrays.
        ``threads``: concurrent reads (0: up to 4, bounded by the CPU count).
        """
        keys = self.keys(split)
        if not keys:
            raise BadInputError(f"the dataset holds no {split} sequences", self.root)
        records = [self._records[k] for k in keys]
        n = threads or min(4, os.cpu_count() or 1)

        def one(rec: SequenceRecord) -> np.ndarray:
            arr = self._read_array(rec, array)
            return load_transform(arr) if transform else arr

        if n <= 1:
            arrays = [one(r) for r in records]
        else:
            with ThreadPoolExecutor(max_workers=n) as pool:
                arrays = list(pool.map(one, records))
        labels = np.array([self.manifest.class_order[r.label] for r in records], dtype=np.int64)
        return arrays, labels

    def _read_array(self, record: SequenceRecord, array: str | None = None) -> np.ndarray:
        """The one place this module reads data: ``gaitprep.io.verified.read_sequence_verified`` reads each
        file of the array once, checks its size and sha256 against the manifest, and decodes those bytes."""
        from gaitprep.io.verified import read_sequence_verified

        name = array or self.primary
        if name not in self.manifest.layout.arrays:
            raise BadInputError(
                f"the dataset has no array {name!r} (arrays: {', '.join(self.arrays)})", self.root
            )
        return read_sequence_verified(self.root, self.manifest, record, name, self.format)

def open_dataset(path: str | os.PathLike[str], *, format: str | None = None) -> Dataset:
    """Open the dataset at ``path`` (its directory or its ``manifest.json``).

    ``format``: ``"zarr"`` or ``"opengait-pkl"`` when the dataset stores both (default: Zarr when present).
    Raises :class:`~gaitprep.errors.BadInputError` for a malformed manifest and
    :class:`~gaitprep.errors.VerificationError` when the dataset does not match it (quick level).
    """
    from gaitprep.verify import quick_check

    manifest = quick_check(path)
    root = Path(path) if Path(path).is_dir() else Path(path).parent
    formats = manifest.layout.formats
    fmt = format or ("zarr" if "zarr" in formats else formats[0])
    if fmt not in formats:
        raise BadInputError(f"format {fmt!r} is not stored here (stored: {', '.join(formats)})", root)
    return Dataset(root, manifest, fmt)
