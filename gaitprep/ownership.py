"""What gaitprep may delete or replace, and where it may write: one rule, used by every command that writes.

**Ours.** A folder is ours when its ``manifest.json`` parses as a gaitprep manifest and the folder holds no
file the manifest does not list, besides our own scratch names (build locks, staging and replaced folders,
atomic-write temporaries: ``.<name>.lock``, ``.<name>.partial``, ``.<name>.replaced``, ``.<name>.<x>.tmp``).
It need not verify: a damaged dataset of ours can still be rebuilt with ``--force``. A tree without a
manifest (``gaitprep synth``'s release, ``import-keypoints``' pose tree) is ours when it holds our hidden
marker ``.gaitprep-tree.json`` and exactly the files that marker counted (by the digest of their sorted
paths). Only an empty folder or one of ours may be replaced; anything else (an input tree, a folder with
other files, a file) is refused.

**Where outputs may go.** An output may not be an input, hold an input, or lie inside one (every later read
of that input would meet the output), and may not lie inside a dataset (a folder with our ``manifest.json``
above it: an extra file makes the dataset fail verification). A builder's output may itself be a dataset
(it is then up to date, refused, or replaced with ``--force`` when ours); any other output may not.

Every refusal is a :class:`~gaitprep.errors.BadInputError` naming the output and saying what to do.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from gaitprep.errors import BadInputError
from gaitprep.manifest import MANIFEST_NAME

OutputKind = Literal["dataset", "tree", "folder", "file"]
"""``dataset``: a builder's output folder (may be replaced when ours); ``tree``: a folder written whole and
marked (may be replaced when ours); ``folder``: a folder written into (a run directory, an evaluation
folder); ``file``: one file (a preview, an export)."""

TREE_MARKER = ".gaitprep-tree.json"

# Our scratch names: build locks, staging and replaced folders (build/engine.py), atomic-write temporaries
# (io/atomic.py). They may sit in a folder of ours without making it someone else's.
SCRATCH_NAME = re.compile(r"^\..+\.(lock|partial|replaced|tmp)$")


def _real(path: str | Path) -> Path:
    """The absolute path with every symbolic link resolved (the parts that exist), ``..`` folded."""
    return Path(os.path.realpath(os.path.abspath(path)))


def _parses_as_our_manifest(path: Path) -> bool:
    from gaitprep.manifest import load_manifest

    if not path.is_file():
        return False
    try:
        load_manifest(path)
    except BadInputError:
        return False
    return True


def _looks_like_our_manifest(path: Path) -> bool:
    """A ``manifest.json`` gaitprep wrote, of any schema version, even one that no longer parses fully:
    the generous test used to keep outputs out of datasets."""
    if not path.is_file():
        return False
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict):
        return False
    generator = doc.get("generator")
    return isinstance(generator, dict) and generator.get("name") == "gaitprep"


def _unlisted_entries(root: Path, listed: set[str]) -> list[str]:
    """Every non-folder entry under ``root`` (files, links, FIFOs...) that is neither listed, the manifest,
    nor one of our scratch names; a scratch-named folder is not entered. Never follows links."""
    found: list[str] = []
    stack = [("", os.fspath(root))]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if SCRATCH_NAME.match(entry.name):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((rel + "/", entry.path))
                elif rel != MANIFEST_NAME and rel not in listed:
                    found.append(rel)
    return sorted(found)


def is_our_dataset(path: str | Path) -> bool:
    """True when ``path`` is a folder whose ``manifest.json`` parses as a gaitprep manifest and which holds
    no file that manifest does not list (besides our scratch names). Does not verify checksums."""
    from gaitprep.manifest import load_manifest

    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return False
    manifest_path = path / MANIFEST_NAME
    if manifest_path.is_symlink() or not _parses_as_our_manifest(manifest_path):
        return False
    manifest = load_manifest(manifest_path)
    try:
        return not _unlisted_entries(path, {f.path for f in manifest.files})
    except OSError:
        return False


def _tree_paths_digest(root: Path) -> tuple[int, str]:
    """(count, sha256 of the sorted relative paths) of every non-folder entry under ``root`` except the
    marker and our scratch names. Never follows links."""
    import hashlib

    paths = sorted(p for p in _unlisted_entries(root, set()) if p != TREE_MARKER)
    if (root / MANIFEST_NAME).exists() or (root / MANIFEST_NAME).is_symlink():
        paths = sorted([*paths, MANIFEST_NAME])
    return len(paths), hashlib.sha256("\n".join(paths).encode()).hexdigest()


def write_tree_marker(root: str | Path, command: str) -> None:
    """Mark the finished tree ``root`` (before it is renamed into place) as written by ``command``: the
    marker records how many files it holds and the digest of their sorted paths."""
    from gaitprep.io.atomic import atomic_write_bytes, canonical_json

    root = Path(root)
    count, digest = _tree_paths_digest(root)
    doc = {"written_by": f"gaitprep {command}", "files": count, "paths_sha256": digest}
    atomic_write_bytes(root / TREE_MARKER, canonical_json(doc) + b"\n", fsync=False)


def is_our_tree(path: str | Path) -> bool:
    """True when ``path`` is a folder holding our tree marker and exactly the files it counted."""
    path = Path(path)
    marker = path / TREE_MARKER
    if path.is_symlink() or not path.is_dir() or marker.is_symlink() or not marker.is_file():
        return False
    try:
        doc = json.loads(marker.read_bytes())
        count, digest = _tree_paths_digest(path)
    except (OSError, ValueError):
        return False
    return (
        isinstance(doc, dict)
        and str(doc.get("written_by", "")).startswith("gaitprep ")
        and doc.get("files") == count
        and doc.get("paths_sha256") == digest
    )


def foreign_entries(path: str | Path) -> list[str]:
    """What makes ``path`` not ours, for error messages: the unlisted entries, or ``[manifest.json]``."""
    from gaitprep.manifest import load_manifest

    path = Path(path)
    if not _parses_as_our_manifest(path / MANIFEST_NAME):
        return [MANIFEST_NAME]
    listed = {f.path for f in load_manifest(path / MANIFEST_NAME).files}
    return _unlisted_entries(path, listed)


def enclosing_dataset(path: str | Path, *, include_self: bool) -> Path | None:
    """The nearest folder at or above ``path`` (above only, unless ``include_self``) holding a gaitprep
    ``manifest.json``, or None."""
    real = _real(path)
    candidates = [real, *real.parents] if include_self else list(real.parents)
    for folder in candidates:
        if _looks_like_our_manifest(folder / MANIFEST_NAME):
            return folder
    return None


def _is_within(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_output_path(
    out: str | Path,
    *,
    inputs: Iterable[str | Path | None] = (),
    kind: OutputKind,
    force: bool = False,
    option: str = "--out",
) -> None:
    """Refuse an output that would destroy or corrupt data we did not write, before any work starts.

    Refused (``BadInputError`` naming ``out``): ``out`` equal to, inside or holding any of ``inputs``
    (``None`` entries are skipped); ``out`` inside a dataset (for ``kind`` other than ``dataset``, also
    ``out`` being one); an existing ``out`` of the wrong type; and, with ``force``, an existing ``out``
    that is neither an empty folder nor one of ours. ``option`` names the option in the advice.
    """
    out_path = Path(out)
    real_out = _real(out_path)
    dataset = enclosing_dataset(out_path, include_self=kind != "dataset")
    if dataset is not None:
        where = "is" if dataset == real_out else "lies inside"
        raise BadInputError(
            f"the output {where} the gaitprep dataset {dataset}; writing there would make it fail "
            f"verification; give {option} a path outside it",
            out,
        )
    for given in inputs:
        if given is None:
            continue
        real_in = _real(given)
        if real_out == real_in:
            raise BadInputError(f"the output is also an input; give {option} a path outside every input", out)
        if _is_within(real_out, real_in):
            raise BadInputError(
                f"the output lies inside the input {given}; give {option} a path outside it", out
            )
        if _is_within(real_in, real_out):
            raise BadInputError(
                f"the output holds the input {given}; give {option} a path that does not contain it", out
            )
    if not out_path.exists() and not out_path.is_symlink():
        return
    if kind == "file":
        if out_path.is_dir():
            raise BadInputError(f"the output is a directory; give {option} a file name", out)
        return
    if not out_path.is_dir():
        raise BadInputError(f"the output exists and is not a directory; give {option} another path", out)
    if not force or kind not in ("dataset", "tree") or not any(out_path.iterdir()):
        return
    if kind == "dataset" and not is_our_dataset(out_path):
        found = foreign_entries(out_path)
        shown = ", ".join(found[:3]) + (f" (+{len(found) - 3} more)" if len(found) > 3 else "")
        what = (
            "it holds no gaitprep manifest"
            if found == [MANIFEST_NAME]
            else f"it holds files its manifest does not list: {shown}"
        )
        raise BadInputError(
            f"--force replaces only a gaitprep dataset and {what}; nothing was deleted; "
            f"give {option} another path or move those files away",
            out,
        )
    if kind == "tree" and not is_our_tree(out_path):
        what = "files gaitprep did not write" if (out_path / TREE_MARKER).is_file() else "no gaitprep marker"
        raise BadInputError(
            f"--force replaces only a tree gaitprep wrote and this one holds {what}; nothing was deleted; "
            f"give {option} another path or move those files away",
            out,
        )


def check_replaceable(out: str | Path) -> None:
    """Just before replacing ``out``: it must be absent, an empty folder, or one of ours."""
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    if out.is_dir() and not out.is_symlink() and (not any(out.iterdir()) or is_our_dataset(out)):
        return
    raise BadInputError("refusing to replace what gaitprep did not write; choose a new --out", out)
