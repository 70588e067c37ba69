"""Faults during real runs: a full disk, SIGKILL, Ctrl-C and two builds racing for one output.

Each fault is produced in a real child process running the real command line:
- a full disk is ``RLIMIT_FSIZE`` with ``SIGXFSZ`` ignored, so a write past the limit fails with EFBIG;
- an interrupted build is the real CLI with ``GAITPREP_TEST_PAUSE_AFTER=N``: the build stops after its N-th
  finished sequence and waits, holding its lock, for a signal (or for ``GAITPREP_TEST_RESUME_FILE`` to
  appear). A test waits for those N done-records, then interrupts: the point is known, whatever the
  machine's speed or load (no sleeps, no timing).

What must hold: nothing half-written at ``--out``; one clear ``error:`` line; a re-run finishes the job,
reusing what was done, and gives exactly the dataset an uninterrupted run gives.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus.make_corpus import TINY_TRAIN, base, cmd, write_tree

from gaitmodels.cli import main as gaitmodels_main
from gaitprep.build import DONE_DIR, staging_dir
from gaitprep.cli import main as gaitprep_main
from gaitprep.verify import verify_dataset

N_SEQUENCES = 6
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("faults") / "pose-pkl", "pose-pkl", n=N_SEQUENCES)


def gaitprep(*argv: str | Path) -> tuple[int, dict | None, str]:
    """Run gaitprep in-process; returns (exit code, the --json document or None, stderr)."""
    res = CliRunner().invoke(gaitprep_main, [str(a) for a in argv], env={"GAITPREP_DEBUG": None})
    doc = json.loads(res.stdout) if res.exit_code == 0 and "--json" in argv else None
    return res.exit_code, doc, res.stderr


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but the manifest (whose provenance holds times), by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def manifest_core(root: Path) -> dict:
    doc = json.loads((root / "manifest.json").read_text())
    doc.pop("provenance")
    return doc


def start_paused(after: int, *argv: str | Path, resume_file: Path | None = None) -> subprocess.Popen:
    """The real ``gaitprep`` CLI, stopping after its ``after``-th finished sequence (in its own process
    group, so a test can signal the build and its workers together)."""
    env = {**os.environ, "GAITPREP_TEST_PAUSE_AFTER": str(after)}
    env.pop("GAITPREP_DEBUG", None)
    if resume_file is not None:
        env["GAITPREP_TEST_RESUME_FILE"] = str(resume_file)
    return subprocess.Popen(
        [str(BIN / "gaitprep"), *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def wait_for(condition, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the child exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the child")
        time.sleep(0.01)


def done_records(out: Path) -> int:
    done = staging_dir(out) / DONE_DIR
    return len(list(done.glob("*.json"))) if done.is_dir() else 0


# Sets the limit in a fresh (single-threaded) interpreter, which then becomes the command: no Python code
# runs between fork and exec of this multi-threaded test process. (subprocess's preexec_fn would: unsafe with
# threads, as a child stuck before exec leaves Popen waiting for ever, outside run()'s timeout.)
_LIMIT_THEN_EXEC = (
    "import os, resource, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def with_file_limit(limit: int, argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``argv`` with every file capped at ``limit`` bytes: writes past it fail with EFBIG (a full disk)."""
    wrapped = [sys.executable, "-c", _LIMIT_THEN_EXEC, str(limit), *argv]
    return subprocess.run(wrapped, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def reference(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The dataset an uninterrupted render-heatmaps build gives, and its --json report."""
    out = tmp_path_factory.mktemp("ref") / "maps"
    code, doc, err = gaitprep("render-heatmaps", "--input", tree, "--out", out, "-q", "--json")
    assert code == 0, err
    return out, doc


# --- a full disk --------------------------------------------------------------------------------------------


def _assert_one_clear_error(res: subprocess.CompletedProcess, out: Path) -> None:
    err = res.stderr.splitlines()
    assert res.returncode == 1, res.stderr
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in res.stderr + res.stdout
    assert "File too large" in err[0], err[0]
    # "clear": the user must learn WHERE the write failed, not only that one did.
    assert out.name in err[0], f"the error does not say which output failed: {err[0]}"


def test_a_full_disk_while_writing_arrays_leaves_nothing_at_out(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "maps"
    # pkl maps of 8 frames are ~65 KB: the first array write fails.
    res = with_file_limit(
        20_000,
        [str(BIN / "gaitprep"), *cmd("render-heatmaps --input", tree, "--out", out, "--format pkl -q")],
    )
    assert not out.exists()
    assert not (tmp_path / f".{out.name}.lock").exists()
    code, doc, err = gaitprep(
        "render-heatmaps", "--input", tree, "--out", out, "--format", "pkl", "-q", "--json"
    )
    assert code == 0 and verify_dataset(out, "content").ok, err
    _assert_one_clear_error(res, out)


def test_a_full_disk_while_writing_the_manifest_leaves_nothing_and_the_rerun_reuses_every_sequence(
    tree: Path, tmp_path: Path
) -> None:
    out = tmp_path / "maps"
    # 16x16 maps make ~2 KB arrays and a ~20 KB manifest: every sequence is written, then the manifest fails.
    argv = cmd("render-heatmaps --input", tree, "--out", out, "--size 16 -q")
    res = with_file_limit(9_000, [str(BIN / "gaitprep"), *argv])
    assert res.returncode == 1, res.stderr
    assert not out.exists(), "a dataset without its manifest is visible at --out"
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: "), res.stderr
    code, doc, err = gaitprep(*argv, "--json")
    assert code == 0, err
    assert verify_dataset(out, "content").ok
    # Every sequence was finished before the manifest write failed: resuming must not redo them.
    assert doc["reused"] == N_SEQUENCES, f"the re-run rebuilt finished sequences: {doc['built']} built"


def test_a_full_disk_during_export_leaves_no_file_or_temporary(reference, tmp_path: Path) -> None:
    ds, _ = reference
    target = tmp_path / "maps.h5"
    res = with_file_limit(4_000, [str(BIN / "gaitprep"), "export", str(ds), "--to", "hdf5", str(target)])
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert list(tmp_path.iterdir()) == [], sorted(p.name for p in tmp_path.iterdir())


# --- SIGKILL and Ctrl-C during a build, then resume --------------------------------------------------------


def test_sigkill_during_a_build_then_rerun_gives_the_uninterrupted_dataset(
    reference, tree: Path, tmp_path: Path
) -> None:
    ref, ref_doc = reference
    out = tmp_path / "maps"
    proc = start_paused(2, "render-heatmaps", "--input", tree, "--out", out, "-q")
    wait_for(lambda: done_records(out) >= 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = done_records(out)
    assert finished == 2  # one worker: the build stopped right after its second sequence
    assert not out.exists(), "a killed build left a dataset at --out"
    code, doc, err = gaitprep("render-heatmaps", "--input", tree, "--out", out, "-q", "--json")
    assert code == 0, err
    assert doc["reused"] == finished and doc["built"] == N_SEQUENCES - finished
    assert doc["content_digest"] == ref_doc["content_digest"]
    assert doc["derivation_id"] == ref_doc["derivation_id"]
    assert files_of(out) == files_of(ref)
    assert manifest_core(out)["files"] == manifest_core(ref)["files"]
    assert not staging_dir(out).exists() and not (tmp_path / f".{out.name}.lock").exists()


def test_ctrl_c_during_a_build_is_one_line_and_the_rerun_resumes(
    reference, tree: Path, tmp_path: Path
) -> None:
    _, ref_doc = reference
    out = tmp_path / "maps"
    proc = start_paused(1, "render-heatmaps", "--input", tree, "--out", out, "-q")
    wait_for(lambda: done_records(out) >= 1, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    err = stderr.splitlines()
    assert proc.returncode == 1, stderr
    finished = done_records(out)
    assert len(err) == 1 and err[0].startswith(
        f"error: {out}: interrupted with {finished} of {N_SEQUENCES} "
    ), err
    assert "run the same command again to resume" in err[0], err
    assert not out.exists() and not (tmp_path / f".{out.name}.lock").exists()
    code, doc, _ = gaitprep("render-heatmaps", "--input", tree, "--out", out, "-q", "--json")
    assert code == 0 and doc["reused"] == 1 and doc["built"] == N_SEQUENCES - 1
    assert doc["content_digest"] == ref_doc["content_digest"]


@pytest.mark.parametrize("target", ["group", "parent"])
def test_sigterm_during_a_parallel_build_is_one_line_without_a_lock_and_the_rerun_resumes(
    target: str, reference, tree: Path, tmp_path: Path
) -> None:
    """SIGTERM (to the whole process group, as a service manager sends it, or to the build alone) is
    handled like Ctrl-C: one line, the lock removed, nothing at --out, no worker warnings; the staging
    directory stays for the rerun, which gives the uninterrupted dataset."""
    _, ref_doc = reference
    out = tmp_path / "maps"
    proc = start_paused(2, "render-heatmaps", "--input", tree, "--out", out, "-q", "--workers", "2")
    wait_for(lambda: done_records(out) >= 2, proc)
    if target == "group":
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    wait_for_group_exit(proc.pid)
    finished = done_records(out)
    err = stderr.splitlines()  # exactly the Ctrl-C line: no worker or resource-tracker warnings after it
    assert len(err) == 1 and err[0].startswith(f"error: {out}: interrupted with {finished} of "), err
    assert "run the same command again to resume" in err[0], err
    assert not out.exists() and not (tmp_path / f".{out.name}.lock").exists()
    code, doc, err = gaitprep("render-heatmaps", "--input", tree, "--out", out, "-q", "--json")
    assert code == 0, err
    assert doc["reused"] == finished >= 2 and doc["content_digest"] == ref_doc["content_digest"]


def wait_for_group_exit(pgid: int, timeout: float = 60.0) -> None:
    """Wait until no process of group ``pgid`` is left (a generous bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            os.killpg(pgid, signal.SIGKILL)
            raise AssertionError(f"processes of group {pgid} outlived their build by {timeout} s")
        time.sleep(0.05)


def test_workers_exit_when_the_build_is_killed_and_write_nothing_more(tree: Path, tmp_path: Path) -> None:
    """SIGKILL to the build process alone: its workers notice (they watch their parent) and exit instead of
    writing on into the staging directory; their helper processes follow, without warnings."""
    out = tmp_path / "maps"
    proc = start_paused(1, "render-heatmaps", "--input", tree, "--out", out, "-q", "--workers", "2")
    wait_for(lambda: done_records(out) >= 1, proc)
    proc.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    wait_for_group_exit(proc.pid)
    stage = staging_dir(out)
    snapshot = sorted((p.relative_to(stage).as_posix(), p.stat().st_size) for p in stage.rglob("*"))
    assert "leaked" not in stderr and "Traceback" not in stderr, stderr
    code, doc, err = gaitprep("render-heatmaps", "--input", tree, "--out", out, "-q", "--json")
    assert code == 0, err
    assert doc["reused"] == len(
        [n for n, _ in snapshot if n.startswith(f"{DONE_DIR}/") and n.endswith(".json")]
    )


def test_two_builds_into_one_output_one_wins_the_other_reports_and_the_result_verifies(
    reference, tree: Path, tmp_path: Path
) -> None:
    """The first build pauses holding the lock; the second, started then, must report it; the first then
    finishes. Deterministic: the overlap is arranged, not hoped for."""
    _, ref_doc = reference
    out = tmp_path / "maps"
    go = tmp_path / "go"
    argv = ("render-heatmaps", "--input", tree, "--out", out, "-q", "--json")
    first = start_paused(1, *argv, resume_file=go)
    wait_for(lambda: done_records(out) >= 1, first)
    second = subprocess.run(
        [str(BIN / "gaitprep"), *map(str, argv)], capture_output=True, text=True, timeout=120
    )
    go.write_text("")
    winner_out, winner_err = first.communicate(timeout=120)
    assert first.returncode == 0, winner_err
    assert second.returncode == 1, second.stderr
    lines = second.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path}"), lines
    assert "another build" in lines[0]
    assert json.loads(winner_out)["content_digest"] == ref_doc["content_digest"]
    report = verify_dataset(out, "content")
    assert report.ok, report.problems
    assert not staging_dir(out).exists() and not (tmp_path / f".{out.name}.lock").exists()


# --- SIGKILL during training, then --resume -----------------------------------------------------------------


def test_sigkill_during_training_then_resume_gives_the_uninterrupted_weights(tmp_path: Path) -> None:
    """Tiny ScoNet-MT-ske, 12 iterations, a checkpoint every 4: kill the run after its first checkpoint,
    ``--resume`` it, and get bit-identical weights and the same metrics log as an uninterrupted run.
    Both runs use one thread, so float reductions happen in one order whatever the machine."""
    import torch

    maps = base(tmp_path / "corpus")["maps"]
    args = [
        *cmd("train --manifest", maps, TINY_TRAIN.replace("--iterations 1", "--iterations 12")),
        "--save-every",
        "4",
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        whole = tmp_path / "whole"
        res = CliRunner().invoke(gaitmodels_main, [*args, "--out", str(whole)])
        assert res.exit_code == 0, res.output

        run = tmp_path / "killed"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        proc = subprocess.Popen(
            [str(BIN / "gaitmodels"), *args, "--out", str(run)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        ckpts = run / "checkpoints"
        wait_for(
            lambda: (ckpts / "iter-000004.pt").exists() and (ckpts / "last.pt").exists(), proc, timeout=180
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at = torch.load(ckpts / "last.pt", weights_only=True)["iteration"]
        assert 4 <= killed_at < 12, killed_at
        assert not (ckpts / "iter-000012.pt").exists()

        res = CliRunner().invoke(gaitmodels_main, [*args, "--out", str(run), "--resume", str(run)])
        assert res.exit_code == 0, res.output
    finally:
        torch.set_num_threads(threads)
    a = torch.load(whole / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(ckpts / "last.pt", weights_only=True)
    assert a["iteration"] == b["iteration"] == 12
    for key, value in a["model_state"].items():
        assert torch.equal(value, b["model_state"][key]), key
    assert (whole / "metrics.csv").read_text() == (run / "metrics.csv").read_text()


def test_a_killed_checkpoint_write_never_replaces_last_pt_with_a_partial_file(tmp_path: Path) -> None:
    """save_checkpoint writes a temporary and renames it: a file cut short by a crash stays a hidden
    temporary, and ``--resume`` still reads the previous complete checkpoint."""
    import torch

    from gaitmodels.checkpoint import load_checkpoint, save_checkpoint

    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint({"format": "gaitmodels-checkpoint-1", "iteration": 4, "w": torch.ones(3)}, path)
    code = (
        "import os, sys, torch; from pathlib import Path; from gaitmodels.checkpoint import save_checkpoint\n"
        "orig = torch.save\n"
        "def dying(obj, f): orig(obj, f); os.truncate(f, 10); os.kill(os.getpid(), 9)\n"
        "torch.save = dying\n"
        "save_checkpoint({'format': 'gaitmodels-checkpoint-1', 'iteration': 8}, Path(sys.argv[1]))\n"
    )
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=120)
    assert res.returncode == -signal.SIGKILL
    assert load_checkpoint(tmp_path)["iteration"] == 4
    assert [n for n in os.listdir(path.parent) if not n.startswith(".")] == ["last.pt"]


def test_a_full_disk_during_training_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """torch reports a failed checkpoint write as a RuntimeError of several lines; the user gets one
    line naming the file that could not be written."""
    maps = base(tmp_path / "corpus")["maps"]
    run = tmp_path / "run"
    res = with_file_limit(
        30_000, [str(BIN / "gaitmodels"), *cmd("train --manifest", maps, TINY_TRAIN, "--out", run)]
    )
    err = res.stderr.splitlines()
    assert res.returncode == 1, res.stderr
    assert len(err) == 1 and err[0].startswith(f"error: {run}"), err
    assert "Traceback" not in res.stderr
