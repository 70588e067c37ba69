"""Discover OpenGait-style trees ``<root>/<id>/<class>/<view>/`` in the four Scoliosis1K release layouts.

Layouts (domain reference §1.3):
- ``sil-raw``: one 8-bit PNG mask per frame, ``<frame>.png``;
- ``pose-raw``: one OpenPose-layout JSON per frame, ``<frame>.json`` (COCO-17 or BODY_25 keypoints);
- ``sil-pkl``: ``<view>.pkl`` holding uint8 (T, 64, 64);
- ``pose-pkl``: ``<view>.pkl`` holding float (T, 17, 3): x, y, confidence in image pixels.

Raw frames are read in the order of the number in their names (``gaitprep.io.frame_order``). A sequence
is ``(id, class, view)``: an id may hold several view folders; one id under two classes is an error.
Class folders map to the canonical order case-insensitively; the on-disk spelling is kept. An unknown
class folder is an error naming it, never a silent fallback.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.io.frame_order import frame_number, order_frame_files, unpadded_names
from gaitprep.io.read_options import DEFAULT_READ, ReadOptions
from gaitprep.io.safe_pickle import load_array_pickle
from gaitprep.skeleton import CLASS_INDEX, canonical_class

LAYOUTS: tuple[str, ...] = ("sil-raw", "pose-raw", "sil-pkl", "pose-pkl")
MODALITY_OF_LAYOUT = {
    "sil-raw": "silhouette",
    "sil-pkl": "silhouette",
    "pose-raw": "pose",
    "pose-pkl": "pose",
}


@dataclass(frozen=True, order=True)
class SequenceRef:
    """One sequence folder of a tree. ``label`` is the canonical class name, ``class_folder`` the on-disk one."""

    id: str
    label: str
    view: str
    class_folder: str
    folder: Path
    layout: str
    read: ReadOptions = field(default=DEFAULT_READ, compare=False)

    @property
    def key(self) -> str:
        """``<id>/<class>/<view>`` with the canonical class name: the identity across layouts."""
        return f"{self.id}/{self.label}/{self.view}"

    @property
    def label_index(self) -> int:
        return CLASS_INDEX[self.label]

    def files(self) -> list[Path]:
        """The input files of this sequence in the order they are read (``read.frame_order``)."""
        files = [p for p in self.folder.iterdir() if p.is_file() and _is_input(p, self.layout)]
        return order_frame_files(files, self.read.frame_order)


@dataclass
class Tree:
    root: Path
    layout: str
    sequences: list[SequenceRef]
    problems: list[str] = field(default_factory=list)

    @property
    def ids(self) -> set[str]:
        return {s.id for s in self.sequences}

    def by_key(self) -> dict[str, SequenceRef]:
        return {s.key: s for s in self.sequences}


def _is_input(path: Path, layout: str) -> bool:
    if layout == "sil-raw":
        return path.suffix.lower() == ".png" and path.name != "gei.png"
    if layout == "pose-raw":
        return path.suffix.lower() == ".json"
    return path.suffix == ".pkl"


def _leaf_layout(folder: Path) -> str | None:
    """Guess the layout from one leaf folder's files (pkl trees are told apart by the array shape)."""
    names = [p for p in folder.iterdir() if p.is_file()]
    if any(p.suffix == ".pkl" for p in names):
        pkl = next(p for p in sorted(names) if p.suffix == ".pkl")
        arr = load_array_pickle(pkl)
        if arr.ndim == 3 and arr.shape[1:] == (17, 3):
            return "pose-pkl"
        if arr.ndim == 3 and arr.shape[1:] == (64, 64):
            return "sil-pkl"
        raise BadInputError(
            f"array of shape {arr.shape} and dtype {arr.dtype} is neither a pose (T, 17, 3) nor a "
            "silhouette (T, 64, 64) sequence",
            pkl,
        )
    if any(p.suffix.lower() == ".png" for p in names):
        return "sil-raw"
    if any(p.suffix.lower() == ".json" for p in names):
        return "pose-raw"
    return None


def release_layouts(root: Path) -> dict[str, Path]:
    """A release root holding ``sil-raw/``, ``pose-pkl/`` ... subfolders (as ``gaitprep synth`` writes)."""
    root = Path(root)
    return {name: root / name for name in LAYOUTS if (root / name).is_dir()}


def discover_tree(
    root: str | Path, layout: str | None = None, strict: bool = True, read: ReadOptions = DEFAULT_READ
) -> Tree:
    """Walk ``root/<id>/<class>/<view>/`` and return the sequences found, sorted by id.

    With ``strict`` the first structural problem (unknown class folder, one id under two classes, an
    empty sequence folder) raises BadInputError naming the folder; otherwise problems are collected in
    ``Tree.problems`` and the offending folders skipped, so ``inspect`` can report them all. ``read``
    (frame order, person selection) travels with every sequence to its reader.
    """
    root = Path(root)
    if not root.is_dir():
        raise BadInputError("not a directory", root)
    if layout is not None and layout not in LAYOUTS:
        raise BadInputError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    problems: list[str] = []

    def problem(message: str, path: Path) -> None:
        if strict:
            raise BadInputError(message, path)
        problems.append(f"{path}: {message}")

    seqs: list[SequenceRef] = []
    seen_ids: dict[str, str] = {}
    for id_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        class_dirs = sorted(p for p in id_dir.iterdir() if p.is_dir())
        if not class_dirs:
            problem("id folder holds no class folder", id_dir)
            continue
        for class_dir in class_dirs:
            try:
                label = canonical_class(class_dir.name, class_dir)
            except BadInputError as exc:
                if strict:
                    raise
                problems.append(str(exc))
                continue
            if id_dir.name in seen_ids and seen_ids[id_dir.name] != label:
                problem(
                    f"label conflict: id {id_dir.name} appears under two classes ({seen_ids[id_dir.name]} and {label})",
                    class_dir,
                )
                continue
            seen_ids[id_dir.name] = label
            view_dirs = sorted(p for p in class_dir.iterdir() if p.is_dir())
            if not view_dirs:
                problem("class folder holds no view folder", class_dir)
            for view_dir in view_dirs:
                try:
                    leaf_layout = layout or _leaf_layout(view_dir)
                except BadInputError as exc:
                    if strict:
                        raise
                    problems.append(str(exc))
                    continue
                if leaf_layout is None:
                    problem("empty sequence folder (no PNG, JSON or pkl files)", view_dir)
                    continue
                if layout is None:
                    layout = leaf_layout
                ref = SequenceRef(id_dir.name, label, view_dir.name, class_dir.name, view_dir, layout, read)
                if not ref.files():
                    problem(f"empty sequence folder (no {layout} files)", view_dir)
                    continue
                seqs.append(ref)
    if not seqs and layout is None:
        raise BadInputError("no sequences found (expected <id>/<class>/<view>/ folders)", root)
    return Tree(root=root, layout=layout or "unknown", sequences=seqs, problems=problems)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a regular file; a FIFO, socket or device is refused at once (never read or waited on)."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadInputError("not a regular file (a FIFO, socket or device)", path)
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sequence_fingerprint(ref: SequenceRef) -> str:
    """sha256 over the (file name, file sha256) list of a sequence's input files, in reading order."""
    h = hashlib.sha256()
    for path in ref.files():
        h.update(f"{path.name}\0{sha256_file(path)}\n".encode())
    return h.hexdigest()


def check_frame_names(ref: SequenceRef) -> str | None:
    """A problem when two frame files carry the same number, or when frames are read in name order although
    their numbers have different widths."""
    if ref.layout not in ("sil-raw", "pose-raw"):
        return None
    files = ref.files()
    numbers = [frame_number(p) for p in files]
    if None not in numbers and len(set(numbers)) != len(numbers):
        return (
            "two frame files carry the same frame number (e.g. 1 and 01), so they are read in file-name order"
        )
    if ref.read.frame_order == "lexical" and unpadded_names(files):
        return "frame names are numbers of different widths, so name order (--frame-order lexical) is not frame order"
    return None


def has_unpadded_names(ref: SequenceRef, files: list[Path] | None = None) -> bool:
    """True for a raw sequence whose frame numbers are written with different widths (``9.json``, ``10.json``)."""
    return ref.layout in ("sil-raw", "pose-raw") and unpadded_names(ref.files() if files is None else files)


def validate_pose_array(arr: np.ndarray, path: object) -> np.ndarray:
    """A pose sequence must be finite float (T >= 1, 17, 3); returns it as float64."""
    if arr.ndim != 3 or arr.shape[1:] != (17, 3):
        raise BadInputError(f"pose array has shape {arr.shape}, expected (T, 17, 3)", path)
    if arr.shape[0] == 0:
        raise BadInputError("pose sequence has 0 frames", path)
    if arr.dtype.kind not in "iuf":  # complex, timedelta, bool, strings: not coordinates
        raise BadInputError(f"pose array has dtype {arr.dtype}, expected a real number type (float)", path)
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=(1, 2)).sum())
        raise BadInputError(f"pose array holds NaN or infinite values in {bad} frame(s)", path)
    return arr


def validate_silhouette_array(arr: np.ndarray, path: object) -> np.ndarray:
    """A silhouette sequence must be uint8 (T >= 1, 64, 64)."""
    if arr.dtype != np.uint8:
        raise BadInputError(f"silhouette array has dtype {arr.dtype}, expected uint8", path)
    if arr.ndim != 3 or arr.shape[1:] != (64, 64):
        raise BadInputError(f"silhouette array has shape {arr.shape}, expected (T, 64, 64)", path)
    if arr.shape[0] == 0:
        raise BadInputError("silhouette sequence has 0 frames", path)
    return arr
