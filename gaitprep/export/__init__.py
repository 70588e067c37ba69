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
``<out>/<id>/<class>/<view>/<view>.pkl`` that ``gaitprep.build.datasets.build_poses`` accepts.
"""

from __future__ import annotations

from pathlib import Path

from gaitprep.errors import BadInputError
from gaitprep.export.common import (
    MAX_FILE_OBJECTS,
    TARGETS,
    ExportResult,
    ImportResult,
    _check_outside,
    _file_result,
    _open_dataset,
)
from gaitprep.export.croissant import croissant_document, export_croissant
from gaitprep.export.hdf5 import export_hdf5, hdf5_name, read_hdf5_manifest, read_hdf5_sequence
from gaitprep.export.keypoints import import_keypoints
from gaitprep.partition import write_partition

__all__ = [
    "MAX_FILE_OBJECTS",
    "TARGETS",
    "ExportResult",
    "ImportResult",
    "croissant_document",
    "export_croissant",
    "export_dataset",
    "export_hdf5",
    "export_opengait_partition",
    "hdf5_name",
    "import_keypoints",
    "read_hdf5_manifest",
    "read_hdf5_sequence",
]


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
