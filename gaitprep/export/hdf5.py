"""HDF5 export of a dataset (one file: the manifest as an attribute, one chunked gzip dataset per
sequence array) and its read-back.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.errors import BadInputError, VerificationError
from gaitprep.export.common import (
    ARRAY_SEPARATOR,
    HDF5_CHUNK_FRAMES,
    HDF5_FORMAT,
    HDF5_FORMAT_VERSION,
    HDF5_GZIP_LEVEL,
    HDF5_LIBVER,
    ExportResult,
    _check_outside,
    _file_result,
    _open_dataset,
)
from gaitprep.io.atomic import atomic_write_bytes
from gaitprep.io.store import seq_path
from gaitprep.manifest import (
    Layout,
    Manifest,
    SequenceRecord,
    array_digest,
)


def hdf5_name(record: SequenceRecord, array: str, primary: str) -> str:
    """The HDF5 path of one array: ``/<id>/<label>/<view>``, or ``.../<view>__<array>`` if not primary."""
    base = "/" + seq_path(record.id, record.label, record.view)
    return base if array == primary else f"{base}{ARRAY_SEPARATOR}{array}"


def export_hdf5(dataset: str | Path, out: str | Path, *, quiet: bool = False) -> ExportResult:
    """Write every array of ``dataset`` into one HDF5 file ``out`` (layout in the module docstring)."""
    import h5py

    from gaitprep.io.verified import read_sequence_verified
    from gaitprep.progress import progress

    manifest, root = _open_dataset(dataset)
    out = Path(out)
    _check_outside(root, out)
    layout = manifest.layout
    names = {hdf5_name(r, a, layout.primary) for r in manifest.records for a in layout.arrays}
    if len(names) != len(manifest.records) * len(layout.arrays):
        raise BadInputError(
            f"array names collide in the HDF5 layout (a view name contains {ARRAY_SEPARATOR!r})", root
        )
    manifest_text = (root / "manifest.json").read_text(encoding="utf-8")
    # Built in memory, then written atomically: HDF5 crashes the process when a write to disk fails
    # (a full disk), and a file-like target keeps every I/O error on our side of the fence.
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", libver=HDF5_LIBVER) as h5:
        attrs = {
            "format": HDF5_FORMAT,
            "format_version": HDF5_FORMAT_VERSION,
            "name": manifest.name,
            "modality": manifest.modality,
            "primary": layout.primary,
            "content_digest": manifest.content_digest,
            "manifest": manifest_text,
        }
        for key in sorted(attrs):
            h5.attrs[key] = attrs[key]
        records = sorted(manifest.records, key=lambda r: r.key)
        for rec in progress(records, total=len(records), desc=f"hdf5 {manifest.name}", quiet=quiet):
            for array_name in sorted(layout.arrays):
                arr = read_sequence_verified(root, manifest, rec, array_name)
                _write_h5_array(h5, hdf5_name(rec, array_name, layout.primary), arr, rec, array_name)
    atomic_write_bytes(out, buffer.getvalue())
    details = {"primary": layout.primary, "arrays": sorted(layout.arrays)}
    return _file_result("hdf5", out, root, manifest, details)


def _write_h5_array(h5: Any, name: str, arr: np.ndarray, rec: SequenceRecord, array_name: str) -> None:
    arr = np.ascontiguousarray(arr)
    kwargs: dict[str, Any] = {"track_times": False}
    if arr.ndim >= 1 and arr.size:
        kwargs.update(
            chunks=(min(arr.shape[0], HDF5_CHUNK_FRAMES), *arr.shape[1:]),
            compression="gzip",
            compression_opts=HDF5_GZIP_LEVEL,
        )
    ds = h5.create_dataset(name, data=arr, **kwargs)
    ds.attrs["array"] = array_name
    ds.attrs["class_folder"] = rec.class_folder
    # The digest of what was written, computed here; it must equal the manifest's (the bytes were
    # verified as read, so a difference means the manifest itself is inconsistent).
    written = array_digest(arr)
    if written != rec.arrays[array_name].digest:
        raise VerificationError(f"array {array_name} of {rec.key} does not match the manifest's digest", name)
    ds.attrs["digest"] = written
    ds.attrs["frames"] = int(rec.frames)
    ds.attrs["split"] = rec.split or ""


def read_hdf5_manifest(path: str | Path) -> Manifest:
    """The manifest embedded in an HDF5 export (root attribute ``manifest``)."""
    import h5py

    path = Path(path)
    with _open_h5(path, h5py) as h5:
        text = h5.attrs.get("manifest")
    if text is None:
        raise BadInputError("HDF5 file has no embedded manifest (not a gaitprep export)", path)
    try:
        return Manifest.model_validate_json(text)
    except ValueError as exc:
        raise BadInputError(f"embedded manifest does not match the schema ({exc})", path) from None


def read_hdf5_sequence(path: str | Path, record: SequenceRecord, layout: Layout) -> dict[str, np.ndarray]:
    """Read one sequence's arrays back from an HDF5 export, by array name."""
    import h5py

    path = Path(path)
    out: dict[str, np.ndarray] = {}
    with _open_h5(path, h5py) as h5:
        for array_name in sorted(layout.arrays):
            key = hdf5_name(record, array_name, layout.primary)
            if key not in h5:
                raise BadInputError(f"HDF5 file has no dataset {key}", path)
            out[array_name] = h5[key][...]
    return out


def _open_h5(path: Path, h5py: Any) -> Any:
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise BadInputError(f"cannot open as an HDF5 file ({exc})", path) from None
