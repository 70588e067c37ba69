"""What differs between two manifests, in human terms ("sigma_limb 8 → 15; 1,493 sequences changed")."""

from __future__ import annotations

from typing import Any

from gaitprep.manifest import Manifest


def flatten_params(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level of dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten_params(v, f"{prefix}{k}."))
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


def _partition_labels(a: Manifest, b: Manifest) -> tuple[str, str]:
    """Short names; the same name with other bytes (an edited file) gets its sha256 prefix."""
    la, lb = _partition_label(a), _partition_label(b)
    if la == lb and a.partition and b.partition:
        la, lb = f"{la} (sha256 {a.partition.sha256[:8]})", f"{lb} (sha256 {b.partition.sha256[:8]})"
    return la, lb


def _comparable_params(a: Manifest, b: Manifest) -> tuple[dict[str, Any], dict[str, Any]]:
    """Flat parameters to compare. When both datasets read back as the same spec model
    (:func:`gaitprep.params.read_spec`), its fields come from the typed objects (defaults filled in for a
    field one manifest predates) beside the build notes, without the lists derived from the fields; else
    the recorded dicts as they are."""
    from gaitprep.errors import BadInputError
    from gaitprep.params import derived_keys, read_spec, spec_notes

    try:
        sa, sb = read_spec(a), read_spec(b)
    except BadInputError:
        sa = sb = None
    if sa is None or type(sa) is not type(sb):
        return flatten_params(a.params), flatten_params(b.params)
    out = []
    for m, spec in ((a, sa), (b, sb)):
        notes = {k: v for k, v in spec_notes(m).items() if k not in derived_keys()}
        out.append(flatten_params({**notes, **spec.model_dump(mode="json")}))
    return out[0], out[1]


def diff_manifests(a: Manifest, b: Manifest) -> dict[str, Any]:
    """Structured differences; ``summary`` holds the human lines."""
    changes: list[dict[str, Any]] = []
    summary: list[str] = []
    for field in ("modality", "name", "version"):
        va, vb = getattr(a, field), getattr(b, field)
        if va != vb:
            changes.append({"field": field, "a": va, "b": vb})
            summary.append(f"{field} {va} → {vb}")
    pa, pb = _comparable_params(a, b)
    for key in sorted(set(pa) | set(pb)):
        if pa.get(key) != pb.get(key):
            changes.append({"field": f"params.{key}", "a": pa.get(key), "b": pb.get(key)})
            summary.append(f"{key} {_fmt(pa.get(key, '∅'))} → {_fmt(pb.get(key, '∅'))}")
    if a.generator.algo_version != b.generator.algo_version:
        summary.append(f"algo_version {a.generator.algo_version} → {b.generator.algo_version}")
        changes.append(
            {"field": "algo_version", "a": a.generator.algo_version, "b": b.generator.algo_version}
        )
    if a.layout.formats != b.layout.formats:
        summary.append(f"format {'+'.join(a.layout.formats)} → {'+'.join(b.layout.formats)}")
        changes.append({"field": "layout.formats", "a": list(a.layout.formats), "b": list(b.layout.formats)})
    la = flatten_params(a.layout.model_dump(mode="json", exclude={"formats"}))
    lb = flatten_params(b.layout.model_dump(mode="json", exclude={"formats"}))
    for key in sorted(set(la) | set(lb)):
        if la.get(key) != lb.get(key):
            changes.append({"field": f"layout.{key}", "a": la.get(key), "b": lb.get(key)})
            summary.append(f"layout {key} {_fmt(la.get(key, '∅'))} → {_fmt(lb.get(key, '∅'))}")
    if (a.partition and a.partition.sha256) != (b.partition and b.partition.sha256):
        label_a, label_b = _partition_labels(a, b)
        summary.append(f"partition {label_a} → {label_b}")
        changes.append({"field": "partition", "a": label_a, "b": label_b})
    fa, fb = flatten_params(a.fitted), flatten_params(b.fitted)
    for key in sorted(set(fa) | set(fb)):
        if fa.get(key) != fb.get(key):  # fitted values are arrays: name them, do not print them
            changes.append({"field": f"fitted.{key}", "a": fa.get(key), "b": fb.get(key)})
            summary.append(f"fitted {key} differs")
    if a.source.digest != b.source.digest:
        summary.append("source data differs")
        changes.append({"field": "source.digest", "a": a.source.digest, "b": b.source.digest})
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
    elif same_content:
        # e.g. another format or partition: say that the arrays themselves did not change.
        summary.append("same content")
    return {
        "same_content": same_content,
        "same_manifest": a.manifest_digest == b.manifest_digest,
        "changes": changes,
        "sequences": {"added": added, "removed": removed, "changed": changed, "moved_split": resplit},
        "summary": summary,
    }
