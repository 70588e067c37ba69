"""What differs between two manifests, in human terms ("sigma_limb 8 → 15; 1,493 sequences changed")."""

from __future__ import annotations

from typing import Any

from gaitprep.manifest import Manifest


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj}


def _fmt(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _partition_label(m: Manifest) -> str:
    if m.partition is None:
        return "none"
    name = m.partition.name
    return name.split("_")[-1] if name.startswith("Scoliosis1K_") else name


def diff_manifests(a: Manifest, b: Manifest) -> dict[str, Any]:
    """Structured differences; ``summary`` holds the human lines."""
    changes: list[dict[str, Any]] = []
    summary: list[str] = []
    for field in ("modality", "name", "version"):
        va, vb = getattr(a, field), getattr(b, field)
        if va != vb:
            changes.append({"field": field, "a": va, "b": vb})
            summary.append(f"{field} {va} → {vb}")
    pa, pb = _flatten(a.params), _flatten(b.params)
    for key in sorted(set(pa) | set(pb)):
        if pa.get(key) != pb.get(key):
            changes.append({"field": f"params.{key}", "a": pa.get(key), "b": pb.get(key)})
            summary.append(f"{key} {_fmt(pa.get(key, '∅'))} → {_fmt(pb.get(key, '∅'))}")
    if a.layout.formats != b.layout.formats:
        summary.append(f"format {'+'.join(a.layout.formats)} → {'+'.join(b.layout.formats)}")
    if (a.partition and a.partition.sha256) != (b.partition and b.partition.sha256):
        summary.append(f"partition {_partition_label(a)} → {_partition_label(b)}")
        changes.append({"field": "partition", "a": _partition_label(a), "b": _partition_label(b)})
    if a.source.digest != b.source.digest:
        summary.append("source data differs")
    ra, rb = a.record_by_key(), b.record_by_key()
    added = sorted(set(rb) - set(ra))
    removed = sorted(set(ra) - set(rb))
    changed = sorted(k for k in set(ra) & set(rb) if ra[k].arrays != rb[k].arrays)
    resplit = sorted(k for k in set(ra) & set(rb) if ra[k].split != rb[k].split)
    if added:
        summary.append(f"{len(added):,} sequences added")
    if removed:
        summary.append(f"{len(removed):,} sequences removed")
    if changed:
        summary.append(f"{len(changed):,} sequences changed")
    if resplit:
        summary.append(f"{len(resplit):,} sequences moved between train and test")
    for key in sorted(set(a.versions) | set(b.versions)):
        if a.versions.get(key) != b.versions.get(key):
            summary.append(f"{key} {a.versions.get(key)} → {b.versions.get(key)}")
    same_content = a.content_digest == b.content_digest
    if not summary:
        summary.append(
            "identical" if a.manifest_digest == b.manifest_digest else "same content, different provenance"
        )
    return {
        "same_content": same_content,
        "same_manifest": a.manifest_digest == b.manifest_digest,
        "changes": changes,
        "sequences": {"added": added, "removed": removed, "changed": changed, "moved_split": resplit},
        "summary": summary,
    }
