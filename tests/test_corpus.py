"""The bad-input corpus (tests/corpus/make_corpus.py) run through every command each case applies to.

The rule (brief, "Bad input, faults and hostile files"): bad input gets ONE line on stderr, starting with
``error:``, that names the file (path or id) and the problem; exit 1 for bad input, 3 for a failed
verification, 2 only for usage errors; never a traceback; nothing left at ``--out``. Report commands
(``inspect``, ``verify-manifest``, ``list``) list every problem on stdout by design and exit non-zero; for
them the culprit and problem are looked for on one stdout line, and stderr must stay empty.

The corpus is generated into a temporary directory once per module; nothing binary is committed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from corpus.make_corpus import (
    CASES,
    IDS,
    N_SEQ,
    OUT,
    Case,
    Run,
    build_case,
    cmd,
    write_partition_file,
    zero_confidence_tree,
    zero_height_tree,
)

from gaitmodels.cli import main as gaitmodels_main
from gaitprep.cli import main as gaitprep_main
from gaitprep.io.store import read_sequence
from gaitprep.manifest import load_manifest


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="module")
def corpus(corpus_dir: Path) -> dict[str, Case]:
    """Every case, written once per module (the dataset cases share one base dataset and checkpoint)."""
    return {name: build_case(name, corpus_dir) for name in CASES}


def invoke(argv: tuple[str, ...]) -> Result:
    main = gaitprep_main if argv[0] == "gaitprep" else gaitmodels_main
    # GAITPREP_DEBUG would turn internal errors into tracebacks on purpose: test the user's view.
    return CliRunner().invoke(main, list(argv[1:]), env={"GAITPREP_DEBUG": None})


def check_run(case: Case, run: Run, out: Path) -> list[str]:
    """Run one command of a case; return what it did wrong (empty when it behaved)."""
    argv = tuple(a.replace(OUT, str(out)) for a in run.argv)
    res = invoke(argv)
    culprit = run.culprit or case.culprit
    where = f"{case.name}: `{' '.join(argv[:2])}`"
    wrong = []
    if res.exit_code != run.exit_code:
        wrong.append(f"{where} exited {res.exit_code}, expected {run.exit_code} (stderr {res.stderr!r})")
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        wrong.append(f"{where} raised {type(res.exception).__name__}: {res.exception}")
    if "Traceback" in res.output:
        wrong.append(f"{where} printed a traceback")
    err = res.stderr.splitlines()
    if run.report:
        lines = [ln for ln in res.stdout.splitlines() if culprit in ln and re.search(case.problem, ln)]
        if not lines:
            wrong.append(f"{where} listed no line naming {culprit!r} with /{case.problem}/:\n{res.stdout}")
        if err:
            wrong.append(f"{where} (a report) wrote to stderr: {err}")
    else:
        if len(err) != 1 or not err[0].startswith("error: "):
            wrong.append(f"{where} stderr is not exactly one 'error:' line: {err}")
        elif culprit not in err[0] or not re.search(case.problem, err[0]):
            wrong.append(f"{where} error line does not name {culprit!r} with /{case.problem}/: {err[0]}")
    if out.exists():
        wrong.append(
            f"{where} left output at {out}: {sorted(p.name for p in out.iterdir()) if out.is_dir() else 'a file'}"
        )
    if (out.parent / f".{out.name}.lock").exists():
        wrong.append(f"{where} left its build lock behind")
    if case.marker is not None and case.marker.exists():
        wrong.append(f"{where} EXECUTED the hostile payload (marker {case.marker} exists)")
    return wrong


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case_is_refused_with_one_line_naming_the_file(
    name: str, corpus: dict, tmp_path: Path
) -> None:
    case = corpus[name]
    assert case.runs, f"{name} applies to no command"
    wrong = []
    for i, run in enumerate(case.runs):
        wrong += check_run(case, run, tmp_path / f"out{i}")
    assert not wrong, "\n".join(wrong)


def test_every_command_is_covered_by_the_corpus(corpus: dict[str, Case]) -> None:
    """Each user-facing command that reads files meets at least one bad input."""
    seen = {run.label for case in corpus.values() for run in case.runs}
    expected = {
        "gaitprep render-heatmaps", "gaitprep pav", "gaitprep inspect", "gaitprep silhouettes",
        "gaitprep verify-manifest", "gaitprep diff-manifest", "gaitprep export", "gaitprep list", "gaitprep preview",
        "gaitprep import-keypoints", "gaitprep run", "gaitmodels train", "gaitmodels evaluate", "gaitmodels predict",
    }  # fmt: skip
    assert expected <= seen, sorted(expected - seen)


def test_the_generator_script_writes_an_index_of_every_case(tmp_path: Path) -> None:
    script = Path(__file__).parent / "corpus" / "make_corpus.py"
    names = ["truncated_pose_pickle", "partition_overlap", "hostile_os_system"]
    res = subprocess.run(
        [sys.executable, str(script), str(tmp_path), *names], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    index = json.loads((tmp_path / "index.json").read_text())
    assert sorted(index) == sorted(names)
    assert index["partition_overlap"]["culprit"].endswith("partition.json")
    assert (tmp_path / "truncated_pose_pickle" / "pose-pkl" / IDS[-1]).is_dir()
    assert not (tmp_path / "hostile_os_system" / "PWNED").exists()
    bad = subprocess.run(
        [sys.executable, str(script), str(tmp_path), "no_such_case"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "unknown case" in bad.stderr


# --- real processes: what CliRunner cannot see (C-level stderr, worker processes) -------------------------


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("truncated_png", ()),  # OpenCV's decoder logs to fd 2 on its own
        ("truncated_pose_pickle", ("--workers", "2")),  # the error crosses a process pool
        ("hostile_os_system", ()),
    ],
)
def test_a_real_process_prints_exactly_one_stderr_line(
    name: str, extra: tuple[str, ...], corpus: dict[str, Case], tmp_path: Path
) -> None:
    case = corpus[name]
    run = case.runs[0]
    out = tmp_path / "out"
    argv = [a.replace(OUT, str(out)) for a in run.argv] + list(extra)
    exe = Path(sys.executable).parent / argv[0]
    res = subprocess.run([str(exe), *argv[1:]], capture_output=True, text=True, timeout=120)
    err = res.stderr.splitlines()
    assert res.returncode == run.exit_code, res.stderr
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert (run.culprit or case.culprit) in err[0] and re.search(case.problem, err[0]), err[0]
    assert "Traceback" not in res.stdout + res.stderr
    assert not out.exists()
    if case.marker is not None:
        assert not case.marker.exists()


# --- odd but valid input: documented behaviour, not an error ----------------------------------------------


def _sequence_maps(dataset: Path, seq_id: str) -> np.ndarray:
    m = load_manifest(dataset)
    (rec,) = [r for r in m.records if r.id == seq_id]
    return read_sequence(dataset, rec, m.layout)[m.layout.primary], rec


def test_zero_height_pose_frames_are_blanked_and_counted_not_an_error(tmp_path: Path) -> None:
    """Policy (render-heatmaps --unnormalisable, default blank): a frame with vertical span 0 cannot be
    scaled, so it becomes an all-zero frame and is counted in the statistics; the build succeeds."""
    tree = zero_height_tree(tmp_path / "tree")
    out = tmp_path / "maps"
    res = invoke(cmd("gaitprep render-heatmaps --input", tree, "--out", out, "-q --json"))
    assert res.exit_code == 0, res.stderr
    maps, rec = _sequence_maps(out, IDS[-1])
    assert maps.shape == (8, 2, 64, 64) and not maps.any()
    assert rec.stats["unnormalisable_frames"] == 8 and rec.stats["blank_frames"] == 8
    good, good_rec = _sequence_maps(out, IDS[0])
    assert good.any(axis=(1, 2, 3)).all() and good_rec.stats["unnormalisable_frames"] == 0
    # --unnormalisable drop removes them instead; a sequence with no frame left is then an error naming it.
    res = invoke(
        cmd(
            "gaitprep render-heatmaps --input",
            tree,
            "--out",
            tmp_path / "dropped",
            "-q --unnormalisable drop",
        )
    )
    assert res.exit_code == 1 and res.stderr.count("\n") == 1
    assert f"{IDS[-1]}" in res.stderr and "every frame dropped" in res.stderr
    assert not (tmp_path / "dropped").exists()


def test_all_zero_confidences_render_blank_frames_that_are_counted(tmp_path: Path) -> None:
    """Policy: joints below eps (1e-3) are not drawn, so all-zero confidences give blank maps; the frames
    are still normalisable (hips have coordinates), so they are counted as blank, not unnormalisable."""
    tree = zero_confidence_tree(tmp_path / "tree")
    out = tmp_path / "maps"
    res = invoke(cmd("gaitprep render-heatmaps --input", tree, "--out", out, "-q"))
    assert res.exit_code == 0, res.stderr
    maps, rec = _sequence_maps(out, IDS[-1])
    assert not maps.any()
    assert rec.stats["blank_frames"] == 8 and rec.stats["unnormalisable_frames"] == 0


@pytest.mark.parametrize("make_tree", [zero_height_tree, zero_confidence_tree])
def test_a_sequence_without_any_defined_pav_frame_gets_a_nan_raw_and_an_imputed_pav(
    make_tree, tmp_path: Path
) -> None:
    """Domain reference §6.2-6.3: frames with zero height or no valid joint are undefined (NaN), and an
    empty column aggregates to NaN (never 0, which would read as perfectly symmetric); the normalised PAV
    takes the TRAIN median of every feature, so it is finite, and the build succeeds."""
    tree = make_tree(tmp_path / "tree")
    part = write_partition_file(tmp_path / "partition.json", list(IDS[:3]), list(IDS[3:]))
    out = tmp_path / "pav"
    res = invoke(cmd("gaitprep pav --input", tree, "--partition", part, "--out", out, "-q"))
    assert res.exit_code == 0, res.stderr
    m = load_manifest(out)
    arrays = {r.id: read_sequence(out, r, m.layout) for r in m.records}
    assert len(arrays) == N_SEQ
    assert np.isnan(arrays[IDS[-1]]["raw"]).all()
    assert np.isfinite(arrays[IDS[-1]]["pav"]).all()
    assert (
        m.record_by_key()[next(r.key for r in m.records if r.id == IDS[-1])].stats["imputed_features"] == 24
    )
    assert np.isfinite(arrays[IDS[0]]["raw"]).all() and arrays[IDS[0]]["raw"].any()


def test_inspect_reports_every_problem_of_a_tree_before_exiting(tmp_path: Path) -> None:
    """inspect goes on past the first bad sequence: two different problems in one tree are both listed."""
    case = build_case("truncated_pose_pickle", tmp_path)
    tree = Path(case.runs[0].argv[3])
    first = tree / IDS[0]
    (first / "negative").rename(first / "maybe")
    res = invoke(cmd("gaitprep inspect", tree, "-q"))
    assert res.exit_code == 1 and res.stderr == ""
    assert case.culprit in res.stdout and "unknown class folder 'maybe'" in res.stdout
    assert "2 problem(s)" in res.stdout
