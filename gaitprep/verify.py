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
    FileEntry,
    Manifest,
    SequenceRecord,
    array_digest,
    compute_manifest_digest,
    content_digest,
    load_manifest,
    resolve_manifest_path,
)

Level = Literal["quick", "files", "content"]


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | extra | changed | truncated | unsafe-path | manifest | content | unreadable
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


def _lexical_reason(rel: str) -> str | None:
    """Why ``rel`` is not a plain relative path inside its root, judged from the string alone."""
    pure = PurePosixPath(rel)
    if (
        rel == ""
        or pure.is_absolute()
        or rel.startswith(("/", "\\"))
        or "\\" in rel
        or "\0" in rel
        or ":" in rel.split("/")[0]
    ):
        return "path is absolute or not a plain relative path"
    if any(part == ".." for part in rel.split("/")):
        return "path escapes the dataset directory (..)"
    if any(part in (".", "") for part in rel.split("/")):
        # "." or "a//b" names no file of its own (and "." is the dataset directory itself).
        return "path is not in normal form (empty or '.' component)"
    return None


def unsafe_path_reason(root: Path, rel: str) -> str | None:
    """Why ``rel`` may not be used inside ``root`` (absolute, ``..``, or resolving outside), else None."""
    reason = _lexical_reason(rel)
    if reason:
        return reason
    real_root = os.path.realpath(root)
    target = os.path.realpath(root / rel)
    if os.path.commonpath([real_root, target]) != real_root:
        return "path resolves outside the dataset directory (symlink)"
    return None


@dataclass
class _OnDisk:
    """What is under a dataset root, without following links: regular files (with sizes), links, others."""

    files: dict[str, int] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)  # FIFOs, sockets, devices: never opened
    unreadable: dict[str, str] = field(default_factory=dict)  # folders that could not be listed: why


def _walk_files(root: Path) -> _OnDisk:
    """One ``scandir`` pass (no ``stat`` per entry beyond regular files' sizes); never follows links."""
    found = _OnDisk()
    stack = [("", os.fspath(root))]
    while stack:
        prefix, folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            found.unreadable[prefix.rstrip("/") or "."] = exc.strerror or str(exc)
            continue
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_symlink():
                found.links.append(rel)
            elif entry.is_dir(follow_symlinks=False):
                stack.append((rel + "/", entry.path))
            elif entry.is_file(follow_symlinks=False):
                found.files[rel] = entry.stat(follow_symlinks=False).st_size
            else:
                found.special.append(rel)
    found.links.sort()
    found.special.sort()
    return found


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

    # Walk first: with no link anywhere under the root, a path that passes the lexical checks cannot
    # resolve outside it, so the per-file realpath (most of the cost for small files) is skipped.
    disk = _walk_files(root)

    def reason_for(rel: str) -> str | None:
        return unsafe_path_reason(root, rel) if disk.links else _lexical_reason(rel)

    listed = {f.path: f for f in manifest.files}
    safe: dict[str, FileEntry] = {}
    for rel, entry in listed.items():
        reason = reason_for(rel)
        if reason:
            problems.append(Problem("unsafe-path", rel, reason))
        else:
            safe[rel] = entry
    for rec in manifest.records:
        for f in rec.files:
            if f.path not in listed:
                reason = reason_for(f.path)
                problems.append(
                    Problem(
                        "unsafe-path" if reason else "manifest",
                        f.path,
                        reason or f"record {rec.key} names a file the manifest does not list",
                    )
                )
            elif listed[f.path] != f:
                problems.append(Problem("manifest", f.path, f"record {rec.key} disagrees with the file list"))

    for link in disk.links:
        reason = unsafe_path_reason(root, link)
        problems.append(Problem("unsafe-path", link, reason or "symbolic link inside a dataset"))
    for rel in disk.special:
        problems.append(Problem("unsafe-path", rel, "not a regular file (FIFO, socket or device)"))
    for rel, why in sorted(disk.unreadable.items()):
        problems.append(Problem("unreadable", rel, f"folder cannot be listed: {why}"))
    for rel in sorted(set(disk.files) - set(listed) - {MANIFEST_NAME}):
        problems.append(Problem("extra", rel, "file is not listed in the manifest"))

    for rel, entry in sorted(safe.items()):
        size = disk.files.get(rel)
        if size is None:
            if any(rel.startswith(f"{d}/") for d in disk.unreadable):
                continue  # inside a folder reported as unreadable above
            if rel not in disk.links and rel not in disk.special:  # those are reported above
                problems.append(Problem("missing", rel, "listed file is missing"))
            continue
        if size < entry.bytes:
            problems.append(Problem("truncated", rel, f"{size} bytes, manifest says {entry.bytes}"))
            continue
        if size != entry.bytes:
            problems.append(Problem("changed", rel, f"{size} bytes, manifest says {entry.bytes}"))
            continue
        report.files_checked += 1
        report.bytes_checked += size
        if level in ("files", "content"):
            try:
                digest = sha256_file(root / rel)
            except OSError as exc:  # unreadable (permissions, I/O error): a problem, and go on
                problems.append(Problem("unreadable", rel, f"cannot read: {exc.strerror or exc}"))
                continue
            if digest != entry.sha256:
                problems.append(Problem("changed", rel, "sha256 differs from the manifest"))

    if level == "content" and not problems:
        _verify_content(manifest, root, problems)
    report.seconds = time.perf_counter() - started
    return report


def _record_content_problems(manifest: Manifest, root: Path, rec: SequenceRecord) -> list[Problem]:
    """Decode one record's arrays in every stored format and compare their logical digests."""
    from gaitprep.errors import BadInputError
    from gaitprep.io.store import read_sequence

    found: list[Problem] = []
    for fmt in manifest.layout.formats:
        try:
            arrays = read_sequence(root, rec, manifest.layout, fmt=fmt)
        except BadInputError as exc:
            found.append(Problem("content", rec.key, str(exc)))
            continue
        for name, arr in arrays.items():
            expected = rec.arrays.get(name)
            if expected is None:
                found.append(Problem("content", rec.key, f"record has no digest for array {name!r}"))
            elif tuple(arr.shape) != tuple(expected.shape) or str(arr.dtype) != expected.dtype:
                found.append(
                    Problem(
                        "content",
                        rec.key,
                        f"{fmt} array {name!r} is {arr.dtype} {tuple(arr.shape)}, "
                        f"record says {expected.dtype} {tuple(expected.shape)}",
                    )
                )
            elif array_digest(arr) != expected.digest:
                found.append(Problem("content", rec.key, f"{fmt} array {name!r} digest differs"))
    return found


def _verify_content(manifest: Manifest, root: Path, problems: list[Problem]) -> None:
    # Sequential on purpose: zarr funnels reads through one event loop, so threads measured no faster.
    for rec in manifest.records:
        problems.extend(_record_content_problems(manifest, root, rec))


def quick_check(path: str | Path) -> Manifest:
    """Verify at the quick level and return the manifest, or raise VerificationError naming the first problems."""
    from gaitprep.errors import VerificationError

    report = verify_dataset(path, "quick")
    if not report.ok:
        shown = "; ".join(str(p) for p in report.problems[:3])
        more = f" (+{len(report.problems) - 3} more)" if len(report.problems) > 3 else ""
        raise VerificationError(f"dataset does not verify: {shown}{more}", report.manifest_path)
    return load_manifest(report.manifest_path)
