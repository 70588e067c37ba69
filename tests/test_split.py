"""``gaitprep split`` and the subject map: no subject on both sides (a property), counts near the ratio,
upstream-format output, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gaitprep.cli import main
from gaitprep.errors import BadInputError
from gaitprep.partition import load_partition
from gaitprep.subjects import load_subject_map, parse_ratio, subject_overlap, subject_split, train_targets

CLASSES = ("negative", "neutral", "positive")


@st.composite
def cohorts(draw) -> tuple[dict[str, str], dict[str, str]]:
    """Sequence ids with classes and subjects: 1-4 sequences per subject, a subject's classes may differ."""
    n_subjects = draw(st.integers(1, 40))
    labels, subjects = {}, {}
    for s in range(n_subjects):
        for _ in range(draw(st.integers(1, 4))):
            seq = f"{len(labels):05d}"
            labels[seq] = draw(st.sampled_from(CLASSES))
            subjects[seq] = f"child-{s}"
    return labels, subjects


@settings(max_examples=150, deadline=None)
@given(cohorts(), st.sampled_from(["1:1:8", "1:1:2", "1:1:1", "2:1:3"]), st.integers(0, 2**16))
def test_no_subject_is_ever_on_both_sides_and_every_id_is_placed_once(cohort, ratio, seed):
    labels, subjects = cohort
    result = subject_split(labels, subjects, parse_ratio(ratio), seed)
    train, test = set(result["train"]), set(result["test"])
    assert not train & test and train | test == set(labels)
    assert not {subjects[i] for i in train} & {subjects[i] for i in test}
    assert subject_overlap(result["train"], result["test"], subjects)["shared_subjects"] == []
    assert result == subject_split(labels, subjects, parse_ratio(ratio), seed)  # deterministic


def test_train_targets_follow_the_ratio_at_about_half_the_sequences():
    # 1,493 sequences as in Scoliosis1K (493 positive, 200 neutral, 800 negative), ratio 1:1:8:
    # half is 746.5 -> 74.65 per unit; upstream's 1:1:8 partition trains on 74 / 74 / 596.
    counts = {"positive": 493, "neutral": 200, "negative": 800}
    assert train_targets(counts, parse_ratio("1:1:8")) == {"negative": 597, "neutral": 75, "positive": 75}
    # neutral caps 1:1:2 at 199 per unit... half is 746.5 / 4 = 186.6 per unit
    assert train_targets(counts, parse_ratio("1:1:2")) == {"negative": 373, "neutral": 187, "positive": 187}


def test_one_sequence_per_subject_reaches_the_targets_exactly():
    labels = {f"{i:05d}": c for i, c in enumerate(["positive"] * 20 + ["neutral"] * 20 + ["negative"] * 60)}
    subjects = {i: f"s{i}" for i in labels}
    result = subject_split(labels, subjects, parse_ratio("1:1:3"), seed=1)
    assert (
        result["achieved"]["train"]
        == result["target"]["train"]
        == {"negative": 30, "neutral": 10, "positive": 10}
    )
    assert result["achieved"]["test"] == {"negative": 30, "neutral": 10, "positive": 10}


def write_subjects(path: Path, ids: list[str], per_subject: int = 2) -> Path:
    rows = [f"{i},kid{k // per_subject}" for k, i in enumerate(ids)]
    path.write_text("id,subject,site\n" + "\n".join(f"{r},A" for r in rows) + "\n")
    return path


def test_cli_writes_an_upstream_partition_without_shared_subjects(synth_release: Path, tmp_path: Path):
    ids = sorted(p.name for p in (synth_release / "pose-pkl").iterdir())
    csv = write_subjects(tmp_path / "subjects.csv", ids)
    out = tmp_path / "Scoliosis1K_subjects.json"
    args = ["split", "--input", str(synth_release), "--subjects", str(csv), "--ratio", "1:1:2", "--seed", "3"]
    res = CliRunner().invoke(main, [*args, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    part = load_partition(out)
    assert set(json.loads(out.read_text())) == {"TRAIN_SET", "TEST_SET"}
    assert list(part.train) == doc["train"] and list(part.test) == doc["test"]
    assert sorted(part.train + part.test) == ids
    subjects = load_subject_map(csv)
    assert not {subjects[i] for i in part.train} & {subjects[i] for i in part.test}
    assert sum(doc["achieved"]["train"].values()) == len(part.train) and doc["sha256"] == part.sha256
    again = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert again.exit_code == 1 and "never replaced" in again.stderr  # the file we wrote stays
    assert load_partition(out).sha256 == part.sha256
    human = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b.json")])
    assert "none on both sides" in human.stdout and "train positive / neutral / negative" in human.stdout


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("id,who\n00000,a\n", "needs a header row with 'id' and 'subject'"),
        ("id,subject\n00000,a\n00000,b\n", "line 3: id 00000 is mapped to subjects 'a' and 'b'"),
        ("id,subject\n00000,\n", "line 2: empty id or subject"),
        ("id,subject\n", "lists no ids"),
    ],
)
def test_a_bad_subject_map_is_one_error_naming_the_file(tmp_path: Path, text: str, problem: str):
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(BadInputError, match=problem) as info:
        load_subject_map(path)
    assert str(path) in str(info.value)


def test_cli_refuses_a_map_that_misses_ids_and_a_bad_ratio(synth_release: Path, tmp_path: Path):
    csv = tmp_path / "few.csv"
    csv.write_text("id,subject\n0,a\n1,b\n")  # short ids are zero-padded
    assert load_subject_map(csv) == {"00000": "a", "00001": "b"}
    base = ["split", "--input", str(synth_release), "--out", str(tmp_path / "p.json")]
    res = CliRunner().invoke(main, [*base, "--subjects", str(csv)])
    assert (
        res.exit_code == 1
        and res.stderr.count("\n") == 1
        and "does not name 10 of the tree's ids" in res.stderr
    )
    full = write_subjects(
        tmp_path / "full.csv", sorted(p.name for p in (synth_release / "pose-pkl").iterdir())
    )
    res = CliRunner().invoke(main, [*base, "--subjects", str(full), "--ratio", "1-1-8"])
    assert res.exit_code == 1 and "--ratio must look like P:N:G" in res.stderr
    assert not (tmp_path / "p.json").exists()
