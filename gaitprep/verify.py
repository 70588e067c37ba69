"""Verify a dataset against its manifest: self-hash, confinement, file list, checksums, array digests.

Levels: ``quick`` (manifest self-hash, paths, file presence and sizes), ``files`` (+ sha256 of every file,
the default) and ``content`` (+ decode every array and recompute its logical digest and the content digest).
Every problem names the file it concerns.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from gaitprep.io.tree import sha256_file
from gaitprep.manifest import (
    MANIFEST_NAME,
    Manifest,
    array_digest,
    compute_manifest_digest,
    content_digest,
    load_manifest,
    resolve_manifest_path,
)

Level = Literal["quick", "files", "content"]


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | extra | changed | truncated | unsafe-path | manifest | content
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}"


@dataclass
class VerifyReport:
    manifest_path: Path
    level: Level
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {
            "manifest": str(self.manifest_path),
            "level": self.level,
            "ok": self.ok,
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "seconds": round(self.seconds, 3),
            "problems": [{"kind": p.kind, "path": p.path, "detail": p.detail} for p in self.problems],
        }


def unsafe_path_reason(root: Path, rel: str) -> str | None:
    """Why ``rel`` may not be used inside ``root`` (absolute, ``..``, or resolving outside), else None."""
    pure = PurePosixPath(rel)
    if rel == "" or pure.is_absolute() or rel.startswith(("/", "\\")) or "\\" in rel or ":" in pure.parts[0]:
        return "path is absolute or not a plain relative path"
    if any(part in ("..", "") for part in rel.split("/")):
        return "path escapes the dataset directory (..)"
    real_root = os.path.realpath(root)
    target = os.path.realpath(root / rel)
    if os.path.commonpath([real_root, target]) != real_root:
        return "path resolves outside the dataset directory (symlink)"
    return None


def _walk_files(root: Path) -> tuple[set[str], list[str]]:
    """Relative paths of regular files under root (not following links), and every symlink found."""
    files, links = set(), []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            if full.is_symlink():
                links.append(full.relative_to(root).as_posix())
        for name in filenames:
            full = Path(dirpath) / name
            if not full.is_symlink():
                files.add(full.relative_to(root).as_posix())
    return files, links


def verify_dataset(path: str | Path, level: Level = "files") -> VerifyReport:
    """Recompute and compare everything the manifest records at ``level``. Never raises on a mismatch."""
    started = time.perf_counter()
    mpath = resolve_manifest_path(path)
    manifest = load_manifest(mpath)  # malformed JSON/schema: bad input (exit 1)
    root = mpath.parent
    report = VerifyReport(mpath, level)
    problems = report.problems

    if compute_manifest_digest(manifest) != manifest.manifest_digest:
        problems.append(
            Problem(
                "manifest",
                MANIFEST_NAME,
                "manifest digest does not match its content (edited after writing?)",
            )
        )
    if content_digest(manifest.records) != manifest.content_digest:
        problems.append(Problem("manifest", MANIFEST_NAME, "content digest does not match the records"))

    listed = {f.path: f for f in manifest.files}
    safe: dict[str, object] = {}
    for rel, entry in listed.items():
        reason = unsafe_path_reason(root, rel)
        if reason:
            problems.append(Problem("unsafe-path", rel, reason))
        else:
            safe[rel] = entry
    for rec in manifest.records:
        for f in rec.files:
            if f.path not in listed:
                reason = unsafe_path_reason(root, f.path)
                problems.append(
                    Problem(
                        "unsafe-path" if reason else "manifest",
                        f.path,
                        reason or f"record {rec.key} names a file the manifest does not list",
                    )
                )
            elif listed[f.path] != f:
                problems.append(Problem("manifest", f.path, f"record {rec.key} disagrees with the file list"))

    on_disk, links = _walk_files(root)
    for link in links:
        reason = unsafe_path_reason(root, link)
        problems.append(Problem("unsafe-path", link, reason or "symbolic link inside a dataset"))
    for rel in sorted(on_disk - set(listed) - {MANIFEST_NAME}):
        problems.append(Problem("extra", rel, "file is not listed in the manifest"))

    for rel, entry in sorted(safe.items()):
        p = root / rel
        if rel not in on_disk:
            if not p.is_symlink():
                problems.append(Problem("missing", rel, "listed file is missing"))
            continue
        size = p.stat().st_size
        if size < entry.bytes:  # type: ignore[attr-defined]
            problems.append(Problem("truncated", rel, f"{size} bytes, manifest says {entry.bytes}"))  # type: ignore[attr-defined]
            continue
        if size != entry.bytes:  # type: ignore[attr-defined]
            problems.append(Problem("changed", rel, f"{size} bytes, manifest says {entry.bytes}"))  # type: ignore[attr-defined]
            continue
        report.files_checked += 1
        report.bytes_checked += size
        if level in ("files", "content") and sha256_file(p) != entry.sha256:  # type: ignore[attr-defined]
            problems.append(Problem("changed", rel, "sha256 differs from the manifest"))

    if level == "content" and not problems:
        _verify_content(manifest, root, problems)
    report.seconds = time.perf_counter() - started
    return report


def _verify_content(manifest: Manifest, root: Path, problems: list[Problem]) -> None:
    from gaitprep.errors import BadInputError
    from gaitprep.store import read_sequence

    for rec in manifest.records:
        for fmt in manifest.layout.formats:
            try:
                arrays = read_sequence(root, rec, manifest.layout, fmt=fmt)
            except BadInputError as exc:
                problems.append(Problem("content", rec.key, str(exc)))
                continue
            for name, arr in arrays.items():
                if array_digest(arr) != rec.arrays[name].digest:
                    problems.append(Problem("content", rec.key, f"{fmt} array {name!r} digest differs"))


def quick_check(path: str | Path) -> Manifest:
    """Verify at the quick level and return the manifest, or raise VerificationError naming the first problems."""
    from gaitprep.errors import VerificationError

    report = verify_dataset(path, "quick")
    if not report.ok:
        shown = "; ".join(str(p) for p in report.problems[:3])
        more = f" (+{len(report.problems) - 3} more)" if len(report.problems) > 3 else ""
        raise VerificationError(f"dataset does not verify: {shown}{more}", report.manifest_path)
    return load_manifest(report.manifest_path)
