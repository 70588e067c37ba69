"""Turn a schema-2 manifest document back into what a schema-1 writer wrote: the one list of the fields
added since, shared by the tests that check old manifests stay readable (a field added later joins here)."""

from __future__ import annotations

from typing import Any

MANIFEST_FIELDS_ADDED = ("owner", "partition_missing_ids")
SOURCE_FIELDS_ADDED = ("keypoint_format",)
RECORD_FIELDS_ADDED = (
    "person_frames",
    "nonfinite_joints",
    "unpadded_frame_names",
    "unpaired_frames",
    "source_frames",
)


def as_schema_1(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (a parsed manifest.json) with ``schema_version`` 1 and every later field removed, in place.
    The caller recomputes ``manifest_digest``."""
    doc["schema_version"] = 1
    for key in MANIFEST_FIELDS_ADDED:
        doc.pop(key, None)
    for key in SOURCE_FIELDS_ADDED:
        doc["source"].pop(key, None)
    for rec in doc["records"]:
        for key in RECORD_FIELDS_ADDED:
            rec.pop(key, None)
    return doc
