"""Where a dataset's arrays live on disk, and how they are written and read back.

Zarr v3 (default): ``data.zarr/<id>/<class>/<view>/<array>``, one zstd-3 chunk per sequence array, so
workers write disjoint groups and a resumed build can redo one sequence alone. Training reads whole arrays
into RAM once, so per-sequence arrays cost little (engineering notes §3.3).

OpenGait pickle tree: ``<id>/<class>/<view>/<view>.pkl`` for the primary array (what OpenGait loads);
any other array of a sequence goes beside it as ``<view>.<array>.pkl``.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.io.atomic import atomic_write_bytes
from gaitprep.io.safe_pickle import dump_array_pickle, load_array_pickle
from gaitprep.io.tree import sha256_file
from gaitprep.io.zarr_v3 import consolidate, group_document, write_array, write_group
from gaitprep.manifest import ArraySpec, FileEntry, Layout, SequenceRecord

ZARR_DIR = "data.zarr"
ZSTD_LEVEL = 3
# Zarr ``dimension_names`` for the manifest's axis letters, so that xarray and other readers name them.
DIMENSION_NAMES = {
    "T": "frame",
    "C": "channel",
    "H": "y",
    "W": "x",
    "J": "joint",
    "xyc": "component",
    "pair": "pair",
    "metric": "metric",
}


def dimension_names(spec: ArraySpec) -> tuple[str, ...]:
    """``("frame", "channel", "y", "x")`` for maps, ``("frame", "y", "x")`` silhouettes, ``("pair", "metric")``
    PAV: the manifest's axes spelled out (an unknown letter is kept as it is)."""
    return tuple(DIMENSION_NAMES.get(axis, axis) for axis in spec.axes)


def seq_path(seq_id: str, label: str, view: str) -> str:
    return f"{seq_id}/{label}/{view}"


def pkl_path(seq_id: str, label: str, view: str, array: str, primary: str) -> str:
    name = f"{view}.pkl" if array == primary else f"{view}.{array}.pkl"
    return f"{seq_path(seq_id, label, view)}/{name}"


def init_zarr_root(dataset_dir: Path) -> None:
    """Create the store's root group unless it exists (written directly: see :mod:`gaitprep.io.zarr_v3`)."""
    root = dataset_dir / ZARR_DIR
    if not (root / "zarr.json").exists():
        with _name_os_errors(root):
            atomic_write_bytes(root / "zarr.json", group_document(), fsync=False)


def finalize_zarr_root(dataset_dir: Path, attrs: dict[str, Any]) -> None:
    """Describe the store at its root and consolidate its metadata, deterministically.

    ``attrs`` (the dataset's name, modality, content digest ...) become the root group's attributes; every
    node's metadata is then consolidated into the root ``zarr.json`` (so a reader opens the store with one
    file read) and that file is rewritten with sorted keys, so its bytes depend only on what the store
    holds, never on the order in which workers wrote sequences or the file system lists them. The same
    bytes ``zarr.consolidate_metadata`` writes, made without zarr's event loop (:mod:`gaitprep.io.zarr_v3`).
    """
    root_dir = dataset_dir / ZARR_DIR
    with _name_os_errors(root_dir):
        consolidate(root_dir, attrs)


def remove_sequence(dataset_dir: Path, seq_id: str, label: str, view: str) -> None:
    """Delete whatever a sequence left behind (an interrupted write) before it is redone."""
    for base in (dataset_dir / ZARR_DIR, dataset_dir):
        target = base / seq_path(seq_id, label, view)
        if target.exists():
            shutil.rmtree(target)


def _file_entry(dataset_dir: Path, path: Path) -> FileEntry:
    rel = path.relative_to(dataset_dir).as_posix()
    return FileEntry(path=rel, bytes=path.stat().st_size, sha256=sha256_file(path))


def _files_under(dataset_dir: Path, sub: Path) -> list[FileEntry]:
    return [_file_entry(dataset_dir, p) for p in sorted(p for p in sub.rglob("*") if p.is_file())]


@contextmanager
def _name_os_errors(path: Path) -> Iterator[None]:
    """An OSError without a file name (e.g. from creating a folder on a full disk) names the node written."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def write_sequence(
    dataset_dir: Path,
    seq_id: str,
    label: str,
    view: str,
    arrays: dict[str, np.ndarray],
    layout: Layout,
    attrs: dict[str, Any] | None = None,
) -> list[FileEntry]:
    """Write one sequence's arrays in every format of ``layout``; returns the files written.

    The sequence's Zarr group carries attributes ``id``, ``class``, ``view`` and the caller's ``attrs`` (the
    build adds ``class_index``, ``class_folder``, ``split``, ``frames``); each array carries the same plus
    ``array`` and ``channels`` (the channel names in order), and ``dimension_names`` from the layout's axes.
    """
    files: list[FileEntry] = []
    where = seq_path(seq_id, label, view)
    if "zarr" in layout.formats:
        root = dataset_dir / ZARR_DIR
        sequence = {"id": seq_id, "class": label, "view": view, **(attrs or {})}
        group_dir = root / where
        with _name_os_errors(group_dir):
            groups = write_group(root, where, sequence)
        for name in sorted(arrays):
            arr = np.ascontiguousarray(arrays[name])
            spec = layout.arrays.get(name)
            dims = dimension_names(spec) if spec is not None else ()
            described = {
                **sequence,
                "array": name,
                "channels": list(spec.channels) if spec is not None else [],
            }
            with _name_os_errors(group_dir / name):
                write_array(
                    group_dir / name, arr, ZSTD_LEVEL, described, dims if len(dims) == arr.ndim else None
                )
        # This sequence's own files and the groups above it; never a sibling view's files of the same id,
        # which another worker may be writing at this moment.
        files += [_file_entry(dataset_dir, root / rel) for rel in groups[:-1]]  # the id and class groups
        files += _files_under(dataset_dir, group_dir)
    if "opengait-pkl" in layout.formats:
        for name in sorted(arrays):
            dump_array_pickle(arrays[name], dataset_dir / pkl_path(seq_id, label, view, name, layout.primary))
        files += _files_under(dataset_dir, dataset_dir / where)
    return sorted(files, key=lambda f: f.path)


_FAST_DTYPES = frozenset(
    {"uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "float32", "float64"}
)


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def zstd_content_size(frame: bytes) -> int | None:
    """The decompressed size a zstd frame header declares (RFC 8878 §3.1.1.1), or None when it declares
    none (or is not a zstd frame)."""
    if len(frame) < 6 or frame[:4] != _ZSTD_MAGIC:
        return None
    descriptor = frame[4]
    fcs_flag, single_segment, dict_flag = descriptor >> 6, (descriptor >> 5) & 1, descriptor & 3
    size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    if size == 0:
        return None
    start = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[dict_flag]
    field = frame[start : start + size]
    if len(field) != size:
        return None
    value = int.from_bytes(field, "little")
    return value + 256 if size == 2 else value


def _read_single_chunk(array_dir: Path) -> np.ndarray | None:
    """Decode an array exactly as :func:`write_sequence` stores it (one chunk holding the whole array,
    ``bytes`` little-endian then ``zstd``) straight from its two files, or None for anything else (the
    caller then asks zarr). zarr's own read costs about 1 ms of machinery per array (engineering notes
    §3.2), which made loading a split from Zarr 2-4x slower than from pickles."""
    try:
        meta = json.loads((array_dir / "zarr.json").read_bytes())
        shape = tuple(meta["shape"])
        chunk_file = array_dir / "c" / "/".join("0" for _ in shape) if shape else None
        simple = (
            meta.get("zarr_format") == 3
            and meta.get("node_type") == "array"
            and meta.get("data_type") in _FAST_DTYPES
            and meta.get("chunk_grid") == {"name": "regular", "configuration": {"chunk_shape": list(shape)}}
            and meta.get("chunk_key_encoding") == {"name": "default", "configuration": {"separator": "/"}}
            and not meta.get("storage_transformers")
            and [c.get("name") for c in meta.get("codecs", ())] == ["bytes", "zstd"]
            and meta["codecs"][0].get("configuration", {}).get("endian", "little") == "little"
            and chunk_file is not None
            and all(n > 0 for n in shape)
        )
        if not simple:
            return None
        data = chunk_file.read_bytes()
        out = np.empty(shape, dtype=np.dtype(meta["data_type"]).newbyteorder("<"))
        # Decoding into ``out`` saves a copy, but zstd fills only what the frame holds: the frame must
        # declare exactly out's size (a second frame would then overflow ``out`` and fail).
        if zstd_content_size(data) != out.nbytes:
            return None
        _zstd().decode(data, out=out)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError):
        return None  # let zarr read it, or say why it cannot
    return out


@functools.cache
def _zstd() -> Any:
    from numcodecs import Zstd

    return Zstd()


def read_sequence(
    dataset_dir: Path,
    record: SequenceRecord,
    layout: Layout,
    names: list[str] | None = None,
    fmt: str | None = None,
) -> dict[str, np.ndarray]:
    """Read a sequence's arrays back (Zarr preferred when both formats are present)."""
    fmt = fmt or ("zarr" if "zarr" in layout.formats else "opengait-pkl")
    names = names or sorted(layout.arrays)
    out: dict[str, np.ndarray] = {}
    if fmt == "zarr":
        import zarr
        from zarr.storage import LocalStore

        store = LocalStore(dataset_dir / ZARR_DIR, read_only=True)
        for name in names:
            key = f"{seq_path(record.id, record.label, record.view)}/{name}"
            try:
                fast = _read_single_chunk(dataset_dir / ZARR_DIR / key)
                out[name] = fast if fast is not None else zarr.open_array(store, path=key, mode="r")[...]
            except Exception as exc:  # zarr raises several types for missing/corrupt nodes
                raise BadInputError(
                    f"cannot read array {key} ({type(exc).__name__}: {exc})", dataset_dir / ZARR_DIR
                ) from None
    else:
        for name in names:
            out[name] = load_array_pickle(
                dataset_dir / pkl_path(record.id, record.label, record.view, name, layout.primary)
            )
    for name, arr in out.items():
        spec: ArraySpec = layout.arrays[name]
        if str(arr.dtype) != spec.dtype:
            raise BadInputError(
                f"array {name} of {record.key} has dtype {arr.dtype}, manifest says {spec.dtype}", dataset_dir
            )
    return out
