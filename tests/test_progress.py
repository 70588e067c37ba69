"""Progress without a terminal: a plain line every few seconds on stderr, driven here by a fake clock."""

from __future__ import annotations

import io

from gaitprep.progress import progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class NotATerminal(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_without_a_terminal_a_line_is_written_each_interval_and_a_closing_line() -> None:
    clock, stream = FakeClock(), NotATerminal()
    seen = []
    for i in progress(range(10), total=10, desc="maps", stream=stream, interval=5.0, clock=clock):
        seen.append(i)
        clock.now += 2.0  # each item takes 2 s: lines after items 3 (6 s), 6 (12 s), 9 (18 s)
    assert seen == list(range(10))
    lines = stream.getvalue().splitlines()
    assert lines == [
        "maps: 3/10 sequences (30.0 %), 6.0 s elapsed, about 14 s left",
        "maps: 6/10 sequences (60.0 %), 12.0 s elapsed, about 8 s left",
        "maps: 9/10 sequences (90.0 %), 18.0 s elapsed, about 2 s left",
        "maps: 10/10 sequences (100.0 %), 20.0 s elapsed",
    ]


def test_a_run_shorter_than_the_interval_prints_nothing() -> None:
    clock, stream = FakeClock(), NotATerminal()
    for _ in progress(range(4), total=4, desc="pav", stream=stream, interval=5.0, clock=clock):
        clock.now += 1.0
    assert stream.getvalue() == ""


def test_quiet_prints_nothing_however_long_it_takes() -> None:
    clock, stream = FakeClock(), NotATerminal()
    for _ in progress(range(4), total=4, desc="pav", quiet=True, stream=stream, interval=1.0, clock=clock):
        clock.now += 10.0
    assert stream.getvalue() == ""


def test_an_unknown_total_counts_without_a_percentage() -> None:
    clock, stream = FakeClock(), NotATerminal()
    for _ in progress(iter(range(3)), desc="synth", stream=stream, interval=0.0, clock=clock):
        clock.now += 1.5
    assert stream.getvalue().splitlines()[:2] == [
        "synth: 1 sequences, 1.5 s elapsed",
        "synth: 2 sequences, 3.0 s elapsed",
    ]


def test_an_error_mid_way_writes_no_closing_line() -> None:
    clock, stream = FakeClock(), NotATerminal()

    def items():
        yield 1
        raise ValueError("boom")

    try:
        for _ in progress(items(), total=2, desc="x", stream=stream, interval=0.0, clock=clock):
            clock.now += 1.0
    except ValueError:
        pass
    assert stream.getvalue().splitlines() == ["x: 1/2 sequences (50.0 %), 1.0 s elapsed, about 1 s left"]


def test_a_build_without_a_terminal_reports_progress_lines_on_stderr_only(synth_release, tmp_path) -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import SYNTH_SEQUENCES

    env = {**os.environ, "GAITPREP_PROGRESS_INTERVAL": "0"}  # a line after every sequence
    proc = subprocess.run(
        [sys.executable, "-m", "gaitprep", "silhouettes", "--input", str(synth_release / "sil-pkl"),
         "--out", str(tmp_path / "sil"), "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sequences"] == SYNTH_SEQUENCES
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("sil: ")]
    assert [ln.split()[1] for ln in lines[:SYNTH_SEQUENCES]] == [
        f"{i}/{SYNTH_SEQUENCES}" for i in range(1, SYNTH_SEQUENCES + 1)
    ]
