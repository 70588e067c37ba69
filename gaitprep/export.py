"""Interoperability exports of a gaitprep dataset, and the import of keypoints stored the same way.

Three exports, each written atomically (a temporary file beside the target, then a rename) after the
dataset verifies at the quick level; none may be written inside the dataset directory (an extra file would
make the dataset fail verification):

- ``hdf5``: one HDF5 file (h5py). Every sequence's primary array is the dataset ``/<id>/<label>/<view>``
  (``label`` the canonical class name); any other array of the sequence is a sibling dataset
  ``/<id>/<label>/<view>__<array>``. Each dataset carries the attributes ``split`` ("train", "test" or ""
  when the dataset has no partition), ``frames``, ``digest`` (the manifest's logical array digest),
  ``array`` (its name) and ``class_folder`` (the on-disk class spelling). The root carries ``manifest``
  (the manifest.json text, parseable with ``Manifest.model_validate_json``), ``format``
  (``gaitprep-hdf5``), ``format_version``, ``primary``, ``name``, ``modality`` and ``content_digest``.
  Arrays are gzip-4 compressed in chunks of up to 128 frames; no object holds a time stamp, so the same
  dataset gives byte-identical files with the same h5py/HDF5 build.
- ``croissant``: a Croissant 1.0 JSON-LD document (``croissant_document``): one ``cr:FileObject`` with
  sha256 and size for ``manifest.json`` and every data file, or, beyond ``max_file_objects`` files, one
  ``cr:FileSet`` per storage format plus the manifest FileObject (whose ``files[]`` lists every sha256);
  record sets ``sequences`` (one inline record per sequence) and ``labels`` (the class order).
  ``contentUrl``s are relative to the document's own folder.
- ``opengait-partition``: ``{"TRAIN_SET": [...], "TEST_SET": [...]}`` from the manifest's partition, in
  the upstream style (ids sorted; the original file's own order is not recorded, so its bytes may differ).

``import_keypoints`` reads ``/<id>/<class>/<view>`` float (T, 17, 3) datasets back into a pose-pkl tree
``<out>/<id>/<class>/<view>/<view>.pkl`` that ``gaitprep.datasets.build_poses`` accepts.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.errors import BadInputError, VerificationError
from gaitprep.io.atomic import atomic_write_bytes, atomic_write_json
from gaitprep.io.bounds import MAX_SEQUENCE_FRAMES, check_array_bytes
from gaitprep.io.safe_pickle import dump_array_pickle
from gaitprep.io.store import ZARR_DIR, pkl_path, seq_path
from gaitprep.io.tree import sha256_file, validate_pose_array
from gaitprep.manifest import (
    Layout,
    Manifest,
    SequenceRecord,
    array_digest,
    resolve_manifest_path,
)
from gaitprep.ownership import check_output_path, write_tree_marker
from gaitprep.partition import write_partition
from gaitprep.skeleton import canonical_class
from gaitprep.verify import quick_check

TARGETS: tuple[str, ...] = ("hdf5", "croissant", "opengait-partition")
HDF5_FORMAT = "gaitprep-hdf5"
HDF5_FORMAT_VERSION = 1
HDF5_LIBVER = ("v108", "v110")  # dense attribute storage (a large manifest), readable by HDF5 >= 1.10
HDF5_CHUNK_FRAMES = 128
HDF5_GZIP_LEVEL = 4
ARRAY_SEPARATOR = "__"
MAX_FILE_OBJECTS = 2000

CROISSANT_CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
# The recommended context of the Croissant 1.0 specification (appendix 1).
CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


@dataclass(frozen=True)
class ExportResult:
    """One written export file: what, where, from which dataset, and its own size and sha256."""

    target: str
    path: Path
    dataset: Path
    name: str
    sequences: int
    bytes: int
    sha256: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "path": str(self.path),
            "dataset": str(self.dataset),
            "name": self.name,
            "sequences": self.sequences,
            "bytes": self.bytes,
            "sha256": self.sha256,
            **self.details,
        }


@dataclass(frozen=True)
class ImportResult:
    """A pose-pkl tree written by ``import_keypoints``."""

    path: Path
    source: Path
    sequences: int
    frames: int
    skipped: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "source": str(self.source),
            "sequences": self.sequences,
            "frames": self.frames,
            "skipped": list(self.skipped),
        }


# --- shared helpers -------------------------------------------------------------------------------------


def _open_dataset(dataset: str | Path) -> tuple[Manifest, Path]:
    """Verify at the quick level (VerificationError, exit 3, on failure); return the manifest and root."""
    mpath = resolve_manifest_path(dataset)
    manifest = quick_check(mpath)
    return manifest, mpath.parent


def _check_outside(root: Path, out: Path) -> None:
    """The export file may not lie inside the dataset (or any dataset), nor be a directory."""
    check_output_path(out, inputs=[root], kind="file", option="FILE")


def _umask_mode(path: Path, base: int = 0o666) -> None:
    """Give a file written through a private temporary (0600) the usual permissions under the umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, base & ~mask)


def _file_result(
    target: str, out: Path, root: Path, manifest: Manifest, details: dict[str, Any]
) -> ExportResult:
    _umask_mode(out)
    return ExportResult(
        target=target,
        path=out,
        dataset=root,
        name=manifest.name,
        sequences=len(manifest.records),
        bytes=out.stat().st_size,
        sha256=sha256_file(out),
        details=details,
    )


def export_dataset(
    dataset: str | Path,
    target: str,
    out: str | Path,
    *,
    quiet: bool = False,
    license: str | None = None,
    url: str | None = None,
    cite_as: str | None = None,
    max_file_objects: int = MAX_FILE_OBJECTS,
) -> ExportResult:
    """Dispatch to ``export_hdf5``, ``export_croissant`` or ``export_opengait_partition`` by ``target``."""
    if target == "hdf5":
        return export_hdf5(dataset, out, quiet=quiet)
    if target == "croissant":
        return export_croissant(
            dataset, out, license=license, url=url, cite_as=cite_as, max_file_objects=max_file_objects
        )
    if target == "opengait-partition":
        return export_opengait_partition(dataset, out)
    raise BadInputError(f"unknown export target {target!r}; expected one of {', '.join(TARGETS)}")


# --- HDF5 -----------------------------------------------------------------------------------------------


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


# --- Croissant ------------------------------------------------------------------------------------------


def _encoding_format(path: str) -> str:
    return "application/json" if path.endswith(".json") else "application/octet-stream"


def _url(base: str, rel: str) -> str:
    return rel if base in ("", ".") else f"{base}/{rel}"


def _array_location(rec: SequenceRecord, layout: Layout) -> str:
    if "zarr" in layout.formats:
        return f"{ZARR_DIR}/{seq_path(rec.id, rec.label, rec.view)}/{layout.primary}"
    return pkl_path(rec.id, rec.label, rec.view, layout.primary, layout.primary)


def _field(record_set: str, name: str, data_type: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "@type": "cr:Field",
        "@id": f"{record_set}/{name}",
        "name": name,
        "description": description,
        "dataType": data_type,
        **extra,
    }


def croissant_document(
    manifest: Manifest,
    *,
    base: str,
    manifest_sha256: str,
    manifest_size: int,
    license: str | None = None,
    url: str | None = None,
    cite_as: str | None = None,
    max_file_objects: int = MAX_FILE_OBJECTS,
) -> dict[str, Any]:
    """A Croissant 1.0 metadata document for ``manifest`` (pure: no file I/O).

    ``base`` is the dataset directory relative to where the document will live (posix, "." when beside
    it); every ``contentUrl`` is ``base/<path from the manifest>``. With more than ``max_file_objects``
    data files, files are described by one FileSet per storage format instead of one FileObject each.
    """
    primary_spec = manifest.layout.arrays[manifest.layout.primary]
    frames = manifest.counts.get("frames", sum(r.frames for r in manifest.records))
    description = (
        f"{manifest.modality} dataset of {len(manifest.records)} gait sequences ({frames} frames), built by "
        f"{manifest.generator.name} {manifest.generator.version} ({manifest.generator.algo_version}) from a "
        f"{manifest.source.kind} source ({manifest.source.release}). Primary array "
        f"'{manifest.layout.primary}': {primary_spec.dtype} "
        f"({'T, ' if primary_spec.per_frame else ''}{', '.join(map(str, primary_spec.item_shape))}), axes "
        f"{'/'.join(primary_spec.axes)}. Content digest {manifest.content_digest}; derivation id "
        f"{manifest.derivation_id}; manifest digest {manifest.manifest_digest}."
    )
    manifest_id = "manifest.json"
    distribution: list[dict[str, Any]] = [
        {
            "@type": "cr:FileObject",
            "@id": manifest_id,
            "name": manifest_id,
            "description": "gaitprep manifest: parameters, lineage, per-sequence records and every file's sha256.",
            "contentUrl": _url(base, "manifest.json"),
            "contentSize": f"{manifest_size} B",
            "encodingFormat": "application/json",
            "sha256": manifest_sha256,
        }
    ]
    if len(manifest.files) <= max_file_objects:
        for f in sorted(manifest.files, key=lambda f: f.path):
            distribution.append(
                {
                    "@type": "cr:FileObject",
                    "@id": f.path,
                    "name": f.path,
                    "contentUrl": _url(base, f.path),
                    "contentSize": f"{f.bytes} B",
                    "encodingFormat": _encoding_format(f.path),
                    "sha256": f.sha256,
                }
            )
    else:
        for fmt in manifest.layout.formats:
            pattern = f"{ZARR_DIR}/**" if fmt == "zarr" else "*/*/*/*.pkl"
            distribution.append(
                {
                    "@type": "cr:FileSet",
                    "@id": f"files-{fmt}",
                    "name": f"files-{fmt}",
                    "description": f"{fmt} data files; each one's sha256 and size are in manifest.json files[].",
                    "encodingFormat": "application/octet-stream",
                    "includes": _url(base, pattern),
                }
            )
    has_split = manifest.partition is not None
    sequence_fields = [
        _field("sequences", "id", "sc:Text", "Subject/sequence id (5-digit string)."),
        _field(
            "sequences",
            "label",
            "sc:Text",
            "Canonical class name.",
            references={"field": {"@id": "labels/name"}},
        ),
        _field("sequences", "label_index", "sc:Integer", "Class index in the dataset's class order."),
        _field("sequences", "view", "sc:Text", "View folder name."),
        _field(
            "sequences",
            "split",
            "sc:Text",
            "train or test under the recorded partition" + ("" if has_split else " (no partition: null)"),
        ),
        _field("sequences", "frames", "sc:Integer", "Frames in the stored primary array."),
        _field(
            "sequences",
            "digest",
            "sc:Text",
            "Logical sha256 digest of the primary array (dtype, shape, bytes).",
        ),
        _field(
            "sequences", "location", "sc:Text", "Path of the primary array relative to the dataset directory."
        ),
    ]
    sequence_data = [
        {
            "sequences/id": r.id,
            "sequences/label": r.label,
            "sequences/label_index": manifest.class_order[r.label],
            "sequences/view": r.view,
            "sequences/split": r.split,
            "sequences/frames": r.frames,
            "sequences/digest": r.arrays[manifest.layout.primary].digest,
            "sequences/location": _array_location(r, manifest.layout),
        }
        for r in sorted(manifest.records, key=lambda r: r.key)
    ]
    labels = sorted(manifest.class_order.items(), key=lambda kv: kv[1])
    label_data = [
        {"labels/name": name, "labels/index": index, "labels/folder": manifest.class_folders.get(name, name)}
        for name, index in labels
    ]
    doc: dict[str, Any] = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_CONFORMS_TO,
        "name": manifest.name,
        "version": manifest.version,
        "description": description,
        "distribution": distribution,
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "labels",
                "name": "labels",
                "description": "Class order: canonical name, index and on-disk folder spelling(s).",
                "dataType": "sc:Enumeration",
                "key": {"@id": "labels/name"},
                "field": [
                    _field("labels", "name", "sc:Text", "Canonical class name."),
                    _field("labels", "index", "sc:Integer", "Class index."),
                    _field("labels", "folder", "sc:Text", "Class folder name(s) on disk."),
                ],
                "data": label_data,
            },
            {
                "@type": "cr:RecordSet",
                "@id": "sequences",
                "name": "sequences",
                "description": "One record per gait sequence.",
                "key": {"@id": "sequences/id"},
                "field": sequence_fields,
                "data": sequence_data,
            },
        ],
    }
    for key, value in (("license", license), ("url", url), ("citeAs", cite_as)):
        if value:
            doc[key] = value
    return doc


def export_croissant(
    dataset: str | Path,
    out: str | Path,
    *,
    license: str | None = None,
    url: str | None = None,
    cite_as: str | None = None,
    max_file_objects: int = MAX_FILE_OBJECTS,
) -> ExportResult:
    """Write the Croissant 1.0 document of ``dataset`` to ``out`` (see ``croissant_document``).

    The document publishes every file's sha256, so the files are verified first (files level): a changed
    file is refused (exit 3) instead of being described by a digest it no longer has.
    """
    from gaitprep.verify import verify_dataset

    manifest, root = _open_dataset(dataset)
    out = Path(out)
    _check_outside(root, out)
    report = verify_dataset(root, "files")
    if not report.ok:
        shown = "; ".join(str(p) for p in report.problems[:3])
        raise VerificationError(f"dataset does not verify: {shown}", report.manifest_path)
    mpath = root / "manifest.json"
    base = Path(os.path.relpath(root.resolve(), out.parent.resolve())).as_posix()
    doc = croissant_document(
        manifest,
        base=base,
        manifest_sha256=sha256_file(mpath),
        manifest_size=mpath.stat().st_size,
        license=license,
        url=url,
        cite_as=cite_as,
        max_file_objects=max_file_objects,
    )
    atomic_write_json(out, doc, indent=1)
    file_objects = sum(1 for d in doc["distribution"] if d["@type"] == "cr:FileObject")
    return _file_result("croissant", out, root, manifest, {"file_objects": file_objects, "base": base})


# --- OpenGait partition ---------------------------------------------------------------------------------


def export_opengait_partition(dataset: str | Path, out: str | Path) -> ExportResult:
    """Write the manifest's partition as an upstream ``{"TRAIN_SET", "TEST_SET"}`` JSON file."""
    manifest, root = _open_dataset(dataset)
    out = Path(out)
    _check_outside(root, out)
    info = manifest.partition
    if info is None:
        raise BadInputError("dataset has no partition (it was built without --partition)", root)
    written = write_partition(out, list(info.train_ids), list(info.test_ids))
    details = {
        "partition": info.name,
        "train": len(info.train_ids),
        "test": len(info.test_ids),
        # The manifest hashes the original file's bytes; ours match only if it was sorted and 4-space indented.
        "same_bytes_as_recorded": written.sha256 == info.sha256,
    }
    return _file_result("opengait-partition", out, root, manifest, details)


# --- import keypoints -----------------------------------------------------------------------------------


def _check_name(name: str, where: str) -> None:
    if name in ("", ".", "..") or name.startswith(".") or any(c in name for c in "\\\0:"):
        raise BadInputError(f"name {name!r} cannot be used as a folder name", where)


@dataclass(frozen=True)
class _Entry:
    seq_id: str
    class_folder: str
    view: str
    h5path: str


def _keypoint_entries(h5: Any, path: Path) -> tuple[list[_Entry], list[str]]:
    """Every ``/<id>/<class>/<view>`` dataset, and the ``<view>__<array>`` siblings skipped."""
    import h5py

    entries: list[_Entry] = []
    skipped: list[str] = []
    for seq_id in sorted(h5):
        where = f"{path}:/{seq_id}"
        id_obj = h5[seq_id]
        if not isinstance(id_obj, h5py.Group):
            raise BadInputError(
                "expected a group /<id>/<class>/<view>, found a dataset at the id level", where
            )
        _check_name(seq_id, where)
        classes = sorted(id_obj)
        if len(classes) != 1:
            found = ", ".join(classes) or "none"
            raise BadInputError(f"id must hold exactly one class group, found {found}", where)
        (class_folder,) = classes
        where = f"{where}/{class_folder}"
        canonical_class(class_folder, where)
        class_obj = id_obj[class_folder]
        if not isinstance(class_obj, h5py.Group):
            raise BadInputError("expected a class group holding view datasets", where)
        views = sorted(class_obj)
        if not views:
            raise BadInputError("class group holds no view dataset", where)
        for view in views:
            vwhere = f"{where}/{view}"
            node = class_obj[view]
            if not isinstance(node, h5py.Dataset):
                raise BadInputError("expected a (T, 17, 3) dataset, found a group", vwhere)
            if node.dtype.kind not in "iuf":
                raise BadInputError(
                    f"dataset has dtype {node.dtype}, expected a real number type (float)", vwhere
                )
            shape = tuple(node.shape or ())
            if len(shape) == 3 and shape[0] > MAX_SEQUENCE_FRAMES:
                raise BadInputError(
                    f"dataset declares {shape[0]} frames, more than the {MAX_SEQUENCE_FRAMES} frame limit",
                    vwhere,
                )
            check_array_bytes(shape, node.dtype.itemsize, vwhere, "dataset")
            stem, sep, _ = view.partition(ARRAY_SEPARATOR)
            if sep and stem in class_obj:
                skipped.append(f"/{seq_id}/{class_folder}/{view}")
                continue
            _check_name(view, vwhere)
            entries.append(_Entry(seq_id, class_folder, view, f"/{seq_id}/{class_folder}/{view}"))
    return entries, skipped


def import_keypoints(
    h5_path: str | Path, out: str | Path, *, force: bool = False, quiet: bool = False
) -> ImportResult:
    """Read ``/<id>/<class>/<view>`` keypoints, float (T, 17, 3) x, y, confidence, into a pose-pkl tree.

    Every array is validated (shape (T >= 1, 17, 3), numeric, finite) and every class name must map to
    the canonical order; errors name the file and the HDF5 path. Floats keep their dtype (so float32
    values round-trip exactly); integers become float64. The tree is built in a hidden temporary folder
    beside ``out`` and renamed into place, so a failure leaves nothing under ``out``. The tree carries the
    hidden marker ``.gaitprep-tree.json``; ``force`` replaces only such a tree (``gaitprep.ownership``).
    """
    import h5py

    from gaitprep.progress import progress

    h5_path, out = Path(h5_path), Path(out)
    # Never inside a dataset or holding the HDF5 file; --force replaces only a tree this command wrote.
    check_output_path(out, inputs=[h5_path], kind="tree", force=force)
    if out.exists() and not force and any(out.iterdir()):
        raise BadInputError(
            "output exists and is not empty; choose a new --out or pass --force to replace a tree "
            "import-keypoints wrote",
            out,
        )
    with _open_h5(h5_path, h5py) as h5:
        embedded = h5.attrs.get("manifest")
        if embedded is not None:
            try:
                modality = json.loads(embedded).get("modality")
            except (ValueError, AttributeError):
                modality = None
            if modality not in (None, "pose"):
                raise BadInputError(f"HDF5 file holds a {modality} dataset, not keypoints", h5_path)
        try:
            entries, skipped = _keypoint_entries(h5, h5_path)
        except (KeyError, OSError, RuntimeError, RecursionError) as exc:  # broken or cyclic links
            raise BadInputError(f"cannot walk the HDF5 file ({type(exc).__name__}: {exc})", h5_path) from None
        if not entries:
            raise BadInputError("HDF5 file holds no /<id>/<class>/<view> keypoint datasets", h5_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        frames = 0
        try:
            for e in progress(entries, total=len(entries), desc="import-keypoints", quiet=quiet):
                try:
                    arr = np.asarray(h5[e.h5path][...])
                except (KeyError, OSError, RuntimeError) as exc:  # a corrupt chunk or filter
                    raise BadInputError(f"cannot read dataset ({exc})", f"{h5_path}:{e.h5path}") from None
                validate_pose_array(arr, f"{h5_path}:{e.h5path}")
                arr = arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)
                arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)
                target = tmp / e.seq_id / e.class_folder / e.view / f"{e.view}.pkl"
                dump_array_pickle(arr, target)
                _umask_mode(target)
                frames += int(arr.shape[0])
            _umask_mode(tmp, 0o777)  # mkdtemp makes it private
            write_tree_marker(tmp, "import-keypoints")
            check_output_path(out, inputs=[h5_path], kind="tree", force=force)  # the last look
            if out.exists():
                if not any(out.iterdir()):
                    out.rmdir()
                else:
                    shutil.rmtree(out)  # only reached with force, for a tree of ours
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return ImportResult(out, h5_path, len(entries), frames, tuple(skipped))
