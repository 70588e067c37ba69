"""Verified reads: every consumer of a dataset reads its arrays through here.

``read_sequence_verified`` reads each stored file of an array ONCE into memory, hashes those bytes against
the sha256 the manifest records, and only then decodes the same bytes (a pickle through the restricted
unpickler; a Zarr array's metadata and chunk through zarr's own codecs, or, for the layout gaitprep writes,
one zstd chunk decoded directly). A changed, swapped, truncated or replaced file is a VerificationError
(exit 3) naming it; nothing is read twice.

The file is opened without following a final symlink and must be a regular file (a FIFO or device put in
its place is refused instead of hanging or reading without end); at most ``bytes + 1`` bytes are read.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from pathlib import Path

import numpy as np

from gaitprep.errors import BadInputError, VerificationError
from gaitprep.io.bounds import check_array_bytes, read_fd_upto
from gaitprep.io.safe_pickle import loads_restricted
from gaitprep.manifest import FileEntry, Layout, Manifest, SequenceRecord

ZARR_DIR = "data.zarr"  # kept equal to gaitprep.io.store.ZARR_DIR (io.store imports io.verified, never the reverse)


def _lexical_problem(rel: str) -> str | None:
    parts = rel.split("/")
    if not rel or rel.startswith(("/", "\\")) or "\\" in rel or "\0" in rel or ":" in parts[0]:
        return "path is absolute or not a plain relative path"
    if any(p in ("", ".", "..") for p in parts):
        return "path is not a plain relative path inside the dataset (empty, '.' or '..' component)"
    return None


def read_verified_bytes(root: Path, entry: FileEntry) -> bytes:
    """The bytes of ``root/entry.path``, checked against the entry's size and sha256 as they are read.

    Raises VerificationError (exit 3) naming the file when it is missing, not a regular file, of another
    size, or holds other bytes than the manifest records.
    """
    path = Path(root) / entry.path
    problem = _lexical_problem(entry.path)
    if problem:
        raise VerificationError(problem, path)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise VerificationError("listed file is missing", path) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VerificationError(
                "file is a symbolic link (the manifest lists a regular file)", path
            ) from None
        raise BadInputError(f"cannot read: {exc.strerror}", path) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise VerificationError("not a regular file (FIFO, socket, device or folder)", path)
        if st.st_size != entry.bytes:
            kind = "truncated" if st.st_size < entry.bytes else "changed"
            raise VerificationError(f"{kind}: {st.st_size} bytes, manifest says {entry.bytes}", path)
        data = read_fd_upto(fd, entry.bytes)
    except OSError as exc:
        raise BadInputError(f"cannot read: {exc.strerror}", path) from None
    finally:
        os.close(fd)
    if len(data) != entry.bytes:
        raise VerificationError(
            f"changed while reading: {len(data)} bytes, manifest says {entry.bytes}", path
        )
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise VerificationError("sha256 differs from the manifest (the file changed after writing)", path)
    return data


def _entries(record: SequenceRecord) -> dict[str, FileEntry]:
    return {f.path: f for f in record.files}


def _listed(entries: dict[str, FileEntry], rel: str, root: Path) -> FileEntry:
    entry = entries.get(rel)
    if entry is None:
        raise VerificationError("the manifest's record lists no such file", Path(root) / rel)
    return entry


def _pkl_rel(record: SequenceRecord, name: str, primary: str) -> str:
    base = f"{record.id}/{record.label}/{record.view}"
    return f"{base}/{record.view}.pkl" if name == primary else f"{base}/{record.view}.{name}.pkl"


def _read_pickle(root: Path, record: SequenceRecord, name: str, primary: str) -> np.ndarray:
    rel = _pkl_rel(record, name, primary)
    data = read_verified_bytes(root, _listed(_entries(record), rel, root))
    try:
        obj = loads_restricted(data)
    except BadInputError as exc:
        raise type(exc)(str(exc), Path(root) / rel) from None
    if not isinstance(obj, np.ndarray):
        raise BadInputError(f"pickle holds {type(obj).__name__}, expected a numpy array", Path(root) / rel)
    return obj


def _fast_zarr(meta: dict, files: dict[str, bytes], prefix: str) -> np.ndarray | None:
    """Decode the layout gaitprep writes (one chunk, bytes little-endian + zstd) directly; else None."""
    try:
        shape = tuple(int(n) for n in meta["shape"])
        grid = meta["chunk_grid"]
        codecs = meta["codecs"]
        dtype = np.dtype(meta["data_type"])
        bytes_codec = codecs[0]
        # zarr writes no endianness for one-byte types: {"name": "bytes"}
        endian = (bytes_codec.get("configuration") or {}).get(
            "endian", "little" if dtype.itemsize == 1 else None
        )
        if (
            meta.get("zarr_format") != 3
            or meta.get("node_type") != "array"
            or grid.get("name") != "regular"
            or tuple(grid["configuration"]["chunk_shape"]) != tuple(max(n, 1) for n in shape)
            or meta["chunk_key_encoding"] != {"name": "default", "configuration": {"separator": "/"}}
            or len(codecs) != 2
            or bytes_codec.get("name") != "bytes"
            or endian != "little"
            or codecs[1].get("name") != "zstd"
            or dtype.kind not in "biufc"
            or not shape
        ):
            return None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if 0 in shape:  # an empty array has no chunk (gaitprep.io.zarr_v3.write_array)
        return np.empty(shape, dtype=dtype) if len(files) == 1 else None
    chunk = files.get(prefix + "c/" + "/".join("0" * len(shape)))
    if chunk is None or len(files) != 2:
        return None
    from numcodecs import Zstd

    expected = int(np.prod(shape)) * dtype.itemsize
    check_array_bytes(shape, dtype.itemsize, prefix)
    raw = bytearray(expected)  # decoded in place: the array is writable, as zarr's would be
    try:
        n = len(Zstd().decode(chunk, out=raw))
    except (RuntimeError, ValueError) as exc:
        raise BadInputError(f"chunk does not decode ({exc}); expected {expected} bytes") from None
    if n != expected:
        raise BadInputError(f"chunk decodes to {n} bytes, expected {expected}")
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).reshape(shape).astype(dtype, copy=False)


def _zarr_from_bytes(files: dict[str, bytes], prefix: str) -> np.ndarray:
    """Any Zarr v3 array, decoded by zarr from an in-memory store over the verified bytes."""
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import MemoryStore

    proto = default_buffer_prototype()
    store = MemoryStore({k[len(prefix) :]: proto.buffer.from_bytes(v) for k, v in files.items()})
    return zarr.open_array(store, mode="r")[...]


def _read_zarr(root: Path, record: SequenceRecord, name: str) -> np.ndarray:
    prefix = f"{ZARR_DIR}/{record.id}/{record.label}/{record.view}/{name}/"
    entries = [f for f in record.files if f.path.startswith(prefix)]
    meta_rel = prefix + "zarr.json"
    if not any(f.path == meta_rel for f in entries):
        raise VerificationError("the manifest's record lists no such file", Path(root) / meta_rel)
    files = {f.path: read_verified_bytes(root, f) for f in entries}
    where = Path(root) / prefix.rstrip("/")
    try:
        meta = json.loads(files[meta_rel])
        arr = _fast_zarr(meta, files, prefix) if isinstance(meta, dict) else None
        if arr is None:
            arr = _zarr_from_bytes(files, prefix)
    except BadInputError as exc:
        raise BadInputError(str(exc), where) from None
    except Exception as exc:  # zarr and the codecs raise several types for malformed content
        raise BadInputError(f"cannot decode the array ({type(exc).__name__}: {exc})", where) from None
    return arr


def read_sequence_verified(
    dataset_dir: str | Path,
    manifest: Manifest | Layout,
    record: SequenceRecord,
    array_name: str | None = None,
    fmt: str | None = None,
) -> np.ndarray:
    """One array of one sequence (default: the layout's primary), its files checked as they are read.

    ``manifest``: the dataset's manifest (only its layout is used, so a worker may pass the Layout alone);
    ``fmt``: ``zarr`` or ``opengait-pkl`` (default: Zarr when the dataset has it). The array's dtype and
    shape must be what the manifest records. Raises VerificationError (exit 3) naming the file when a
    file's bytes differ from the manifest, BadInputError when verified bytes do not decode.
    """
    root = Path(dataset_dir)
    layout = manifest.layout if isinstance(manifest, Manifest) else manifest
    name = array_name or layout.primary
    if name not in layout.arrays:
        raise BadInputError(
            f"the dataset has no array {name!r} (it holds {', '.join(sorted(layout.arrays))})", root
        )
    fmt = fmt or ("zarr" if "zarr" in layout.formats else "opengait-pkl")
    if fmt not in layout.formats:
        raise BadInputError(f"the dataset has no {fmt} copy (it holds {', '.join(layout.formats)})", root)
    arr = (
        _read_zarr(root, record, name) if fmt == "zarr" else _read_pickle(root, record, name, layout.primary)
    )
    expected = record.arrays.get(name)
    spec = layout.arrays[name]
    if str(arr.dtype) != spec.dtype or (expected is not None and tuple(arr.shape) != tuple(expected.shape)):
        shape = tuple(expected.shape) if expected is not None else "?"
        raise VerificationError(
            f"array {name} of {record.key} is {arr.dtype} {tuple(arr.shape)}, manifest says {spec.dtype} {shape}",
            root,
        )
    return arr
