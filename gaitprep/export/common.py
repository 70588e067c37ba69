"""Shared parts of the exports: targets, format constants, the result records and the checks every
export makes (the dataset verifies, the output lies outside it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gaitprep.io.tree import sha256_file
from gaitprep.manifest import (
    Manifest,
    resolve_manifest_path,
)
from gaitprep.ownership import check_output_path
from gaitprep.verify import quick_check

TARGETS: tuple[str, ...] = ("hdf5", "croissant", "opengait-partition")
HDF5_FORMAT = "gaitprep-hdf5"
HDF5_FORMAT_VERSION = 1
HDF5_LIBVER = ("v108", "v110")  # dense attribute storage (a large manifest), readable by HDF5 >= 1.10
HDF5_CHUNK_FRAMES = 128
HDF5_GZIP_LEVEL = 4
ARRAY_SEPARATOR = "__"
MAX_FILE_OBJECTS = 2000


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
