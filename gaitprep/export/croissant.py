"""Croissant 1.0 (MLCommons) metadata for a dataset: file objects, record sets and fields."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gaitprep.errors import VerificationError
from gaitprep.export.common import (
    MAX_FILE_OBJECTS,
    ExportResult,
    _check_outside,
    _file_result,
    _open_dataset,
)
from gaitprep.io.atomic import atomic_write_json
from gaitprep.io.store import ZARR_DIR, pkl_path, seq_path
from gaitprep.io.tree import sha256_file
from gaitprep.manifest import (
    Layout,
    Manifest,
    SequenceRecord,
)

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


def _description(manifest: Manifest) -> str:
    primary_spec = manifest.layout.arrays[manifest.layout.primary]
    frames = manifest.counts.get("frames", sum(r.frames for r in manifest.records))
    return (
        f"{manifest.modality} dataset of {len(manifest.records)} gait sequences ({frames} frames), built by "
        f"{manifest.generator.name} {manifest.generator.version} ({manifest.generator.algo_version}) from a "
        f"{manifest.source.kind} source ({manifest.source.release}). Primary array "
        f"'{manifest.layout.primary}': {primary_spec.dtype} "
        f"({'T, ' if primary_spec.per_frame else ''}{', '.join(map(str, primary_spec.item_shape))}), axes "
        f"{'/'.join(primary_spec.axes)}. Content digest {manifest.content_digest}; derivation id "
        f"{manifest.derivation_id}; manifest digest {manifest.manifest_digest}."
    )


def _distribution(
    manifest: Manifest, base: str, manifest_sha256: str, manifest_size: int, max_file_objects: int
) -> list[dict[str, Any]]:
    """The manifest's FileObject, then one FileObject per data file, or one FileSet per storage format when
    there are more than ``max_file_objects`` files."""
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
        return distribution
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
    return distribution


def _labels_record_set(manifest: Manifest) -> dict[str, Any]:
    """The class order: one record per class (canonical name, index, on-disk folder spelling)."""
    labels = sorted(manifest.class_order.items(), key=lambda kv: kv[1])
    return {
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
        "data": [
            {
                "labels/name": name,
                "labels/index": index,
                "labels/folder": manifest.class_folders.get(name, name),
            }
            for name, index in labels
        ],
    }


def _sequence_fields(has_split: bool) -> list[dict[str, Any]]:
    return [
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


def _sequences_record_set(manifest: Manifest) -> dict[str, Any]:
    """One record per gait sequence, in key order: id, label, view, split, frames, digest, location."""
    return {
        "@type": "cr:RecordSet",
        "@id": "sequences",
        "name": "sequences",
        "description": "One record per gait sequence.",
        "key": {"@id": "sequences/id"},
        "field": _sequence_fields(manifest.partition is not None),
        "data": [
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
        ],
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
    doc: dict[str, Any] = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_CONFORMS_TO,
        "name": manifest.name,
        "version": manifest.version,
        "description": _description(manifest),
        "distribution": _distribution(manifest, base, manifest_sha256, manifest_size, max_file_objects),
        "recordSet": [_labels_record_set(manifest), _sequences_record_set(manifest)],
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
