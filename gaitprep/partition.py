"""Upstream partition files: ``{"TRAIN_SET": [ids], "TEST_SET": [ids]}`` with 5-digit string ids.

The exact bytes are hashed (sha256) because the split is part of every result's identity.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from gaitprep.errors import BadInputError
from gaitprep.io.atomic import atomic_write_bytes
from gaitprep.io.bounds import MAX_SMALL_FILE_BYTES, loads_json, read_regular_file

DEFAULT_RATIO = "1:1:8"
"""TRAIN class ratio positive:neutral:negative of upstream's main partition (``Scoliosis1K_118.json``): the
default of ``gaitprep split`` and ``gaitprep synth``."""


@dataclass(frozen=True)
class Partition:
    """A train/test split. ``train`` and ``test`` are sorted tuples of sequence ids."""

    name: str
    sha256: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    path: str | None = None  # where it was read from, to name it in errors

    def split_of(self, seq_id: str) -> str | None:
        """``"train"``, ``"test"`` or None when the id is in neither list."""
        if seq_id in self._train_set:
            return "train"
        if seq_id in self._test_set:
            return "test"
        return None

    @property
    def _train_set(self) -> frozenset[str]:
        return frozenset(self.train)

    @property
    def _test_set(self) -> frozenset[str]:
        return frozenset(self.test)


def parse_partition(data: bytes, name: str, path: object | None = None) -> Partition:
    """Parse and validate partition bytes; every problem names ``path``."""
    where = path if path is not None else name
    doc = loads_json(data, where, "partition")
    if not isinstance(doc, dict) or set(doc) != {"TRAIN_SET", "TEST_SET"}:
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise BadInputError(f"partition must hold exactly TRAIN_SET and TEST_SET, found {keys}", where)
    lists = {}
    for key in ("TRAIN_SET", "TEST_SET"):
        ids = doc[key]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise BadInputError(f"{key} must be a list of string ids", where)
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise BadInputError(f"{key} lists ids more than once: {dup}", where)
        lists[key] = ids
    overlap = sorted(set(lists["TRAIN_SET"]) & set(lists["TEST_SET"]))
    if overlap:
        shown = ", ".join(overlap[:5]) + (" ..." if len(overlap) > 5 else "")
        raise BadInputError(f"{len(overlap)} ids are in both TRAIN_SET and TEST_SET: {shown}", where)
    return Partition(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        train=tuple(sorted(lists["TRAIN_SET"])),
        test=tuple(sorted(lists["TEST_SET"])),
        path=None if path is None else str(path),
    )


def load_partition(path: str | Path) -> Partition:
    """Read a partition file; the name is the file stem (e.g. ``Scoliosis1K_118``)."""
    path = Path(path)
    data = read_regular_file(path, MAX_SMALL_FILE_BYTES, "partition")
    return parse_partition(data, path.stem, path)


def partition_bytes(train: list[str], test: list[str]) -> bytes:
    """Serialise in the upstream style (4-space indent, order as given)."""
    return (json.dumps({"TRAIN_SET": list(train), "TEST_SET": list(test)}, indent=4) + "\n").encode()


def write_partition(path: str | Path, train: list[str], test: list[str]) -> Partition:
    """Write a partition file atomically and return it parsed back."""
    data = partition_bytes(train, test)
    path = Path(path)
    atomic_write_bytes(path, data)
    return parse_partition(data, path.stem, path)


def check_ids_present(partition: Partition, ids_on_disk: set[str], path: object | None = None) -> None:
    """Fail when the partition names ids that the tree does not hold."""
    missing = sorted((set(partition.train) | set(partition.test)) - ids_on_disk)
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise BadInputError(
            f"partition {partition.name} lists {len(missing)} ids that are not on disk: {shown}",
            path if path is not None else (partition.path or partition.name),
        )
