"""Subjects: which sequences belong to one person, subject-disjoint splits, and overlap checks.

Scoliosis1K ids are sequences, not people (1,493 ids, 1,050 adolescents) and no subject map is published
(domain reference §1.6), so its standard splits can put one child in train and test. A cohort with its own
map (a CSV with columns ``id`` and ``subject``; other columns are ignored) can split by subject here and
have ``gaitmodels evaluate --subjects`` warn about shared subjects.

:func:`subject_split` assigns whole subjects to TRAIN so that the TRAIN class counts come as close as the
subjects allow to the requested ratio (about half of the sequences in TRAIN, every class keeping at least
one sequence in TEST where it has two, as the upstream-style ``gaitprep synth`` partitions do), and puts
every other subject in TEST.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gaitprep.errors import BadInputError
from gaitprep.skeleton import CLASS_ORDER

_RATIO = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*:\s*(\d+)\s*$")
RESTARTS = 64  # seeded random subject orders tried by the greedy assignment; the best is kept
MAX_SUBJECT_MAP_BYTES = 64 << 20


def parse_ratio(text: str) -> dict[str, int]:
    """``"1:1:8"`` (positive : neutral : negative, as upstream names its partitions) -> class counts."""
    match = _RATIO.match(text)
    if not match or not any(int(g) for g in match.groups()):
        raise BadInputError(
            f"--ratio must look like P:N:G with non-negative integers (e.g. 1:1:8), got {text!r}"
        )
    pos, neu, neg = (int(g) for g in match.groups())
    return {"positive": pos, "neutral": neu, "negative": neg}


def load_subject_map(path: str | Path) -> dict[str, str]:
    """Read a CSV with a header naming ``id`` and ``subject`` columns -> {sequence id: subject}.

    Ids are 5-digit strings (shorter numbers are zero-padded); an id listed twice with two subjects, an
    empty cell or a missing column is bad input naming the file and the line.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SUBJECT_MAP_BYTES:
            raise BadInputError(f"subject map is larger than {MAX_SUBJECT_MAP_BYTES >> 20} MiB", path)
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise BadInputError(f"cannot read subject map: {exc.strerror}", path) from None
    except UnicodeDecodeError:
        raise BadInputError("subject map is not UTF-8 text", path) from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "id" not in fields or "subject" not in fields:
        raise BadInputError("subject map needs a header row with 'id' and 'subject' columns", path)
    reader.fieldnames = fields
    out: dict[str, str] = {}
    for row in reader:
        line = reader.line_num
        seq, subject = (row.get("id") or "").strip(), (row.get("subject") or "").strip()
        if not seq or not subject:
            raise BadInputError(f"line {line}: empty id or subject", path)
        if seq.isdigit() and len(seq) < 5:
            seq = seq.zfill(5)
        if out.setdefault(seq, subject) != subject:
            raise BadInputError(
                f"line {line}: id {seq} is mapped to subjects {out[seq]!r} and {subject!r}", path
            )
    if not out:
        raise BadInputError("subject map lists no ids", path)
    return out


def subject_overlap(
    train_ids: Iterable[str], eval_ids: Iterable[str], subjects: Mapping[str, str]
) -> dict[str, Any]:
    """Subjects with sequences on both sides; ids the map does not name are counted, not guessed."""
    train, evaluated = sorted(set(train_ids)), sorted(set(eval_ids))
    unmapped = sorted(i for i in {*train, *evaluated} if i not in subjects)
    train_subjects = {subjects[i] for i in train if i in subjects}
    eval_subjects = {subjects[i] for i in evaluated if i in subjects}
    shared = sorted(train_subjects & eval_subjects)
    return {
        "shared_subjects": shared,
        "shared_sequences": sum(1 for i in evaluated if subjects.get(i) in train_subjects),
        "train_subjects": len(train_subjects),
        "eval_subjects": len(eval_subjects),
        "unmapped_ids": len(unmapped),
    }


def train_targets(counts: Mapping[str, int], ratio: Mapping[str, int]) -> dict[str, int]:
    """TRAIN sequences wanted per class: ``ratio`` scaled to about half of all sequences, capped so that
    a class with at least two sequences keeps one for TEST (the cap keeps the ratio)."""
    total = sum(counts.values())
    weight = sum(ratio[c] for c in CLASS_ORDER)
    scale = total / 2 / weight
    caps = [(counts[c] - 1) / ratio[c] for c in CLASS_ORDER if ratio[c] > 0 and counts[c] >= 2]
    if caps:
        scale = min(scale, min(caps))
    return {c: int(round(ratio[c] * scale)) if counts[c] >= 2 else 0 for c in CLASS_ORDER}


def _cost(train: np.ndarray, target: np.ndarray) -> float:
    return float(((train - target) ** 2).sum())


def subject_split(
    labels: Mapping[str, str], subjects: Mapping[str, str], ratio: Mapping[str, int], seed: int
) -> dict[str, Any]:
    """A subject-disjoint TRAIN/TEST split of the sequence ids in ``labels`` ({id: class name}).

    Every id must be in ``subjects``. Greedy over ``RESTARTS`` seeded random subject orders: a subject
    joins TRAIN when that brings the TRAIN class counts closer (squared distance) to
    :func:`train_targets`; the order with the smallest final distance wins (ties: the first). Returns
    ``train`` and ``test`` (sorted ids), ``target`` and ``achieved`` counts per class and split, and the
    number of subjects per side.
    """
    missing = sorted(set(labels) - set(subjects))
    if missing:
        raise BadInputError(f"the subject map does not name {len(missing)} sequence ids (e.g. {missing[0]})")
    by_subject: dict[str, list[str]] = {}
    for seq in sorted(labels):
        by_subject.setdefault(subjects[seq], []).append(seq)
    names = sorted(by_subject)
    index = {c: k for k, c in enumerate(CLASS_ORDER)}
    per_subject = np.zeros((len(names), len(CLASS_ORDER)))
    for s, name in enumerate(names):
        for seq in by_subject[name]:
            per_subject[s, index[labels[seq]]] += 1
    counts = {c: int(per_subject[:, index[c]].sum()) for c in CLASS_ORDER}
    target_map = train_targets(counts, ratio)
    target = np.array([target_map[c] for c in CLASS_ORDER], dtype=np.float64)
    rng = np.random.default_rng([seed, 18])
    best: tuple[float, np.ndarray] | None = None
    for _ in range(RESTARTS):
        chosen = np.zeros(len(names), dtype=bool)
        train = np.zeros(len(CLASS_ORDER))
        for s in rng.permutation(len(names)):
            if _cost(train + per_subject[s], target) < _cost(train, target):
                chosen[s] = True
                train += per_subject[s]
        cost = _cost(train, target)
        if best is None or cost < best[0]:
            best = (cost, chosen)
    assert best is not None
    chosen = best[1]
    train_ids = sorted(seq for s, name in enumerate(names) if chosen[s] for seq in by_subject[name])
    test_ids = sorted(seq for s, name in enumerate(names) if not chosen[s] for seq in by_subject[name])

    def tally(ids: list[str]) -> dict[str, int]:
        return {c: sum(1 for i in ids if labels[i] == c) for c in CLASS_ORDER}

    return {
        "train": train_ids,
        "test": test_ids,
        "target": {"train": target_map},
        "achieved": {"train": tally(train_ids), "test": tally(test_ids)},
        "subjects": {"train": int(chosen.sum()), "test": int((~chosen).sum())},
        "ratio": ":".join(str(ratio[c]) for c in ("positive", "neutral", "negative")),
        "seed": seed,
    }


def split_release(
    input_path: str | Path, subjects_csv: str | Path, ratio: str, seed: int, out: str | Path
) -> dict[str, Any]:
    """``gaitprep split``: read the tree's ids and classes and the subject map, split by subject, and
    write an upstream-format partition to ``out`` (which must not exist: nothing is replaced)."""
    from gaitprep.io.tree import LAYOUTS
    from gaitprep.partition import write_partition
    from gaitprep.sources import open_tree

    out = Path(out)
    if out.exists():
        raise BadInputError("already exists; a partition is never replaced: choose another --out", out)
    wanted = parse_ratio(ratio)
    tree = open_tree(input_path, tuple(LAYOUTS))
    labels: dict[str, str] = {}
    for ref in tree.sequences:
        labels.setdefault(ref.id, ref.label)
    if not labels:
        raise BadInputError("holds no sequences", input_path)
    subjects = load_subject_map(subjects_csv)
    missing = sorted(set(labels) - set(subjects))
    if missing:
        raise BadInputError(
            f"the subject map does not name {len(missing)} of the tree's ids (e.g. {missing[0]})",
            subjects_csv,
        )
    result = subject_split(labels, subjects, wanted, seed)
    partition = write_partition(out, result["train"], result["test"])
    result.update({"out": str(out), "sha256": partition.sha256, "sequences": len(labels)})
    return result
