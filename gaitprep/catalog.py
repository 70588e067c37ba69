"""The dataset catalogue behind ``gaitprep list``: find every dataset under a folder, say what and whence.

A dataset is a directory holding ``manifest.json``; the walk does not descend into datasets, hidden
folders (build staging ``.<name>.partial``) or symbolic links. For each one the catalogue gives name,
version, modality, sequence and frame counts, a one-line parameter summary, storage formats and lineage:

- a dataset built from a release tree names the tree's layout and root;
- a dataset built from other datasets names each upstream one (``source.upstream``) and the datasets
  found under the same folder that match it: by ``derivation_id`` (the very build it was made from) or,
  failing that, by ``content_digest`` (the same arrays, perhaps stored in another format).

With ``verify`` every dataset is checked at the ``files`` level (self-hash, presence, sizes, sha256).
A manifest that cannot be read is listed with its error and counts as failing verification.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gaitprep.diff import flatten_params
from gaitprep.errors import BadInputError
from gaitprep.manifest import MANIFEST_NAME, Manifest, load_manifest

VERIFY_LEVEL = "files"
PROBLEMS_SHOWN = 5
GENERIC_PARAMS_SHOWN = 4
# Shown first in a generic parameter summary, when present.
PARAM_PRIORITY = ("transform", "input_layout", "joint_set", "scale_mode")


@dataclass
class CatalogEntry:
    """One dataset found. ``rel`` is its path relative to the catalogue root ("." for the root itself)."""

    path: Path
    rel: str
    manifest: Manifest | None
    error: str | None = None
    lineage: list[dict[str, Any]] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    verify: dict[str, Any] | None = None

    @property
    def verified_ok(self) -> bool | None:
        return None if self.verify is None else bool(self.verify["ok"])

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"path": self.rel, "abspath": str(self.path.resolve()), "error": self.error}
        m = self.manifest
        if m is not None:
            doc.update(
                name=m.name,
                version=m.version,
                modality=m.modality,
                sequences=len(m.records),
                frames=m.counts.get("frames"),
                params=params_summary(m),
                params_digest=m.params_digest,
                formats=list(m.layout.formats),
                partition=m.partition.name if m.partition else None,
                derivation_id=m.derivation_id,
                content_digest=m.content_digest,
            )
        doc.update(lineage=self.lineage, derived=self.derived, verify=self.verify)
        return doc


@dataclass
class Catalog:
    root: Path
    entries: list[CatalogEntry]
    verified: bool

    @property
    def failed(self) -> list[CatalogEntry]:
        """Entries that failed verification (or could not be read) when ``verified``."""
        if not self.verified:
            return []
        return [e for e in self.entries if e.verified_ok is False]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "count": len(self.entries),
            "verified": self.verified,
            "verify_level": VERIFY_LEVEL if self.verified else None,
            "ok": self.ok if self.verified else None,
            "failed": [e.rel for e in self.failed],
            "datasets": [e.to_json() for e in self.entries],
        }


def find_datasets(root: str | Path) -> list[Path]:
    """Every directory under ``root`` (``root`` included) that holds a manifest, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError("not a directory", root)
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        if MANIFEST_NAME in filenames:
            found.append(Path(dirpath))
            dirnames[:] = []  # a dataset's own folders are data, never datasets
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + ",".join(_fmt(v) for v in value) + "]"
    return str(value)


def heatmap_summary(spec: Any) -> str:
    """``recommended preset: sigma 8/8 body, align shared, scale per_sequence, crop full_canvas`` and any
    field that differs from the named preset (``; also combine=sum``)."""
    from gaitprep.heatmaps.spec import PRESET_NAMES, HeatmapSpec, preset

    name = spec.preset if spec.preset in PRESET_NAMES else None
    text = (
        f"{name or 'custom'} preset: sigma {_fmt(spec.sigma_limb)}/{_fmt(spec.sigma_joint)} {spec.joint_set}, "
        f"align {spec.align}, scale {spec.scale}, crop {spec.crop}"
    )
    base = preset(name) if name else HeatmapSpec()
    shown = {"preset", "sigma_limb", "sigma_joint", "joint_set", "align", "scale", "crop"}
    other = [
        f"{k}={_fmt(getattr(spec, k))}"
        for k in type(spec).model_fields
        if k not in shown and getattr(spec, k) != getattr(base, k)
    ]
    return text + (f"; also {' '.join(other)}" if other else "")


def params_summary(manifest: Manifest) -> str:
    """One line. Skeleton maps (read back as their HeatmapSpec): preset, sigmas, joint set, alignment,
    scale and crop; other datasets: the first few parameters as key=value. Parameters that do not read
    back as the dataset's spec are said to be so, with the reason."""
    from gaitprep.params import read_spec

    flat = flatten_params(manifest.params)
    try:
        spec = read_spec(manifest) if manifest.modality == "skeleton_map" else None
    except BadInputError as exc:
        return f"UNREADABLE PARAMETERS ({exc}); recorded: {_generic_summary(flat)}"
    if spec is not None:
        return heatmap_summary(spec)
    return _generic_summary(flat)


def _generic_summary(flat: dict[str, Any]) -> str:
    scalars = {k: v for k, v in flat.items() if isinstance(v, str | int | float | bool) or v is None}
    order = [k for k in PARAM_PRIORITY if k in scalars] + sorted(
        k for k in scalars if k not in PARAM_PRIORITY
    )
    shown = [f"{k}={_fmt(scalars[k])}" for k in order[:GENERIC_PARAMS_SHOWN]]
    rest = len(flat) - len(shown)
    if rest > 0:
        shown.append(f"(+{rest} more)")
    return " ".join(shown) if shown else "(no parameters)"


def _lineage(entry: CatalogEntry, others: list[CatalogEntry]) -> list[dict[str, Any]]:
    m = entry.manifest
    assert m is not None
    src = m.source
    if src.kind == "tree":
        return [{"kind": "tree", "release": src.release, "root": src.root, "sequences": src.sequences}]
    out = []
    for up in src.upstream:
        found = []
        for other in others:
            om = other.manifest
            if other is entry or om is None:
                continue
            if up.get("derivation_id") and om.derivation_id == up.get("derivation_id"):
                matched_by = "derivation_id"
            elif up.get("content_digest") and om.content_digest == up.get("content_digest"):
                matched_by = "content_digest"
            else:
                continue
            found.append({"path": other.rel, "name": om.name, "matched_by": matched_by})
        found.sort(key=lambda f: (f["matched_by"] != "derivation_id", f["path"]))
        out.append(
            {
                "kind": "dataset",
                "name": up.get("name"),
                "modality": up.get("modality"),
                "recorded_path": up.get("path"),
                "content_digest": up.get("content_digest"),
                "derivation_id": up.get("derivation_id"),
                "found": found,
            }
        )
    return out


def build_catalog(root: str | Path, *, verify: bool = False) -> Catalog:
    """Find, describe and (with ``verify``) check every dataset under ``root``."""
    from gaitprep.verify import verify_dataset

    root = Path(root)
    entries: list[CatalogEntry] = []
    for path in find_datasets(root):
        rel = path.relative_to(root).as_posix()
        try:
            entries.append(CatalogEntry(path, rel, load_manifest(path)))
        except BadInputError as exc:
            entries.append(CatalogEntry(path, rel, None, error=str(exc)))
    for entry in entries:
        if entry.manifest is not None:
            entry.lineage = _lineage(entry, entries)
    for entry in entries:
        for link in entry.lineage:
            for f in link.get("found", []):
                parent = next(e for e in entries if e.rel == f["path"])
                if entry.rel not in parent.derived:
                    parent.derived.append(entry.rel)
    if verify:
        for entry in entries:
            if entry.manifest is None:
                entry.verify = {
                    "ok": False,
                    "level": VERIFY_LEVEL,
                    "problems": [entry.error],
                    "problem_count": 1,
                }
                continue
            report = verify_dataset(entry.path, VERIFY_LEVEL)  # type: ignore[arg-type]
            entry.verify = {
                "ok": report.ok,
                "level": VERIFY_LEVEL,
                "files_checked": report.files_checked,
                "bytes_checked": report.bytes_checked,
                "problem_count": len(report.problems),
                "problems": [str(p) for p in report.problems[:PROBLEMS_SHOWN]],
            }
    return Catalog(root, entries, verify)


def _lineage_line(link: dict[str, Any]) -> str:
    if link["kind"] == "tree":
        return f"from: {link['release']} tree at {link['root']} ({link['sequences']} sequences)"
    if link["found"]:
        where = ", ".join(f"{f['path']} [{f['matched_by']}]" for f in link["found"])
        return f"from: dataset {link['name']} ({link['modality']}) = {where}"
    return f"from: dataset {link['name']} ({link['modality']}), not under this folder (recorded at {link['recorded_path']})"


def format_catalog(catalog: Catalog) -> str:
    """The human listing: one block per dataset, then a verification summary when verified."""
    if not catalog.entries:
        return f"no datasets under {catalog.root}"
    lines: list[str] = []
    for e in catalog.entries:
        m = e.manifest
        if m is None:
            lines.append(f"{e.rel}  UNREADABLE: {e.error}")
        else:
            frames = m.counts.get("frames")
            frames_text = f", {frames:,} frames" if isinstance(frames, int) else ""
            partition = f", partition {m.partition.name}" if m.partition else ""
            lines.append(
                f"{e.rel}  {m.name} v{m.version}  {m.modality}  {len(m.records):,} sequences{frames_text}  "
                f"[{'+'.join(m.layout.formats)}]{partition}"
            )
            lines.append(f"  params: {params_summary(m)}")
            lines.extend(f"  {_lineage_line(link)}" for link in e.lineage)
            if e.derived:
                lines.append(f"  downstream: {', '.join(e.derived)}")
        if e.verify is not None:
            v = e.verify
            if v["ok"]:
                lines.append(f"  verify: OK ({v['files_checked']} files, level {v['level']})")
            else:
                more = v["problem_count"] - len(v["problems"])
                lines.append(f"  verify: FAILED ({v['problem_count']} problem(s))")
                lines.extend(f"    {p}" for p in v["problems"])
                if more > 0:
                    lines.append(f"    ... {more} more")
    summary = f"{len(catalog.entries)} dataset(s) under {catalog.root}"
    if catalog.verified:
        summary += f"; {len(catalog.failed)} failed verification" if catalog.failed else "; all verify"
    lines.append(summary)
    return "\n".join(lines)
