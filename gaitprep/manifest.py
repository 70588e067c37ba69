"""Dataset manifests: the contract between ``gaitprep`` and ``gaitmodels``.

A manifest says what a dataset directory holds and how it was made: modality, layout, every parameter
that changes the bits, class order, partition, source lineage, per-sequence records with file checksums
and logical array digests, statistics and bit-relevant library versions.

Two identities (engineering notes §4.2):
- ``derivation_id`` = H(source digest, params digest, layout digest, partition sha256, algorithm version),
  known before building: the cache key;
- ``content_digest``: a Merkle root over the records' logical array digests, known after building. A Zarr
  and a pickle export of the same arrays share it.
``manifest_digest`` hashes every field except ``provenance`` (time, host, durations) and itself.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gaitprep.cut import LOAD_TRANSFORM
from gaitprep.errors import BadInputError
from gaitprep.io.atomic import canonical_json

SCHEMA_VERSION = 2
# Version 2 adds optional fields only (``owner``), so version-1 manifests stay readable as they are.
SUPPORTED_SCHEMA_VERSIONS = (1, 2)
MANIFEST_NAME = "manifest.json"
UPSTREAM_REFERENCE_COMMIT = "0efafd4"

Modality = Literal["silhouette", "skeleton_map", "pose", "pav", "stacked"]
Format = Literal["zarr", "opengait-pkl"]
Split = Literal["train", "test"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FileEntry(_Strict):
    """One file of the dataset, by path relative to the dataset directory."""

    path: str
    bytes: int
    sha256: str


class ArraySpec(_Strict):
    """What every sequence's array of this name looks like.

    ``item_shape`` is the shape after the leading frame axis when ``per_frame`` (e.g. (2, 64, 64) for maps),
    else the whole array's shape (e.g. (8, 3) for a PAV).
    """

    dtype: str
    per_frame: bool
    item_shape: tuple[int, ...]
    axes: tuple[str, ...]
    channels: tuple[str, ...] = ()


class Layout(_Strict):
    formats: tuple[Format, ...]
    primary: str
    arrays: dict[str, ArraySpec]
    zarr_codec: str = "zstd-3, one chunk per sequence array"
    pickle_protocol: int = 4
    stored_uncut: bool = True
    load_transform: str = LOAD_TRANSFORM


class ArrayRecord(_Strict):
    shape: tuple[int, ...]
    dtype: str
    digest: str


class SequenceRecord(_Strict):
    id: str
    label: str
    class_folder: str
    view: str
    split: Split | None
    frames_in: int
    frames: int
    frames_dropped: dict[str, int] = Field(default_factory=dict)
    source_digest: str
    arrays: dict[str, ArrayRecord]
    files: tuple[FileEntry, ...]
    stats: dict[str, float] = Field(default_factory=dict)
    # Since schema 2, raw-tree readers (all optional; defaults mean "nothing to report"):
    person_frames: dict[str, int] = Field(
        default_factory=dict,
        description="pose JSON: frames listing several people (multiple), frames whose chosen person is not "
        "listed first (not_first), all-zero entries read as no person (zero_entries)",
    )
    nonfinite_joints: int = Field(0, description="joints read as missing because a number was NaN/inf")
    unpadded_frame_names: bool = Field(False, description="frame numbers written with different widths")
    unpaired_frames: dict[str, int] = Field(
        default_factory=dict, description="--register-with: source frames without a partner, by reason"
    )
    source_frames: tuple[tuple[int, int], ...] = Field(
        (),
        description="maps and registered silhouettes: the source frame id of each frame, as inclusive runs "
        "(first, last) (gaitprep.frame_ids); empty when not recorded",
    )

    @property
    def key(self) -> str:
        """``id/class/view``: a sequence's identity (several views of one id are several sequences)."""
        return f"{self.id}/{self.label}/{self.view}"


class PartitionInfo(_Strict):
    name: str
    sha256: str
    train_ids: tuple[str, ...]
    test_ids: tuple[str, ...]
    class_counts: dict[str, dict[str, int]]


class SourceInfo(_Strict):
    """Where the input came from: a release tree (fingerprinted) or upstream datasets (lineage)."""

    kind: Literal["tree", "dataset"]
    release: str
    root: str
    digest: str
    sequences: int
    upstream: tuple[dict[str, str], ...] = ()
    reference_commit: str = UPSTREAM_REFERENCE_COMMIT
    keypoint_format: str | None = Field(
        None, description="pose JSON input: coco17, body25 (read as COCO-17, see gaitprep.io.body25) or both"
    )


class Generator(_Strict):
    name: str = "gaitprep"
    version: str
    algo_version: str


class Owner(_Strict):
    """Which recipe stage built a dataset (``gaitprep run``): the only one that may replace it unasked."""

    recipe: str
    stage: str


class Provenance(BaseModel):
    """Not hashed: when, where, how long."""

    model_config = ConfigDict(extra="allow")
    created_at: str
    host: str
    python: str
    duration_s: float
    workers: int


class Manifest(_Strict):
    schema_version: int = SCHEMA_VERSION
    name: str
    version: str
    modality: Modality
    generator: Generator
    layout: Layout
    params: dict[str, Any]
    params_digest: str
    layout_digest: str
    class_order: dict[str, int]
    class_folders: dict[str, str]
    source: SourceInfo
    partition: PartitionInfo | None
    partition_missing_ids: tuple[str, ...] = Field(
        (), description="partition ids absent from the input that was built (a warning, not an error)"
    )
    fitted: dict[str, Any] = Field(default_factory=dict)
    records: tuple[SequenceRecord, ...]
    files: tuple[FileEntry, ...]
    counts: dict[str, Any]
    statistics: dict[str, Any]
    versions: dict[str, str]
    derivation_id: str
    content_digest: str
    manifest_digest: str = ""
    provenance: Provenance | None = None
    owner: Owner | None = None  # schema 2; None: built by a command, not by a recipe stage

    def record_by_key(self) -> dict[str, SequenceRecord]:
        return {r.key: r for r in self.records}

    def split_records(self, split: str | None) -> list[SequenceRecord]:
        return [r for r in self.records if split is None or r.split == split]


# --- digests -------------------------------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_digest(obj: Any) -> str:
    """sha256 of canonical JSON (sorted keys, compact): never of pydantic's declaration-ordered dump."""
    return sha256_hex(canonical_json(obj))


def array_digest(arr: np.ndarray) -> str:
    """Logical digest: canonical {dtype, shape} header, then C-order little-endian bytes."""
    arr = np.asarray(arr)
    le = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"), copy=False))
    h = hashlib.sha256(canonical_json({"dtype": le.dtype.str, "shape": list(arr.shape)}))
    h.update(le.reshape(-1).view(np.uint8))  # hash the buffer in place: no tobytes() copy
    return h.hexdigest()


def content_digest(records: list[SequenceRecord] | tuple[SequenceRecord, ...]) -> str:
    """Merkle-style root over sorted (key, array name, digest) lines."""
    h = hashlib.sha256()
    for rec in sorted(records, key=lambda r: r.key):
        for name in sorted(rec.arrays):
            h.update(f"{rec.key}\t{name}\t{rec.arrays[name].digest}\n".encode())
    return h.hexdigest()


def derivation_id(
    *,
    source_digest: str,
    params_digest: str,
    layout_digest: str,
    partition_sha256: str | None,
    algo_version: str,
    modality: str,
) -> str:
    return json_digest(
        {
            "source": source_digest,
            "params": params_digest,
            "layout": layout_digest,
            "partition": partition_sha256,
            "algo_version": algo_version,
            "modality": modality,
        }
    )


# Optional fields added after schema 1: left out of the digest while unset (``owner``) or at their default
# (the raw-reader fields), so that a manifest written before they existed keeps its digest.
_DIGEST_OPTIONAL = ("owner",)
_ADDED_MANIFEST_FIELDS = {"partition_missing_ids": []}
_ADDED_RECORD_FIELDS = {
    "person_frames": {},
    "nonfinite_joints": 0,
    "unpadded_frame_names": False,
    "unpaired_frames": {},
    "source_frames": [],
}
_ADDED_SOURCE_FIELDS = {"keypoint_format": None}


def _drop_defaults(doc: dict[str, Any], added: dict[str, Any]) -> None:
    for name, default in added.items():
        if name in doc and doc[name] == default:
            del doc[name]


def compute_manifest_digest(manifest: Manifest) -> str:
    unset = {name for name in _DIGEST_OPTIONAL if getattr(manifest, name) is None}
    body = manifest.model_dump(mode="json", exclude={"provenance", "manifest_digest", *unset})
    return json_digest(_without_reader_defaults(body))


def seal(manifest: Manifest) -> Manifest:
    """Return ``manifest`` with its ``manifest_digest`` filled in."""
    return manifest.model_copy(update={"manifest_digest": compute_manifest_digest(manifest)})


def _without_reader_defaults(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without the raw-reader fields that hold their defaults (they read back as the default)."""
    _drop_defaults(doc, _ADDED_MANIFEST_FIELDS)
    _drop_defaults(doc["source"], _ADDED_SOURCE_FIELDS)
    for record in doc["records"]:
        _drop_defaults(record, _ADDED_RECORD_FIELDS)
    return doc


def manifest_bytes(manifest: Manifest) -> bytes:
    """The bytes written to ``manifest.json``: sorted keys so they are stable; reader fields that hold
    their defaults are left out (every record of a pickle-tree build would otherwise repeat them)."""
    doc = _without_reader_defaults(manifest.model_dump(mode="json"))
    return (json.dumps(doc, sort_keys=True, indent=1, allow_nan=False) + "\n").encode()


def resolve_manifest_path(path: str | Path) -> Path:
    """Accept a dataset directory or its ``manifest.json``."""
    path = Path(path)
    return path / MANIFEST_NAME if path.is_dir() else path


def load_manifest(path: str | Path) -> Manifest:
    """Parse and validate a manifest; a malformed one is bad input naming the file."""
    from gaitprep.io.bounds import MAX_MANIFEST_BYTES, loads_json, read_regular_file

    path = resolve_manifest_path(path)
    data = read_regular_file(path, MAX_MANIFEST_BYTES, "manifest")
    doc = loads_json(data, path, "manifest")
    if not isinstance(doc, dict):
        raise BadInputError("manifest is not a JSON object", path)
    if doc.get("schema_version") not in SUPPORTED_SCHEMA_VERSIONS:
        supported = " or ".join(str(v) for v in SUPPORTED_SCHEMA_VERSIONS)
        raise BadInputError(
            f"manifest schema_version {doc.get('schema_version')!r} is not supported (expected {supported})",
            path,
        )
    try:
        return Manifest.model_validate(doc)
    except ValueError as exc:
        first = str(exc).splitlines()
        detail = "; ".join(line.strip() for line in first[1:3]) if len(first) > 1 else str(exc)
        raise BadInputError(f"manifest does not match the schema: {detail}", path) from None
