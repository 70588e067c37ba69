"""Write a synthetic Scoliosis1K release in the four real layouts, plus an upstream-format partition.

Domain reference §1.3–§1.5. Under ``<out>``::

    sil-raw/<id>/<class>/000_180/000001.png    8-bit greyscale 0/255 mask per frame
    pose-raw/<id>/<class>/000_180/000001.json  {"people": [{"pose_keypoints_2d": [51 numbers]}]}
    sil-pkl/<id>/<class>/000_180/000_180.pkl   uint8 (T, 64, 64): pretreat_sequence of the masks
    pose-pkl/<id>/<class>/000_180/000_180.pkl  float64 (T, 17, 3): the JSON numbers, sorted frame order
    Scoliosis1K_<code>.json                    {"TRAIN_SET": [...], "TEST_SET": [...]}

Ids are ``00000``… and class-blocked like the real release (positive, then negative, then neutral, in
proportion 493:800:200). Every sequence draws from its own ``numpy`` generator seeded by
``(seed, sequence index)``, so its bytes do not depend on the other sequences, on the write order or on
the worker count; the same arguments always give byte-identical trees.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.io.atomic import atomic_write_bytes
from gaitprep.io.safe_pickle import dump_array_pickle
from gaitprep.ownership import check_output_path, write_tree_marker
from gaitprep.partition import DEFAULT_RATIO, write_partition
from gaitprep.silhouettes import DROP_REASONS, pretreat_sequence
from gaitprep.skeleton import CLASS_ORDER
from gaitprep.synth.detector import detect
from gaitprep.synth.subject import make_subject
from gaitprep.synth.walker import render_silhouettes, walk

LAYOUTS: tuple[str, ...] = ("sil-raw", "pose-raw", "sil-pkl", "pose-pkl")
VIEW = "000_180"
# The real id blocks (domain §1.4), in id order.
BLOCK_ORDER: tuple[str, ...] = ("positive", "negative", "neutral")
BLOCK_SIZES: tuple[int, ...] = (493, 800, 200)
# cv2 PNG settings are fixed so that the bytes never depend on a library default. Masks are 0/255, so
# no row filter + run-length deflate is both the fastest (~7x libpng's adaptive filtering) and small.
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.11
    PNG_PARAMS += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
# Tags that keep the per-sequence and the partition random streams apart.
_SEQUENCE_STREAM, _PARTITION_STREAM = 1, 2

_RATIO = re.compile(r"^1:1:([1-9][0-9]*)$")


def ratio_code(ratio: str) -> tuple[int, str]:
    """``"1:1:8"`` -> ``(8, "118")``; the code names the partition file ``Scoliosis1K_<code>.json``."""
    match = _RATIO.match(ratio.strip())
    if not match:
        raise BadInputError(
            f"ratio must look like 1:1:R with R a positive integer (e.g. 1:1:8), got {ratio!r}"
        )
    r = int(match.group(1))
    return r, f"11{r}"


def class_blocks(sequences: int) -> list[str]:
    """Class of each id ``0 … sequences-1``: positive, negative, neutral blocks in proportion 493:800:200.

    Largest-remainder apportionment; every class gets at least 2 sequences when ``sequences >= 6`` (so
    it can be in both train and test) and at least 1 when ``sequences >= 3``.
    """
    if sequences < 1:
        raise BadInputError(f"sequences must be >= 1, got {sequences}")
    total = sum(BLOCK_SIZES)
    quotas = [sequences * size / total for size in BLOCK_SIZES]
    counts = [int(q) for q in quotas]
    order = sorted(range(3), key=lambda k: (-(quotas[k] - counts[k]), k))
    for k in order[: sequences - sum(counts)]:
        counts[k] += 1
    minimum = 2 if sequences >= 6 else 1 if sequences >= 3 else 0
    for k in range(3):
        while counts[k] < minimum:
            donor = max(range(3), key=lambda i: (counts[i], -i))
            counts[donor] -= 1
            counts[k] += 1
    return [label for label, n in zip(BLOCK_ORDER, counts, strict=True) for _ in range(n)]


def split_counts(counts: dict[str, int], r: int) -> dict[str, int]:
    """Train sequences per class: positive : neutral : negative = 1 : 1 : R, about half of all in train.

    Each class with at least 2 sequences keeps at least one in train and one in test; a class with a
    single sequence goes to train.
    """
    n = sum(counts.values())
    pos, neu, neg = counts["positive"], counts["neutral"], counts["negative"]
    target = max(1, round(n / 2 / (2 + r)))
    cap = min(pos - 1, neu - 1, (neg - 1) // r)  # the largest a that keeps the exact ratio
    a = min(target, cap) if cap >= 1 else 1
    wanted = {"positive": a, "neutral": a, "negative": r * a}
    out = {}
    for label, k in wanted.items():
        n_c = counts[label]
        out[label] = n_c if n_c <= 1 else min(max(k, 1), n_c - 1)
    return out


def choose_partition(labels: Sequence[str], r: int, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic train/test ids (sorted 5-digit strings) for class ``labels`` indexed by id."""
    counts = {c: sum(1 for label in labels if label == c) for c in CLASS_ORDER}
    train_n = split_counts(counts, r)
    rng = np.random.default_rng([seed, _PARTITION_STREAM])
    train: list[str] = []
    for c in CLASS_ORDER:
        ids = [f"{i:05d}" for i, label in enumerate(labels) if label == c]
        picked = rng.permutation(len(ids))[: train_n[c]]
        train.extend(ids[k] for k in picked)
    train_set = set(train)
    test = [f"{i:05d}" for i in range(len(labels)) if f"{i:05d}" not in train_set]
    return sorted(train), test


def _frame_json(row: np.ndarray, absent: bool = False) -> bytes:
    """One OpenPose-style frame ``(17, 3)``; ``absent`` writes an empty people list (no detection)."""
    if absent:
        return b'{"people":[]}'
    return json.dumps(
        {"people": [{"pose_keypoints_2d": row.reshape(-1).tolist()}]}, separators=(",", ":")
    ).encode()


def _write_sequence(
    root: Path,
    index: int,
    label: str,
    *,
    seed: int,
    frames: tuple[int, int],
    image_size: tuple[int, int],
    layouts: tuple[str, ...],
    missing_rate: float,
    low_conf_rate: float,
    no_person_rate: float,
    empty_mask_rate: float,
) -> dict[str, Any]:
    """Simulate and write one sequence into ``root``; return its accounting record."""
    rng = np.random.default_rng([seed, _SEQUENCE_STREAM, index])
    n_frames = int(rng.integers(frames[0], frames[1] + 1))
    subject = make_subject(rng, label)
    true_pose, geometry = walk(subject, n_frames, image_size, rng)
    masks = render_silhouettes(geometry)
    pose = detect(true_pose, rng, missing_rate=missing_rate, low_conf_rate=low_conf_rate)
    no_person = rng.random(n_frames) < no_person_rate
    empty_mask = rng.random(n_frames) < empty_mask_rate
    masks[empty_mask] = 0  # a segmentation failure: upstream drops such frames (low_mass)

    seq_id = f"{index:05d}"
    rel = Path(seq_id) / label / VIEW
    names = [f"{k + 1:06d}" for k in range(n_frames)]
    sil_frames, pose_frames, drops, missing = write_sequence_layouts(
        root, rel, names, pose, masks, no_person, layouts
    )
    return {
        "id": seq_id,
        "class": label,
        "frames": n_frames,
        "sil_frames": sil_frames,
        "pose_frames": pose_frames,
        "drops": drops,
        "missing_joints": missing,
    }


def write_sequence_layouts(
    root: Path,
    rel: Path,
    names: Sequence[str],
    pose: np.ndarray,
    masks: np.ndarray | None,
    no_person: np.ndarray,
    layouts: Sequence[str],
) -> tuple[int, int, dict[str, int], int]:
    """Write one sequence's frames into each of ``layouts`` under ``root/<layout>/<rel>``.

    ``names``: T frame file stems. ``pose``: float64 ``(T, 17, 3)``; ``masks``: uint8 ``(T, H, W)`` 0/255 (``None``
    when no silhouette layout is asked for: then 0 frames and no drops are reported); ``no_person``: bool ``(T,)``, frames written with an empty ``people`` list and left out of the pose
    pickle. The pickles are named after ``rel``'s last part (the view), as upstream names them. Returns
    ``(silhouette frames kept, pose frames kept, silhouette drops by reason, missing joints)``.
    """
    view = rel.name
    if masks is None and ({"sil-raw", "sil-pkl"} & set(layouts)):
        raise BadInputError("silhouette layouts need masks")
    if "sil-raw" in layouts:
        for name, mask in zip(names, masks, strict=True):
            ok, png = cv2.imencode(".png", mask, PNG_PARAMS)
            if not ok:  # pragma: no cover - cv2 always encodes a uint8 2-D array
                raise RuntimeError("cv2 failed to encode a PNG")
            atomic_write_bytes(root / "sil-raw" / rel / f"{name}.png", png.tobytes(), fsync=False)
    if "pose-raw" in layouts:
        for name, row, absent in zip(names, pose, no_person, strict=True):
            atomic_write_bytes(
                root / "pose-raw" / rel / f"{name}.json", _frame_json(row, absent), fsync=False
            )
    if masks is not None:
        sil, drops = pretreat_sequence(masks)
    else:
        sil, drops = np.zeros((0, 64, 64), dtype=np.uint8), dict.fromkeys(DROP_REASONS, 0)
    if "sil-pkl" in layouts and len(sil):  # upstream writes no pickle when every frame is dropped
        dump_array_pickle(sil, root / "sil-pkl" / rel / f"{view}.pkl")
    kept_pose = pose[~no_person]
    if "pose-pkl" in layouts and len(kept_pose):
        dump_array_pickle(kept_pose.astype(np.float64), root / "pose-pkl" / rel / f"{view}.pkl")
    missing = int(np.all(kept_pose == 0.0, axis=-1).sum())
    return int(len(sil)), int(len(kept_pose)), drops, missing


def _check_args(
    sequences: int,
    frames: tuple[int, int],
    image_size: tuple[int, int],
    layouts: Sequence[str],
    rates: dict[str, float],
    workers: int,
) -> None:
    if sequences < 1:
        raise BadInputError(f"sequences must be >= 1, got {sequences}")
    lo, hi = frames
    if lo < 1 or hi < lo:
        raise BadInputError(f"frames must be a range LO-HI with 1 <= LO <= HI, got {lo}-{hi}")
    if min(image_size) < 8:
        raise BadInputError(f"image size must be at least 8x8 pixels, got {image_size[0]}x{image_size[1]}")
    unknown = sorted(set(layouts) - set(LAYOUTS))
    if unknown or not layouts:
        raise BadInputError(
            f"layouts must be a non-empty subset of {', '.join(LAYOUTS)}; got {list(layouts)}"
        )
    for name, value in rates.items():
        if not 0.0 <= value <= 1.0:
            raise BadInputError(f"{name} must be in [0, 1], got {value}")
    if workers < 1:
        raise BadInputError(f"workers must be >= 1, got {workers}")


def _is_nonempty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def write_release(
    out: Path,
    *,
    sequences: int,
    frames: tuple[int, int],
    image_size: tuple[int, int] = (640, 360),
    seed: int,
    layouts: Sequence[str] = LAYOUTS,
    ratio: str = DEFAULT_RATIO,
    missing_rate: float = 0.01,
    low_conf_rate: float = 0.02,
    no_person_rate: float = 0.0,
    empty_mask_rate: float = 0.0,
    progress: bool = False,
    workers: int = 1,
    force: bool = False,
) -> dict[str, Any]:
    """Write a synthetic release under ``out`` and return a summary.

    ``frames``: inclusive range of raw frames per sequence. ``image_size``: ``(W, H)`` pixels.
    ``no_person_rate`` / ``empty_mask_rate`` (default 0) inject frames with an empty ``people`` list or
    an empty mask, which the upstream converters drop, so silhouette and pose T differ (domain §1.3).
    The tree is built in a sibling ``<out>.tmp-*`` directory and renamed into place, so ``out`` is never
    seen half-written. An existing non-empty ``out`` is refused unless ``force``, and then replaced only when
    it is a release this function wrote (it carries the hidden marker ``.gaitprep-tree.json``, which counts
    its files) and holds nothing else: never someone's folder (``gaitprep.ownership``).

    Summary keys: ``root``, ``sequences``, ``frames``, ``image_size``, ``seed``, ``layouts``, ``ratio``,
    ``classes`` (count per class), ``splits`` (per split, per class and ``total``), ``partition`` (path),
    ``partition_sha256``, ``sil_dropped`` (count per reason), ``missing_joints``, ``records`` (per
    sequence: id, class, frames, sil_frames, pose_frames, drops, missing_joints).
    """
    from joblib import Parallel, delayed

    from gaitprep.progress import progress as progress_bar

    out = Path(out)
    layouts = tuple(layouts)
    rates = {
        "missing_rate": missing_rate,
        "low_conf_rate": low_conf_rate,
        "no_person_rate": no_person_rate,
        "empty_mask_rate": empty_mask_rate,
    }
    _check_args(sequences, frames, image_size, layouts, rates, workers)
    r, code = ratio_code(ratio)
    if out.exists() and not out.is_dir():
        raise BadInputError("output exists and is not a directory", out)
    # Never inside a dataset; --force replaces only a release this command wrote (ownership.py).
    check_output_path(out, kind="tree", force=force)
    if _is_nonempty_dir(out) and not force:
        raise BadInputError(
            "output directory is not empty; choose another or pass --force to replace a release "
            "gaitprep synth wrote",
            out,
        )

    labels = class_blocks(sequences)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}.tmp-", dir=out.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the release is an ordinary directory
    try:
        job = delayed(_write_sequence)
        kwargs = dict(seed=seed, frames=tuple(frames), image_size=tuple(image_size), layouts=layouts, **rates)
        results = Parallel(n_jobs=workers, return_as="generator")(
            job(tmp, i, label, **kwargs) for i, label in enumerate(labels)
        )
        records = list(progress_bar(results, total=sequences, desc="synth", quiet=not progress))
        train, test = choose_partition(labels, r, seed)
        partition = write_partition(tmp / f"Scoliosis1K_{code}.json", train, test)
        write_tree_marker(tmp, "synth")
        _swap_into_place(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    by_id = {rec["id"]: rec["class"] for rec in records}
    splits: dict[str, dict[str, int]] = {}
    for split, ids in (("train", partition.train), ("test", partition.test)):
        per = {c: sum(1 for i in ids if by_id[i] == c) for c in CLASS_ORDER}
        splits[split] = {**per, "total": len(ids)}
    sil_dropped = {reason: sum(rec["drops"][reason] for rec in records) for reason in DROP_REASONS}
    return {
        "root": str(out),
        "sequences": sequences,
        "frames": sum(rec["frames"] for rec in records),
        "image_size": [int(image_size[0]), int(image_size[1])],
        "seed": seed,
        "layouts": list(layouts),
        "ratio": ratio,
        "classes": {c: labels.count(c) for c in CLASS_ORDER},
        "splits": splits,
        "partition": str(out / f"Scoliosis1K_{code}.json"),
        "partition_sha256": partition.sha256,
        "sil_dropped": sil_dropped,
        "missing_joints": sum(rec["missing_joints"] for rec in records),
        "records": records,
    }


def _swap_into_place(tmp: Path, out: Path, force: bool) -> None:
    """Rename the finished ``tmp`` tree to ``out``, replacing an empty folder or a release of ours."""
    old: Path | None = None
    check_output_path(out, kind="tree", force=force)  # the last look before anything is moved
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f"{out.name}.old-", dir=out.parent))
        os.rmdir(old)
        os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
