"""Zarr v3 groups and arrays written as plain files, without zarr's event loop.

zarr's own API runs every call as a coroutine on one background event-loop thread and waits for it
(``zarr.core.sync.sync``); a lost wake-up of that thread once hung a build for ever. Here the same files are
produced by plain synchronous code: the ``zarr.json`` documents come from zarr's own metadata classes
(``GroupMetadata`` / ``ArrayV3Metadata`` ``.to_buffer_dict``, which never touch the loop), the single chunk
from the codec zarr would use (``bytes`` little-endian, then numcodecs' zstd with the configuration the
metadata declares), and each file goes through :func:`gaitprep.io.atomic.atomic_write_bytes`. The bytes are
those ``zarr.create_group`` / ``create_array`` / ``consolidate_metadata`` write (tests compare them), and
zarr still reads what we write.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.errors import GaitprepError
from gaitprep.io.atomic import atomic_write_bytes

ZARR_JSON = "zarr.json"
# numpy kinds stored with the ``bytes`` codec: booleans, integers, floats, complex numbers.
STORABLE_KINDS = "biufc"


def _json_bytes(metadata: Any) -> bytes:
    from zarr.core.buffer import default_buffer_prototype

    return metadata.to_buffer_dict(default_buffer_prototype())[ZARR_JSON].to_bytes()


def group_document(attributes: dict[str, Any] | None = None) -> bytes:
    """The ``zarr.json`` of a group holding ``attributes``, byte for byte as zarr writes it."""
    from zarr.core.group import GroupMetadata

    return _json_bytes(GroupMetadata(attributes=dict(attributes or {})))


def _little_endian(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in STORABLE_KINDS:
        raise GaitprepError(
            f"cannot store dtype {arr.dtype} in Zarr (expected bool, int, uint, float, complex)"
        )
    return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))


def _codecs(level: int) -> tuple[Any, Any]:
    from zarr.codecs import BytesCodec, ZstdCodec

    return BytesCodec(endian="little"), ZstdCodec(level=level)


def array_document(
    arr: np.ndarray,
    level: int,
    attributes: dict[str, Any] | None = None,
    dimension_names: Sequence[str] | None = None,
) -> bytes:
    """The ``zarr.json`` of ``arr`` stored as one chunk (``bytes`` little-endian, then zstd at ``level``).

    An array with a zero-length axis has no chunk; its chunk shape is then 1 along that axis (zarr needs
    positive chunk sides). ``dimension_names``: one per axis, or None.
    """
    from zarr.core.dtype import get_data_type_from_native_dtype
    from zarr.core.metadata.v3 import ArrayV3Metadata

    arr = _little_endian(arr)
    zdtype = get_data_type_from_native_dtype(arr.dtype)
    meta = ArrayV3Metadata(
        shape=arr.shape,
        data_type=zdtype,
        chunk_grid={"name": "regular", "configuration": {"chunk_shape": [max(n, 1) for n in arr.shape]}},
        chunk_key_encoding={"name": "default", "configuration": {"separator": "/"}},
        fill_value=zdtype.default_scalar(),
        codecs=_codecs(level),
        attributes=dict(attributes or {}),
        dimension_names=tuple(dimension_names) if dimension_names else None,
    )
    return _json_bytes(meta)


def encode_chunk(arr: np.ndarray, level: int) -> bytes:
    """The one chunk holding all of ``arr``: its C-order little-endian bytes, zstd-compressed with the
    configuration zarr's ``ZstdCodec(level=level)`` declares (the codec zarr itself encodes with)."""
    from numcodecs.zstd import Zstd

    config = _codecs(level)[1].to_dict()["configuration"]
    return bytes(Zstd.from_config(config).encode(_little_endian(arr).tobytes()))


def chunk_key(shape: tuple[int, ...]) -> str:
    """``c/0/0/0`` for a 3-D array stored as one chunk (the default key encoding, ``/`` separator)."""
    return "/".join(["c", *("0" for _ in shape)]) if shape else "c"


def write_group(root: Path, path: str, attributes: dict[str, Any] | None = None) -> list[str]:
    """Create the group ``root/path`` and every missing group above it (one that exists is kept, as zarr
    keeps it). Returns the ``zarr.json`` of every group below ``root`` down to this one, relative to
    ``root``, outermost first (``["a/zarr.json", "a/b/zarr.json"]`` for ``path="a/b"``)."""
    parts = path.split("/")
    if not path or "" in parts:
        raise ValueError(f"not a group path below the root: {path!r}")
    for i in range(len(parts)):
        rel = "/".join([*parts[:i], ZARR_JSON])
        if not (root / rel).exists():
            atomic_write_bytes(root / rel, group_document(), fsync=False)
    rel = "/".join([*parts, ZARR_JSON])
    if (root / rel).exists():
        raise GaitprepError("a Zarr node already exists here", root / rel)
    atomic_write_bytes(root / rel, group_document(attributes), fsync=False)
    return ["/".join([*parts[: i + 1], ZARR_JSON]) for i in range(len(parts))]


def write_array(
    array_dir: Path,
    arr: np.ndarray,
    level: int,
    attributes: dict[str, Any] | None = None,
    dimension_names: Sequence[str] | None = None,
) -> None:
    """Write ``arr`` as a Zarr v3 array at ``array_dir``: its ``zarr.json`` and, unless it is empty, its one
    chunk (written even when all zero, so the file list never depends on the content)."""
    arr = np.ascontiguousarray(arr)
    atomic_write_bytes(
        array_dir / ZARR_JSON, array_document(arr, level, attributes, dimension_names), fsync=False
    )
    if arr.size:
        atomic_write_bytes(array_dir / chunk_key(arr.shape), encode_chunk(arr, level), fsync=False)


def _node(doc: dict[str, Any]) -> Any:
    from zarr.core.group import ConsolidatedMetadata, GroupMetadata
    from zarr.core.metadata.v3 import ArrayV3Metadata

    if doc.get("node_type") == "array":
        return ArrayV3Metadata.from_dict(doc)
    group = GroupMetadata.from_dict(doc)
    if group.consolidated_metadata is None:  # as zarr marks a consolidated child group: "no children here"
        group = dataclasses.replace(group, consolidated_metadata=ConsolidatedMetadata(metadata={}))
    return group


def _members(root: Path, prefix: str = "") -> dict[str, Any]:
    """Every node below ``root`` by its path, as zarr's ``Group.members(max_depth=None)`` finds them: a
    folder without ``zarr.json`` is no node and is not entered; an array's folder is not entered."""
    found: dict[str, Any] = {}
    base = root / prefix if prefix else root
    for child in sorted(p for p in base.iterdir() if p.is_dir()):
        meta = child / ZARR_JSON
        if not meta.is_file():
            continue
        key = f"{prefix}/{child.name}" if prefix else child.name
        node = _node(json.loads(meta.read_bytes()))
        found[key] = node
        if node.node_type == "group":
            found.update(_members(root, key))
    return found


def consolidate(root: Path, attributes: dict[str, Any]) -> None:
    """Give the root group ``attributes`` and consolidate every node's metadata into its ``zarr.json``,
    as ``group.attrs.put(attributes)`` then ``zarr.consolidate_metadata`` do, then rewrite that file with
    sorted keys and compact separators, so its bytes depend only on what the store holds."""
    from zarr.core.group import ConsolidatedMetadata, GroupMetadata

    meta_path = root / ZARR_JSON
    group = GroupMetadata.from_dict(json.loads(meta_path.read_bytes()))
    group = dataclasses.replace(
        group,
        attributes=dict(attributes),
        consolidated_metadata=ConsolidatedMetadata(metadata=_members(root)),
    )
    doc = json.loads(_json_bytes(group))
    atomic_write_bytes(meta_path, (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode())
