"""``build_dataset``: deterministic whatever the worker count, atomic, resumable after SIGKILL, locked."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _trees import (
    FAIL_ENV,
    SLEEP_ENV,
    VIEW,
    manifest_without_provenance,
    pose_array,
    seq_ids,
    silhouette_array,
    synthetic_maps,
    synthetic_plan,
    synthetic_process,
    tree_bytes,
    write_partitions,
    write_pose_pkl_tree,
    write_sil_pkl_tree,
)

from gaitprep.build import DONE_DIR, BuildOptions, BuildPlan, build_dataset, staging_dir
from gaitprep.build.datasets import build_poses, build_silhouettes
from gaitprep.build.staging import BuildLock
from gaitprep.errors import BadInputError, BuildLockedError, GaitprepError, VerificationError
from gaitprep.io.store import read_sequence
from gaitprep.manifest import MANIFEST_NAME, array_digest, load_manifest
from gaitprep.verify import verify_dataset

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def sil_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("siltree")
    return root, write_sil_pkl_tree(root / "tree")


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def done_records(out: Path) -> list[Path]:
    done = staging_dir(out) / DONE_DIR
    return sorted(done.glob("*.json")) if done.is_dir() else []


def start_build(out: Path, n: int, sleep: float) -> subprocess.Popen:
    """Run ``build_dataset(synthetic_plan(out, n))`` in a child process whose process function sleeps."""
    code = (
        "import sys; from pathlib import Path; from _trees import synthetic_plan; "
        "from gaitprep.build import BuildOptions, build_dataset; "
        f"build_dataset(synthetic_plan(Path(sys.argv[1]), n={n}), BuildOptions(quiet=True))"
    )
    env = {**os.environ, SLEEP_ENV: str(sleep), "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), *sys.path])}
    env.pop(FAIL_ENV, None)
    return subprocess.Popen([sys.executable, "-c", code, str(out)], env=env)


def wait_for(condition, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the build exited early with {proc.returncode}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("timed out waiting for the build")
        time.sleep(0.02)


# --- what a build writes --------------------------------------------------------------------------------


def test_silhouette_build_records_counts_splits_and_digests(sil_tree, tmp_path: Path) -> None:
    tree, ids = sil_tree
    part, _ = write_partitions(tmp_path, ids)
    result = build_silhouettes(
        tree / "tree", tmp_path / "ds", options=BuildOptions(partition=part, quiet=True)
    )
    m = result.manifest
    assert (result.built, result.reused, result.up_to_date) == (9, 0, False)
    assert m.derivation_id and m.manifest_digest and m.modality == "silhouette"
    assert [r.id for r in m.records] == ids  # sorted by key
    # Ids 0..5 are train and 6..8 test (write_partitions); labels cycle negative, neutral, positive.
    assert m.counts["per_split"] == {
        "train": {"negative": 2, "neutral": 2, "positive": 2},
        "test": {"negative": 1, "neutral": 1, "positive": 1},
    }
    assert m.partition is not None and m.partition.class_counts == m.counts["per_split"]
    assert m.partition.sha256 == part.sha256
    assert m.class_folders == {"negative": "negative", "neutral": "neutral", "positive": "Positive"}
    assert m.counts["frames"] == 9 * 7 and m.counts["frames_in"] == 9 * 7
    for i, rec in enumerate(m.records):
        expected = silhouette_array(0, i, 7)
        assert rec.split == ("train" if i < 6 else "test")
        assert rec.arrays["silhouette"].digest == array_digest(expected)
        assert rec.arrays["silhouette"].shape == (7, 64, 64)
        np.testing.assert_array_equal(read_sequence(result.path, rec, m.layout)["silhouette"], expected)
    # Nothing but the dataset is left beside it: no staging directory, no lock.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Scoliosis1K_A.json", "Scoliosis1K_B.json", "ds"]
    assert load_manifest(result.path) == m


def test_one_and_two_workers_give_byte_identical_trees(sil_tree, tmp_path: Path) -> None:
    tree, _ = sil_tree
    one = build_silhouettes(
        tree / "tree", tmp_path / "w1" / "ds", options=BuildOptions(fmt="both", workers=1, quiet=True)
    )
    two = build_silhouettes(
        tree / "tree", tmp_path / "w2" / "ds", options=BuildOptions(fmt="both", workers=2, quiet=True)
    )
    assert one.manifest.content_digest == two.manifest.content_digest
    assert one.manifest.manifest_digest == two.manifest.manifest_digest
    assert one.manifest.provenance.workers == 1 and two.manifest.provenance.workers == 2
    bytes_one, bytes_two = tree_bytes(one.path), tree_bytes(two.path)
    assert len(bytes_one) == 1 + 9 * 4 + 9 * 2  # root zarr.json; 4 zarr files and 1 pkl per sequence
    assert bytes_one == bytes_two
    assert manifest_without_provenance(one.path) == manifest_without_provenance(two.path)


def test_a_dask_build_is_byte_identical_to_a_serial_one(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    serial = build_dataset(
        synthetic_plan(tmp_path / "serial" / "ds", formats=("zarr", "opengait-pkl")), BuildOptions(quiet=True)
    )
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        plan = synthetic_plan(tmp_path / "dask" / "ds", formats=("zarr", "opengait-pkl"))
        result = build_dataset(plan, BuildOptions(quiet=True, dask_address=cluster.scheduler_address))
    assert result.built == 9
    assert manifest_without_provenance(result.path) == manifest_without_provenance(serial.path)
    assert tree_bytes(result.path) == tree_bytes(serial.path)


def test_zarr_only_and_pkl_only_builds_share_a_content_digest(sil_tree, tmp_path: Path) -> None:
    tree, _ = sil_tree
    z = build_silhouettes(
        tree / "tree", tmp_path / "z", options=BuildOptions(fmt="zarr", quiet=True)
    ).manifest
    p = build_silhouettes(tree / "tree", tmp_path / "p", options=BuildOptions(fmt="pkl", quiet=True)).manifest
    assert z.content_digest == p.content_digest
    assert z.layout_digest != p.layout_digest and z.derivation_id != p.derivation_id
    assert all(f.path.startswith("data.zarr/") for f in z.files)
    assert all(f.path.endswith(".pkl") for f in p.files)
    for rz, rp in zip(z.records, p.records, strict=True):
        az = read_sequence(tmp_path / "z", rz, z.layout)["silhouette"]
        ap = read_sequence(tmp_path / "p", rp, p.layout)["silhouette"]
        np.testing.assert_array_equal(az, ap)


def zero_maps_process(item):
    result = synthetic_process(item)
    result.arrays["maps"] = np.zeros_like(result.arrays["maps"])
    return result


def test_all_zero_arrays_still_write_their_chunk_so_the_file_list_is_content_independent(
    tmp_path: Path,
) -> None:
    plan = synthetic_plan(tmp_path / "ds", n=3)
    plan.process = zero_maps_process
    manifest = build_dataset(plan, BuildOptions(quiet=True)).manifest
    listed = {f.path for f in manifest.files}
    for rec in manifest.records:
        assert f"data.zarr/{rec.key}/maps/c/0/0/0/0" in listed
        assert rec.arrays["maps"].digest == array_digest(np.zeros((7, 2, 64, 64), np.uint8))
    assert verify_dataset(tmp_path / "ds", "content").ok


def test_pose_builds_in_both_formats_share_a_content_digest(tmp_path: Path) -> None:
    write_pose_pkl_tree(tmp_path / "tree", n=4, frames=5)
    z = build_poses(tmp_path / "tree", tmp_path / "z", options=BuildOptions(fmt="zarr", quiet=True)).manifest
    p = build_poses(tmp_path / "tree", tmp_path / "p", options=BuildOptions(fmt="pkl", quiet=True)).manifest
    assert z.modality == "pose" and z.content_digest == p.content_digest
    assert z.records[3].arrays["pose"].digest == array_digest(pose_array(0, 3, 5))
    assert verify_dataset(tmp_path / "z", "content").ok and verify_dataset(tmp_path / "p", "content").ok


def test_silhouettes_command_builds_reports_up_to_date_and_refuses_another_format(
    sil_tree, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from gaitprep.cli import main

    tree, _ = sil_tree
    args = ["silhouettes", "--input", str(tree / "tree"), "--out", str(tmp_path / "ds"), "--quiet"]
    first = CliRunner().invoke(main, [*args, "--json"])
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert (doc["built"], doc["up_to_date"], doc["sequences"], doc["frames"]) == (9, False, 9, 63)
    again = json.loads(CliRunner().invoke(main, [*args, "--json"]).stdout)
    assert again["up_to_date"] is True and again["manifest_digest"] == doc["manifest_digest"]
    other = CliRunner().invoke(main, [*args, "--format", "pkl"])
    assert other.exit_code == 1 and "different dataset" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1
    assert CliRunner().invoke(main, ["verify-manifest", str(tmp_path / "ds"), "--content"]).exit_code == 0


def test_derivation_id_is_known_before_building_and_tracks_every_input(tmp_path: Path) -> None:
    ids = seq_ids(9)
    part_a, part_b = write_partitions(tmp_path, ids)
    base = synthetic_plan(tmp_path / "ds")
    result = build_dataset(base, BuildOptions(quiet=True))
    assert result.manifest.derivation_id == base.derivation_id
    variants = [
        synthetic_plan(tmp_path / "ds", params={"sigma_limb": 8.0, "sigma_joint": 4.0}),
        synthetic_plan(tmp_path / "ds", partition=part_a),
        synthetic_plan(tmp_path / "ds", partition=part_b),
        synthetic_plan(tmp_path / "ds", formats=("opengait-pkl",)),
        synthetic_plan(tmp_path / "ds", seed=1),
        synthetic_plan(tmp_path / "ds", frames=8),
    ]
    derivations = {base.derivation_id, *(v.derivation_id for v in variants)}
    assert len(derivations) == 1 + len(variants)
    # Parameter key order is not part of the identity.
    assert synthetic_plan(tmp_path / "x", params={"sigma_joint": 4.0, "sigma_limb": 4.0}).derivation_id == (
        base.derivation_id
    )


# --- re-runs, refusals, force ---------------------------------------------------------------------------


def test_rerunning_an_unchanged_build_is_up_to_date_and_writes_nothing(tmp_path: Path) -> None:
    first = build_dataset(synthetic_plan(tmp_path / "ds"), BuildOptions(quiet=True))
    before = (tmp_path / "ds" / MANIFEST_NAME).read_bytes()
    again = build_dataset(synthetic_plan(tmp_path / "ds"), BuildOptions(quiet=True))
    assert (again.up_to_date, again.built, again.reused) == (True, 0, 9)
    assert again.manifest == first.manifest
    assert (tmp_path / "ds" / MANIFEST_NAME).read_bytes() == before


def test_an_up_to_date_output_that_no_longer_verifies_is_refused_until_forced(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    first = build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    victim = next(f.path for f in first.manifest.files if f.path.endswith("/c/0/0/0/0"))
    (out / victim).unlink()
    with pytest.raises(VerificationError, match=f"missing: {victim}.*pass --force"):
        build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    rebuilt = build_dataset(synthetic_plan(out), BuildOptions(quiet=True, force=True))
    assert not rebuilt.up_to_date and rebuilt.manifest.content_digest == first.manifest.content_digest
    assert verify_dataset(out).ok


def test_a_different_build_into_an_existing_dataset_is_refused_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    first = build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    other = synthetic_plan(out, params={"offset": 5})
    with pytest.raises(BadInputError, match="different dataset"):
        build_dataset(other, BuildOptions(quiet=True))
    assert load_manifest(out) == first.manifest  # untouched
    forced = build_dataset(other, BuildOptions(quiet=True, force=True))
    assert not forced.up_to_date and forced.built == 9
    assert load_manifest(out).derivation_id == other.derivation_id != first.manifest.derivation_id
    assert forced.manifest.content_digest != first.manifest.content_digest
    assert verify_dataset(out, "content").ok


def test_a_non_dataset_directory_is_refused_and_an_empty_one_accepted(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(BadInputError, match="not a gaitprep dataset"):
        build_dataset(synthetic_plan(tmp_path / "busy"), BuildOptions(quiet=True))
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    assert build_dataset(synthetic_plan(tmp_path / "empty"), BuildOptions(quiet=True)).built == 9
    assert verify_dataset(tmp_path / "empty").ok


def test_a_failed_forced_rebuild_leaves_the_old_dataset_in_place(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "ds"
    first = build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    monkeypatch.setenv(FAIL_ENV, "4")
    with pytest.raises(GaitprepError, match="injected failure"):
        build_dataset(synthetic_plan(out, params={"offset": 1}), BuildOptions(quiet=True, force=True))
    assert load_manifest(out) == first.manifest
    assert verify_dataset(out).ok
    assert not lock_path(out).exists()


def test_wrong_dtype_from_the_transform_is_an_error_naming_the_sequence(tmp_path: Path) -> None:
    plan = synthetic_plan(tmp_path / "ds")
    plan.layout = plan.layout.model_copy(
        update={"arrays": {"maps": plan.layout.arrays["maps"].model_copy(update={"dtype": "float32"})}}
    )
    with pytest.raises(GaitprepError, match=r"uint8 for 'maps' of 00000/negative/000_180, expected float32"):
        build_dataset(plan, BuildOptions(quiet=True))
    assert not (tmp_path / "ds").exists()


def extra_array_process(item):
    result = synthetic_process(item)
    result.arrays["debug"] = np.zeros(3, np.float32)
    return result


def short_array_process(item):
    result = synthetic_process(item)
    result.frames -= 1  # claims one frame fewer than the array holds
    return result


def wide_array_process(item):
    result = synthetic_process(item)
    result.arrays["maps"] = np.zeros((result.frames, 2, 64, 65), np.uint8)
    return result


@pytest.mark.parametrize(
    ("process", "message"),
    [
        (
            extra_array_process,
            r"arrays \['debug'\] for 00000/negative/000_180 that the layout does not declare",
        ),
        (
            short_array_process,
            r"shape \(7, 2, 64, 64\) for 'maps' of 00000/negative/000_180, expected \(6, 2, 64, 64\)",
        ),
        (
            wide_array_process,
            r"shape \(7, 2, 64, 65\) for 'maps' of 00000/negative/000_180, expected \(7, 2, 64, 64\)",
        ),
    ],
)
def test_arrays_that_contradict_the_layout_are_refused(tmp_path: Path, process, message: str) -> None:
    plan = synthetic_plan(tmp_path / "ds")
    plan.process = process
    with pytest.raises(GaitprepError, match=message):
        build_dataset(plan, BuildOptions(quiet=True))
    assert not (tmp_path / "ds").exists()


def test_empty_and_duplicate_inputs_are_bad_input(tmp_path: Path) -> None:
    plan = synthetic_plan(tmp_path / "ds")
    with pytest.raises(BadInputError, match="no sequences"):
        build_dataset(BuildPlan(**{**plan.__dict__, "items": []}), BuildOptions(quiet=True))
    same_key = plan.items[0].__class__(**{**plan.items[0].__dict__, "source_digest": "0" * 64})
    with pytest.raises(BadInputError, match="more than once"):
        build_dataset(
            BuildPlan(**{**plan.__dict__, "items": [*plan.items, same_key]}), BuildOptions(quiet=True)
        )
    # One id under two classes is a label conflict, whatever the view.
    other_class = plan.items[1].__class__(**{**plan.items[1].__dict__, "view": "090", "id": plan.items[0].id})
    assert other_class.label != plan.items[0].label
    with pytest.raises(BadInputError, match=f"label conflict.*{plan.items[0].id}"):
        build_dataset(
            BuildPlan(**{**plan.__dict__, "items": [*plan.items, other_class]}), BuildOptions(quiet=True)
        )
    assert not (tmp_path / "ds").exists()


def test_several_views_of_one_id_are_several_sequences(tmp_path: Path) -> None:
    plan = synthetic_plan(tmp_path / "ds")
    first = plan.items[0]
    second_view = first.__class__(
        **{**first.__dict__, "view": "090", "inputs": (*first.inputs[:1], 99, *first.inputs[2:])}
    )
    result = build_dataset(
        BuildPlan(**{**plan.__dict__, "items": [*plan.items, second_view]}), BuildOptions(quiet=True)
    )
    keys = [r.key for r in result.manifest.records]
    assert f"{first.id}/{first.label}/{first.view}" in keys and f"{first.id}/{first.label}/090" in keys
    assert len(keys) == len(plan.items) + 1


# --- resuming -------------------------------------------------------------------------------------------


def test_a_build_killed_with_sigkill_resumes_to_the_same_dataset(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(SLEEP_ENV, raising=False)
    reference = build_dataset(synthetic_plan(tmp_path / "ref" / "ds"), BuildOptions(quiet=True))
    out = tmp_path / "run" / "ds"
    out.parent.mkdir()
    proc = start_build(out, n=9, sleep=0.4)
    wait_for(lambda: len(done_records(out)) >= 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    completed = len(done_records(out))
    assert 3 <= completed < 9
    assert not out.exists()  # nothing half-written is visible under --out
    assert staging_dir(out).is_dir() and lock_path(out).exists()  # the dead build's lock is left behind
    resumed = build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    assert (resumed.reused, resumed.built) == (completed, 9 - completed)
    assert manifest_without_provenance(out) == manifest_without_provenance(reference.path)
    assert tree_bytes(out) == tree_bytes(reference.path)
    assert not staging_dir(out).exists() and not lock_path(out).exists()
    assert verify_dataset(out, "content").ok


def test_a_resumed_build_redoes_sequences_whose_staged_files_were_damaged(
    tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "ds"
    monkeypatch.setenv(FAIL_ENV, "5")
    with pytest.raises(GaitprepError, match="injected failure"):
        build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    assert len(done_records(out)) == 5 and not out.exists()
    chunk = (
        staging_dir(out) / "data.zarr" / "00002" / "positive" / VIEW / "maps" / "c" / "0" / "0" / "0" / "0"
    )
    chunk.write_bytes(chunk.read_bytes()[:-3])
    monkeypatch.delenv(FAIL_ENV)
    resumed = build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    assert (resumed.reused, resumed.built) == (4, 5)
    assert verify_dataset(out, "content").ok
    rec = resumed.manifest.record_by_key()["00002/positive/000_180"]
    np.testing.assert_array_equal(
        read_sequence(out, rec, resumed.manifest.layout)["maps"], synthetic_maps(0, 2, 7)
    )


def test_staging_left_by_a_different_build_is_discarded(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "ds"
    monkeypatch.setenv(FAIL_ENV, "5")
    with pytest.raises(GaitprepError):
        build_dataset(synthetic_plan(out, params={"offset": 9}), BuildOptions(quiet=True))
    monkeypatch.delenv(FAIL_ENV)
    result = build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    assert (result.reused, result.built) == (0, 9)
    assert result.manifest.records[0].arrays["maps"].digest == array_digest(synthetic_maps(0, 0, 7))


# --- locking --------------------------------------------------------------------------------------------


def test_a_second_build_into_the_same_output_reports_the_lock(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(SLEEP_ENV, raising=False)
    out = tmp_path / "ds"
    proc = start_build(out, n=9, sleep=0.2)
    wait_for(lambda: len(done_records(out)) >= 1, proc)
    with pytest.raises(BuildLockedError, match=f"pid {proc.pid}"):
        build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    assert proc.wait(timeout=60) == 0
    assert verify_dataset(out, "content").ok
    assert build_dataset(synthetic_plan(out), BuildOptions(quiet=True)).up_to_date


def test_a_stale_lock_from_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_path(out).parent.mkdir(parents=True, exist_ok=True)
    lock_path(out).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    result = build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    assert result.built == 9 and verify_dataset(out).ok
    assert not lock_path(out).exists()


@pytest.mark.parametrize(
    ("content", "age_s", "taken_over"), [("", 3600, True), ("{", 3600, True), ("", 0, False)]
)
def test_an_unreadable_lock_is_stale_only_once_it_is_old(tmp_path: Path, content, age_s, taken_over) -> None:
    """A writer killed between creating the lock and filling it leaves it empty; a fresh one may be mid-write."""
    out = tmp_path / "ds"
    lock = lock_path(out)
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(content)
    then = time.time() - age_s
    os.utime(lock, (then, then))
    if taken_over:
        assert build_dataset(synthetic_plan(out), BuildOptions(quiet=True)).built == 9
        assert not lock.exists()
    else:
        with pytest.raises(BuildLockedError, match=r"pid \?"):
            build_dataset(synthetic_plan(out), BuildOptions(quiet=True))


@pytest.mark.parametrize("owner", ["live-pid", "other-host"])
def test_a_lock_held_by_a_live_or_remote_build_is_respected(tmp_path: Path, owner: str) -> None:
    out = tmp_path / "ds"
    lock_path(out).parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname() if owner == "live-pid" else "some-other-host"
    lock_path(out).write_text(json.dumps({"pid": os.getpid(), "host": host}))
    with pytest.raises(BuildLockedError, match="another build"):
        build_dataset(synthetic_plan(out), BuildOptions(quiet=True))
    assert not out.exists() and lock_path(out).exists()


def test_an_output_committed_while_waiting_for_the_lock_is_not_clobbered(tmp_path: Path, monkeypatch) -> None:
    """Build A commits between build B's first look at --out and B taking the lock: B must look again."""
    real_enter = BuildLock.__enter__
    pending: list[BuildPlan] = []

    def enter_after_another_build_commits(self):
        if pending:
            build_dataset(pending.pop(), BuildOptions(quiet=True))
        return real_enter(self)

    monkeypatch.setattr(BuildLock, "__enter__", enter_after_another_build_commits)
    out = tmp_path / "ds"
    plan_a = synthetic_plan(out)
    pending.append(plan_a)
    with pytest.raises(BadInputError, match="different dataset"):
        build_dataset(synthetic_plan(out, params={"offset": 2}), BuildOptions(quiet=True))
    assert load_manifest(out).derivation_id == plan_a.derivation_id
    assert verify_dataset(out, "content").ok
    # The same derivation committed meanwhile: B finds it up to date instead of rebuilding it.
    pending.append(synthetic_plan(tmp_path / "ds2"))
    assert build_dataset(synthetic_plan(tmp_path / "ds2"), BuildOptions(quiet=True)).up_to_date
