"""Import of keypoints stored as ``gaitprep export --to hdf5`` writes them: ``/<id>/<class>/<view>``
float ``(T, 17, 3)`` datasets back into a pose-pkl tree.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.export.common import (
    ARRAY_SEPARATOR,
    ImportResult,
    _umask_mode,
)
from gaitprep.export.hdf5 import _open_h5
from gaitprep.io.bounds import MAX_SEQUENCE_FRAMES, check_array_bytes
from gaitprep.io.safe_pickle import dump_array_pickle
from gaitprep.io.tree import validate_pose_array
from gaitprep.ownership import check_output_path, write_tree_marker
from gaitprep.skeleton import canonical_class


def _check_name(name: str, where: str) -> None:
    if name in ("", ".", "..") or name.startswith(".") or any(c in name for c in "\\\0:"):
        raise BadInputError(f"name {name!r} cannot be used as a folder name", where)


@dataclass(frozen=True)
class _Entry:
    seq_id: str
    class_folder: str
    view: str
    h5path: str


def _keypoint_entries(h5: Any, path: Path) -> tuple[list[_Entry], list[str]]:
    """Every ``/<id>/<class>/<view>`` dataset, and the ``<view>__<array>`` siblings skipped."""
    import h5py

    entries: list[_Entry] = []
    skipped: list[str] = []
    for seq_id in sorted(h5):
        where = f"{path}:/{seq_id}"
        id_obj = h5[seq_id]
        if not isinstance(id_obj, h5py.Group):
            raise BadInputError(
                "expected a group /<id>/<class>/<view>, found a dataset at the id level", where
            )
        _check_name(seq_id, where)
        classes = sorted(id_obj)
        if len(classes) != 1:
            found = ", ".join(classes) or "none"
            raise BadInputError(f"id must hold exactly one class group, found {found}", where)
        (class_folder,) = classes
        where = f"{where}/{class_folder}"
        canonical_class(class_folder, where)
        class_obj = id_obj[class_folder]
        if not isinstance(class_obj, h5py.Group):
            raise BadInputError("expected a class group holding view datasets", where)
        views = sorted(class_obj)
        if not views:
            raise BadInputError("class group holds no view dataset", where)
        for view in views:
            vwhere = f"{where}/{view}"
            node = class_obj[view]
            if not isinstance(node, h5py.Dataset):
                raise BadInputError("expected a (T, 17, 3) dataset, found a group", vwhere)
            if node.dtype.kind not in "iuf":
                raise BadInputError(
                    f"dataset has dtype {node.dtype}, expected a real number type (float)", vwhere
                )
            shape = tuple(node.shape or ())
            if len(shape) == 3 and shape[0] > MAX_SEQUENCE_FRAMES:
                raise BadInputError(
                    f"dataset declares {shape[0]} frames, more than the {MAX_SEQUENCE_FRAMES} frame limit",
                    vwhere,
                )
            check_array_bytes(shape, node.dtype.itemsize, vwhere, "dataset")
            stem, sep, _ = view.partition(ARRAY_SEPARATOR)
            if sep and stem in class_obj:
                skipped.append(f"/{seq_id}/{class_folder}/{view}")
                continue
            _check_name(view, vwhere)
            entries.append(_Entry(seq_id, class_folder, view, f"/{seq_id}/{class_folder}/{view}"))
    return entries, skipped


def import_keypoints(
    h5_path: str | Path, out: str | Path, *, force: bool = False, quiet: bool = False
) -> ImportResult:
    """Read ``/<id>/<class>/<view>`` keypoints, float (T, 17, 3) x, y, confidence, into a pose-pkl tree.

    Every array is validated (shape (T >= 1, 17, 3), numeric, finite) and every class name must map to
    the canonical order; errors name the file and the HDF5 path. Floats keep their dtype (so float32
    values round-trip exactly); integers become float64. The tree is built in a hidden temporary folder
    beside ``out`` and renamed into place, so a failure leaves nothing under ``out``. The tree carries the
    hidden marker ``.gaitprep-tree.json``; ``force`` replaces only such a tree (``gaitprep.ownership``).
    """
    import h5py

    from gaitprep.progress import progress

    h5_path, out = Path(h5_path), Path(out)
    # Never inside a dataset or holding the HDF5 file; --force replaces only a tree this command wrote.
    check_output_path(out, inputs=[h5_path], kind="tree", force=force)
    if out.exists() and not force and any(out.iterdir()):
        raise BadInputError(
            "output exists and is not empty; choose a new --out or pass --force to replace a tree "
            "import-keypoints wrote",
            out,
        )
    with _open_h5(h5_path, h5py) as h5:
        embedded = h5.attrs.get("manifest")
        if embedded is not None:
            try:
                modality = json.loads(embedded).get("modality")
            except (ValueError, AttributeError):
                modality = None
            if modality not in (None, "pose"):
                raise BadInputError(f"HDF5 file holds a {modality} dataset, not keypoints", h5_path)
        try:
            entries, skipped = _keypoint_entries(h5, h5_path)
        except (KeyError, OSError, RuntimeError, RecursionError) as exc:  # broken or cyclic links
            raise BadInputError(f"cannot walk the HDF5 file ({type(exc).__name__}: {exc})", h5_path) from None
        if not entries:
            raise BadInputError("HDF5 file holds no /<id>/<class>/<view> keypoint datasets", h5_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        frames = 0
        try:
            for e in progress(entries, total=len(entries), desc="import-keypoints", quiet=quiet):
                try:
                    arr = np.asarray(h5[e.h5path][...])
                except (KeyError, OSError, RuntimeError) as exc:  # a corrupt chunk or filter
                    raise BadInputError(f"cannot read dataset ({exc})", f"{h5_path}:{e.h5path}") from None
                validate_pose_array(arr, f"{h5_path}:{e.h5path}")
                arr = arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)
                arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)
                target = tmp / e.seq_id / e.class_folder / e.view / f"{e.view}.pkl"
                dump_array_pickle(arr, target)
                _umask_mode(target)
                frames += int(arr.shape[0])
            _umask_mode(tmp, 0o777)  # mkdtemp makes it private
            write_tree_marker(tmp, "import-keypoints")
            check_output_path(out, inputs=[h5_path], kind="tree", force=force)  # the last look
            if out.exists():
                if not any(out.iterdir()):
                    out.rmdir()
                else:
                    shutil.rmtree(out)  # only reached with force, for a tree of ours
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return ImportResult(out, h5_path, len(entries), frames, tuple(skipped))
