"""Real detector output (issue 14): the right person, numeric frame order, joints never seen, all-zero
entries, several views per id, pairing by frame name, BODY_25, partitions vs disk, silhouette statistics.

Every "done when" check runs on walking sequences from the ``walks`` fixture (real-walking motion capture
when available, else the synthetic walker), edited the way real detectors and segmenters write them
(``tests/_detector_trees.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gaitprep.build import BuildOptions
from gaitprep.build.datasets import (
    build_heatmaps,
    build_pav,
    build_poses,
    build_registered_silhouettes,
    build_silhouettes,
)
from gaitprep.build.stacking import build_stacked
from gaitprep.cli import main as gaitprep_main
from gaitprep.errors import BadInputError
from gaitprep.frame_ids import from_runs, to_runs
from gaitprep.heatmaps.spec import preset
from gaitprep.inspect import inspect_path
from gaitprep.io.frame_order import order_frame_files, unpadded_names
from gaitprep.io.person import select_people
from gaitprep.io.read_options import ReadOptions
from gaitprep.io.safe_pickle import dump_array_pickle
from gaitprep.io.store import read_sequence
from gaitprep.manifest import MANIFEST_NAME, json_digest, load_manifest
from gaitprep.partition import write_partition
from gaitprep.pav import fit_minmax
from tests._detector_trees import bystander_of, single, write_mask_frames, write_pose_frames
from tests._schema1 import as_schema_1

FRAMES = 40
VIEW = "000_180"
WRISTS = 4  # PAV pair index of (9, 10)


def _synthetic_walks() -> list[tuple[np.ndarray, np.ndarray]]:
    from gaitprep.synth.detector import detect
    from gaitprep.synth.subject import make_subject
    from gaitprep.synth.walker import render_silhouettes, walk

    out = []
    for seed, label in ((1, "negative"), (2, "positive"), (3, "neutral"), (4, "negative")):
        rng = np.random.default_rng(seed)
        pose, geometry = walk(make_subject(rng, label), FRAMES, (640, 360), rng)
        out.append((detect(pose, rng, missing_rate=0.0, low_conf_rate=0.0), render_silhouettes(geometry)))
    return out


@pytest.fixture(scope="module")
def walks(request: pytest.FixtureRequest) -> list[tuple[np.ndarray, np.ndarray]]:
    """Four walks of FRAMES frames: pose float64 (T, 17, 3) image px + confidence, masks uint8 (T, H, W).

    Real walking (LaFAN1, 1280x720): the front and back views of one run, then of another; the synthetic
    walker when the take cannot be fetched.
    """
    try:
        real = request.getfixturevalue("real_walking")
    except pytest.skip.Exception:
        return _synthetic_walks()
    from gaitprep.synth.realwalk import silhouettes_from_pose

    chosen = [
        real[("front", True)][0],
        real[("back", True)][0],
        real[("front", False)][1],
        real[("back", False)][1],
    ]
    out = []
    for walk in chosen:
        pose = walk.pose[:FRAMES].astype(np.float64).copy()
        out.append((pose, silhouettes_from_pose(pose)))
    return out


def _maps(out: Path) -> dict[str, np.ndarray]:
    m = load_manifest(out)
    return {r.key: read_sequence(out, r, m.layout)[m.layout.primary] for r in m.records}


def _record(out: Path, key: str):
    return load_manifest(out).record_by_key()[key]


def invoke(*argv: object):
    return CliRunner().invoke(gaitprep_main, [str(a) for a in argv], env={"GAITPREP_DEBUG": None})


# --- person selection ----------------------------------------------------------------------------------


def test_select_people_follows_the_subject_not_the_list_order() -> None:
    subject = np.zeros((17, 3))
    subject[:, 0], subject[:, 1], subject[:, 2] = np.linspace(100, 140, 17), np.linspace(50, 250, 17), 0.9
    small = subject.copy()
    small[:, :2] = subject[:, :2] * 0.5 + (300, 0)
    small[:, 2] = 0.5
    frames = [[subject], [small, subject], [small, subject + (2, 0, 0)], [subject]]
    listed = [[0], [0, 1], [0, 1], [0]]
    chosen, counts = select_people(frames, listed, "auto")
    assert chosen == [0, 1, 1, 0]
    assert counts.as_dict() == {"multiple": 2, "not_first": 2}
    chosen, counts = select_people(frames, listed, "first")
    assert chosen == [0, 0, 0, 0] and counts.as_dict() == {"multiple": 2, "not_first": 0}
    # A frame where only the bystander was detected has no subject; the track resumes after it.
    frames = [[subject], [small, subject], [small], [subject + (1, 0, 0)]]
    chosen, counts = select_people(frames, [[0], [0, 1], [0], [0]], "auto")
    assert chosen == [0, 1, None, 0] and counts.as_dict() == {"multiple": 1, "not_first": 1, "lost": 1}


def test_bystander_listed_first_leaves_maps_and_pav_unchanged(walks, tmp_path: Path) -> None:
    """A smaller, less confident bystander listed first in 20 frames: the maps and the PAV equal those of
    the same frames without the bystander (upstream, --person first, draws the bystander)."""
    pose, _ = walks[0]
    by = bystander_of(pose, shift_x=220.0)
    clean = tmp_path / "clean" / "00000" / "negative" / VIEW
    crowded = tmp_path / "crowded" / "00000" / "negative" / VIEW
    write_pose_frames(clean, single(pose))
    write_pose_frames(crowded, [[by[k], pose[k]] if 10 <= k < 30 else [pose[k]] for k in range(FRAMES)])
    key = "00000/negative/" + VIEW
    for name in ("opengait", "recommended"):
        a = build_heatmaps(
            tmp_path / "clean", tmp_path / f"a-{name}", preset(name), options=BuildOptions(quiet=True)
        )
        b = build_heatmaps(
            tmp_path / "crowded", tmp_path / f"b-{name}", preset(name), options=BuildOptions(quiet=True)
        )
        np.testing.assert_array_equal(_maps(a.path)[key], _maps(b.path)[key])
        assert _record(b.path, key).person_frames == {"multiple": 20, "not_first": 20, "zero_entries": 0}
    first = build_heatmaps(
        tmp_path / "crowded",
        tmp_path / "first",
        preset("opengait"),
        read=ReadOptions(person="first"),
        options=BuildOptions(quiet=True),
    )
    upstream = _maps(first.path)[key]
    ours = _maps(tmp_path / "a-opengait")[key]
    assert (upstream[10:30] != ours[10:30]).any() and np.array_equal(upstream[:10], ours[:10])
    assert first.manifest.params["read"] == {"frame_order": "numeric", "person": "first"}
    raw_pav = {}
    for tree in ("clean", "crowded"):
        part = write_partition(tmp_path / f"p-{tree}.json", ["00000"], [])
        res = build_pav(
            tmp_path / tree, tmp_path / f"pav-{tree}", options=BuildOptions(partition=part, quiet=True)
        )
        raw_pav[tree] = read_sequence(res.path, res.manifest.records[0], res.manifest.layout)["raw"]
    np.testing.assert_array_equal(raw_pav["clean"], raw_pav["crowded"])


def test_inspect_counts_frames_with_several_people(walks, tmp_path: Path) -> None:
    pose, _ = walks[0]
    by = bystander_of(pose, shift_x=220.0)
    write_pose_frames(
        tmp_path / "t" / "00000" / "negative" / VIEW,
        [[by[k], pose[k]] if k < 5 else [pose[k]] for k in range(FRAMES)],
    )
    summary = inspect_path(tmp_path / "t")["layouts"]["pose-raw"]
    assert summary["reader"]["person_multiple"] == 5 and summary["reader"]["person_not_first"] == 5
    assert any("5 frame(s) list more than one person" in n for n in summary["notes"])


# --- all-zero entries and non-finite joints -------------------------------------------------------------


def test_all_zero_entries_are_no_person(walks, tmp_path: Path) -> None:
    """Entries of 51 zeros are dropped like an empty people list (no_person), and never chosen."""
    pose, _ = walks[1]
    zero = np.zeros((17, 3))
    people = [[pose[k]] for k in range(FRAMES)]
    for k in (3, 4, 5):
        people[k] = [zero]  # a detector's placeholder: nobody
    people[8] = [zero, pose[8]]
    write_pose_frames(tmp_path / "t" / "00001" / "positive" / VIEW, people)
    res = build_heatmaps(
        tmp_path / "t",
        tmp_path / "maps",
        preset("recommended", unnormalisable="drop"),
        options=BuildOptions(quiet=True),
    )
    rec = res.manifest.records[0]
    assert rec.frames == FRAMES - 3 and rec.frames_dropped == {"no_person": 3}
    assert rec.person_frames == {"multiple": 0, "not_first": 1, "zero_entries": 4}
    assert rec.source_frames == ((0, 2), (6, FRAMES - 1))
    poses = build_poses(tmp_path / "t", tmp_path / "poses", options=BuildOptions(quiet=True))
    got = read_sequence(poses.path, poses.manifest.records[0], poses.manifest.layout)["pose"]
    np.testing.assert_array_equal(got, np.delete(pose, [3, 4, 5], axis=0).astype(np.float32))


def test_nonfinite_joints_in_a_pose_pickle_are_missing_joints(walks, tmp_path: Path) -> None:
    pose, _ = walks[1]
    arr = pose.copy()
    arr[3, 7, 0] = np.nan
    arr[9, 2, 2] = np.inf
    dump_array_pickle(arr, tmp_path / "t" / "00001" / "positive" / VIEW / f"{VIEW}.pkl")
    res = build_poses(tmp_path / "t", tmp_path / "poses", options=BuildOptions(quiet=True))
    rec = res.manifest.records[0]
    assert rec.nonfinite_joints == 2 and rec.frames == FRAMES
    got = read_sequence(res.path, rec, res.manifest.layout)["pose"]
    assert (got[3, 7] == 0).all() and (got[9, 2] == 0).all()
    expected = pose.astype(np.float32)
    expected[3, 7] = expected[9, 2] = 0
    np.testing.assert_array_equal(got, expected)
    strings = np.full((4, 17, 3), "a")
    dump_array_pickle(strings, tmp_path / "s" / "00001" / "positive" / VIEW / f"{VIEW}.pkl")
    with pytest.raises(BadInputError, match="dtype"):
        build_poses(tmp_path / "s", tmp_path / "bad", options=BuildOptions(quiet=True))


def test_nan_in_pose_json_is_a_missing_joint(walks, tmp_path: Path) -> None:
    pose, _ = walks[1]
    folder = tmp_path / "t" / "00001" / "positive" / VIEW
    write_pose_frames(folder, single(pose))
    doc = json.loads((folder / "000002.json").read_text())
    doc["people"][0]["pose_keypoints_2d"][3 * 9] = float("nan")  # left wrist x
    (folder / "000002.json").write_text(json.dumps(doc))
    res = build_poses(tmp_path / "t", tmp_path / "poses", options=BuildOptions(quiet=True))
    got = read_sequence(res.path, res.manifest.records[0], res.manifest.layout)["pose"]
    assert res.manifest.records[0].nonfinite_joints == 1 and (got[2, 9] == 0).all()


# --- numeric frame order ---------------------------------------------------------------------------------


def test_frame_files_are_ordered_by_their_number() -> None:
    names = [Path(f"{k}.json") for k in (10, 2, 0, 1, 100, 11)]
    assert [p.stem for p in order_frame_files(names)] == ["0", "1", "2", "10", "11", "100"]
    assert [p.stem for p in order_frame_files(names, "lexical")] == ["0", "1", "10", "100", "11", "2"]
    assert unpadded_names(names) and not unpadded_names([Path("000001.png"), Path("000010.png")])


def test_unpadded_names_give_the_same_arrays_as_padded(walks, tmp_path: Path) -> None:
    pose, masks = walks[2]
    for padded in (True, False):
        root = tmp_path / ("padded" if padded else "unpadded")
        write_pose_frames(root / "pose-raw" / "00002" / "neutral" / VIEW, single(pose), padded=padded)
        write_mask_frames(root / "sil-raw" / "00002" / "neutral" / VIEW, masks, padded=padded)
    key = f"00002/neutral/{VIEW}"
    spec = preset("opengait")
    a = _maps(
        build_heatmaps(tmp_path / "padded", tmp_path / "m-a", spec, options=BuildOptions(quiet=True)).path
    )[key]
    b = build_heatmaps(tmp_path / "unpadded", tmp_path / "m-b", spec, options=BuildOptions(quiet=True))
    np.testing.assert_array_equal(a, _maps(b.path)[key])
    assert (
        b.manifest.records[0].unpadded_frame_names and b.manifest.params["read"]["frame_order"] == "numeric"
    )
    sa = _maps(
        build_silhouettes(tmp_path / "padded", tmp_path / "s-a", options=BuildOptions(quiet=True)).path
    )[key]
    sb = build_silhouettes(tmp_path / "unpadded", tmp_path / "s-b", options=BuildOptions(quiet=True))
    np.testing.assert_array_equal(sa, _maps(sb.path)[key])
    assert sb.manifest.records[0].unpadded_frame_names
    # Upstream's string order reads 0, 1, 10, 11, ..., 19, 2, 20, ...: other arrays.
    lexical = build_heatmaps(
        tmp_path / "unpadded",
        tmp_path / "m-c",
        spec,
        read=ReadOptions(frame_order="lexical"),
        options=BuildOptions(quiet=True),
    )
    c = _maps(lexical.path)[key]
    order = sorted(range(FRAMES), key=str)  # opengait scales per frame: the same frames, shuffled
    np.testing.assert_array_equal(c, a[order])
    assert not np.array_equal(c, a)
    problems = inspect_path(tmp_path / "unpadded", read=ReadOptions(frame_order="lexical"))["problems"]
    assert any("different widths" in p for p in problems)
    assert not inspect_path(tmp_path / "unpadded")["problems"]


# --- PAV with a joint never observed ----------------------------------------------------------------------


def test_never_detected_wrist_gives_nan_raw_pav_and_a_finite_imputed_pav(walks, tmp_path: Path) -> None:
    ids = ["00000", "00001", "00002", "00003"]
    labels = ["negative", "positive", "neutral", "negative"]
    for k, (seq_id, label) in enumerate(zip(ids, labels, strict=True)):
        pose = walks[k][0].copy()
        if seq_id == "00003":
            pose[:, 9] = 0.0  # the left wrist, hidden behind the body all sequence: (0, 0, 0) every frame
        write_pose_frames(tmp_path / "t" / seq_id / label / VIEW, single(pose))
    part = write_partition(tmp_path / "part.json", ids[:3], ids[3:])
    res = build_pav(tmp_path / "t", tmp_path / "pav", options=BuildOptions(partition=part, quiet=True))
    m = res.manifest
    arrays = {r.id: read_sequence(res.path, r, m.layout) for r in m.records}
    hidden = arrays["00003"]
    assert np.isnan(hidden["raw"][WRISTS]).all() and np.isfinite(np.delete(hidden["raw"], WRISTS, 0)).all()
    assert (
        np.isfinite(hidden["pav"]).all()
        and hidden["pav"].dtype == np.float32
        and hidden["pav"].shape == (8, 3)
    )
    rec = {r.id: r for r in m.records}["00003"]
    assert rec.stats["valid_frames_wrists"] == 0 and rec.stats["valid_frames_shoulders"] == FRAMES
    assert rec.stats["imputed_features"] == 3
    assert {r.id: r for r in m.records}["00000"].stats["imputed_features"] == 0
    # The rule, recomputed: the TRAIN median of each wrist feature, normalised with the TRAIN min-max.
    train_raw = np.stack([arrays[i]["raw"] for i in ids[:3]]).astype(np.float64)
    mn, mx = fit_minmax(train_raw)
    median = np.median(train_raw[:, WRISTS], axis=0)
    expected = np.clip(
        (median.astype(np.float32) - mn[WRISTS]) / np.maximum(mx[WRISTS] - mn[WRISTS], 1e-6), 0, 1
    )
    np.testing.assert_allclose(hidden["pav"][WRISTS], expected, rtol=1e-6)
    assert m.fitted["impute"][WRISTS] == pytest.approx(median.tolist(), rel=1e-6)
    assert "median" in m.fitted["impute_rule"]


def test_fit_ignores_nan_features_of_a_training_sequence(walks, tmp_path: Path) -> None:
    ids = ["00000", "00001", "00002"]
    for k, seq_id in enumerate(ids):
        pose = walks[k][0].copy()
        if k == 0:
            pose[:, 10] = 0.0  # right wrist never seen in a TRAIN sequence
        write_pose_frames(tmp_path / "t" / seq_id / "negative" / VIEW, single(pose))
    part = write_partition(tmp_path / "part.json", ids[:2], ids[2:])
    res = build_pav(tmp_path / "t", tmp_path / "pav", options=BuildOptions(partition=part, quiet=True))
    raws = {r.id: read_sequence(res.path, r, res.manifest.layout)["raw"] for r in res.manifest.records}
    mn = np.asarray(res.manifest.fitted["mn"], np.float32)
    np.testing.assert_array_equal(mn[WRISTS], raws["00001"][WRISTS])  # the only TRAIN sequence that saw it


# --- several views per id -----------------------------------------------------------------------------------


def test_both_views_under_one_id_build_one_sequence_per_view(walks, tmp_path: Path) -> None:
    for k, seq_id in enumerate(["00000", "00001"]):
        for v, view in enumerate(("000_180", "180_000")):
            write_pose_frames(tmp_path / "t" / seq_id / "negative" / view, single(walks[2 * k + v][0]))
    assert not inspect_path(tmp_path / "t")["problems"]
    res = build_heatmaps(
        tmp_path / "t", tmp_path / "maps", preset("recommended"), options=BuildOptions(fmt="both", quiet=True)
    )
    keys = sorted(r.key for r in res.manifest.records)
    assert keys == [f"{i}/negative/{v}" for i in ("00000", "00001") for v in ("000_180", "180_000")]
    for key in keys:
        assert (res.path / "data.zarr" / key / "maps").is_dir()
        assert (res.path / key / f"{key.split('/')[-1]}.pkl").is_file()
    maps = _maps(res.path)
    assert not np.array_equal(maps[keys[0]], maps[keys[1]])


def test_one_id_under_two_classes_is_a_label_conflict_in_inspect_and_builds(walks, tmp_path: Path) -> None:
    write_pose_frames(tmp_path / "t" / "00000" / "negative" / "000_180", single(walks[0][0]))
    write_pose_frames(tmp_path / "t" / "00000" / "positive" / "180_000", single(walks[1][0]))
    problems = inspect_path(tmp_path / "t")["problems"]
    assert any("label conflict: id 00000 appears under two classes" in p for p in problems)
    with pytest.raises(BadInputError, match="00000 appears under two classes"):
        build_heatmaps(
            tmp_path / "t", tmp_path / "maps", preset("recommended"), options=BuildOptions(quiet=True)
        )


# --- BODY_25 ---------------------------------------------------------------------------------------------


def test_body25_json_is_read_as_coco17(walks, tmp_path: Path) -> None:
    pose, _ = walks[0]
    write_pose_frames(tmp_path / "coco" / "00000" / "negative" / VIEW, single(pose))
    write_pose_frames(tmp_path / "b25" / "00000" / "negative" / VIEW, single(pose), body25=True)
    a = build_poses(tmp_path / "coco", tmp_path / "a", options=BuildOptions(quiet=True))
    b = build_poses(tmp_path / "b25", tmp_path / "b", options=BuildOptions(quiet=True))
    assert a.manifest.content_digest == b.manifest.content_digest
    assert a.manifest.source.keypoint_format == "coco17" and b.manifest.source.keypoint_format == "body25"


# --- partitions vs disk -----------------------------------------------------------------------------------


def test_partition_ids_missing_from_one_layout_are_a_warning_and_recorded(walks, tmp_path: Path) -> None:
    root = tmp_path / "release"
    for k, seq_id in enumerate(["00000", "00001", "00002"]):
        write_pose_frames(root / "pose-raw" / seq_id / "negative" / VIEW, single(walks[k][0]))
        if seq_id != "00002":  # masks for a subset of the ids
            write_mask_frames(root / "sil-raw" / seq_id / "negative" / VIEW, walks[k][1])
    part_file = tmp_path / "part.json"
    part = write_partition(part_file, ["00000", "00001"], ["00002"])
    res = invoke("silhouettes", "--input", root, "--partition", part_file, "--out", tmp_path / "sil", "-q")
    assert res.exit_code == 0, res.stderr
    assert "warning: partition part lists 1 ids that the input does not hold (00002)" in res.stderr
    m = load_manifest(tmp_path / "sil")
    assert m.partition_missing_ids == ("00002",) and len(m.records) == 2
    strict = invoke(
        "silhouettes",
        "--input",
        root,
        "--partition",
        part_file,
        "--out",
        tmp_path / "sil2",
        "-q",
        "--strict-partition",
    )
    assert strict.exit_code == 1 and strict.stderr.count("\n") == 1 and "00002" in strict.stderr
    assert "not on disk" in strict.stderr and not (tmp_path / "sil2").exists()
    report = inspect_path(root, part)
    assert not report["problems"]
    assert any(n.startswith("note: sil-raw lacks 1 partition id") for n in report["cross_check"])


# --- silhouettes: registered mode, border, pairing by frame name -------------------------------------------


def test_plain_silhouettes_count_frames_cut_by_the_border(walks, tmp_path: Path) -> None:
    _, masks = walks[0]
    cut = masks.copy()
    cut[:5, :, :40] = 0
    cut[:5, 100:300, :6] = 255  # a body part at the left edge in 5 frames
    write_mask_frames(tmp_path / "t" / "00000" / "negative" / VIEW, cut)
    res = build_silhouettes(tmp_path / "t", tmp_path / "sil", options=BuildOptions(quiet=True))
    expected = sum(
        int((m[0] >= 128).any() or (m[-1] >= 128).any() or (m[:, 0] >= 128).any() or (m[:, -1] >= 128).any())
        for m in cut
    )
    assert res.manifest.records[0].stats["border_frames"] == expected >= 5


def test_silhouettes_register_with_a_pose_tree_that_dropped_no_person_frames(walks, tmp_path: Path) -> None:
    """Masks 0..T-1; pose JSON frames 3 and 4 list nobody and 7 has no file: the pairs are made by frame
    number, the unpaired frames counted, and the kept frames equal a full registration's frames."""
    pose, masks = walks[3]
    masks = masks.copy()
    masks[12] = 0  # an empty mask: dropped by the low-mass rule, as plain mode does
    people = [[] if k in (3, 4) else [pose[k]] for k in range(FRAMES)]
    write_mask_frames(tmp_path / "sil" / "00000" / "negative" / VIEW, masks, padded=False)
    write_pose_frames(tmp_path / "pose" / "00000" / "negative" / VIEW, people, skip=(7,))
    write_pose_frames(tmp_path / "full" / "00000" / "negative" / VIEW, single(pose))
    opts = {"scale_mode": "per_frame", "options": BuildOptions(quiet=True)}
    res = build_registered_silhouettes(tmp_path / "sil", tmp_path / "pose", tmp_path / "reg", **opts)
    rec = res.manifest.records[0]
    kept = [k for k in range(FRAMES) if k not in (3, 4, 7, 12)]
    assert rec.frames == len(kept) and from_runs(rec.source_frames).tolist() == kept
    assert rec.unpaired_frames == {"no_pose_frame": 3} and rec.frames_dropped == {"low_mass": 1}
    assert res.manifest.params["frame_pairing"] == "by_frame_name"
    full = build_registered_silhouettes(tmp_path / "sil", tmp_path / "full", tmp_path / "reg-full", **opts)
    full_frames = _maps(full.path)[rec.key]
    full_ids = from_runs(full.manifest.records[0].source_frames).tolist()
    np.testing.assert_array_equal(_maps(res.path)[rec.key], full_frames[[full_ids.index(k) for k in kept]])
    # Stacking pairs them with maps of the same pose tree through the source frame ids.
    maps = build_heatmaps(
        tmp_path / "pose",
        tmp_path / "maps",
        preset("recommended", scale="per_frame"),
        options=BuildOptions(quiet=True),
    )
    assert from_runs(maps.manifest.records[0].source_frames).tolist() == [
        k for k in range(FRAMES) if k not in (3, 4, 7)
    ]
    stacked = build_stacked(
        tmp_path / "reg", tmp_path / "maps", tmp_path / "stacked", options=BuildOptions(quiet=True)
    )
    srec = stacked.manifest.records[0]
    assert srec.frames == len(kept) and srec.unpaired_frames == {"no_silhouette_frame": 1}
    arr = _maps(stacked.path)[srec.key]
    np.testing.assert_array_equal(arr[:, 0], _maps(res.path)[rec.key])
    map_ids = from_runs(maps.manifest.records[0].source_frames).tolist()
    np.testing.assert_array_equal(arr[:, 1:], _maps(maps.path)[rec.key][[map_ids.index(k) for k in kept]])


def test_registered_silhouettes_count_blank_frames_and_drop_low_mass(walks, tmp_path: Path) -> None:
    """Empty masks are dropped (low_mass) as in plain mode; the frames that still come out black are counted:
    one whose pose has no hip (no box to crop with) and one whose mask lies away from the pose's box."""
    pose, masks = walks[0]
    masks, pose = masks.copy(), pose.copy()
    masks[[2, 5]] = 0
    pose[8, 11] = 0.0  # left hip missing: the frame cannot be normalised (no KNN fill here)
    masks[10] = 0
    masks[10, :120, :120] = 255  # a blob in the image corner, far from the walker (another person, noise)
    write_mask_frames(tmp_path / "sil" / "00000" / "negative" / VIEW, masks)
    dump_array_pickle(pose, tmp_path / "pose" / "00000" / "negative" / VIEW / f"{VIEW}.pkl")
    res = build_registered_silhouettes(
        tmp_path / "sil",
        tmp_path / "pose",
        tmp_path / "reg",
        knn_fill=False,
        options=BuildOptions(quiet=True),
    )
    rec = res.manifest.records[0]
    assert rec.frames_dropped == {"low_mass": 2} and rec.frames == FRAMES - 2
    arr = _maps(res.path)[rec.key]
    black = np.flatnonzero(arr.reshape(len(arr), -1).max(axis=1) == 0).tolist()
    assert black == [8 - 2, 10 - 2]  # positions after the two dropped frames
    assert rec.stats["blank_frames"] == 2 and rec.stats["unnormalisable_frames"] == 1
    assert rec.stats["border_frames"] == 1  # the corner blob touches the image border
    assert res.manifest.params["frame_pairing"] == "equal_count_by_index"
    # A pose pickle carries no frame names: its frame count must equal the masks'.
    dump_array_pickle(pose[:-1], tmp_path / "short" / "00000" / "negative" / VIEW / f"{VIEW}.pkl")
    with pytest.raises(BadInputError, match="frames cannot be paired"):
        build_registered_silhouettes(
            tmp_path / "sil", tmp_path / "short", tmp_path / "reg2", options=BuildOptions(quiet=True)
        )


def test_source_frame_runs_round_trip() -> None:
    ids = np.array([0, 1, 2, 5, 6, 9])
    assert to_runs(ids) == ((0, 2), (5, 6), (9, 9))
    np.testing.assert_array_equal(from_runs(to_runs(ids)), ids)
    assert to_runs(np.array([0, 1, 10, 11, 2])) == ((0, 1), (10, 11), (2, 2))  # name order keeps its order
    with pytest.raises(BadInputError, match="distinct"):
        to_runs(np.array([3, 3]))


# --- schema 1 manifests stay readable ------------------------------------------------------------------


def test_a_schema_1_manifest_still_verifies(walks, tmp_path: Path) -> None:
    write_pose_frames(tmp_path / "t" / "00000" / "negative" / VIEW, single(walks[0][0]))
    res = build_heatmaps(
        tmp_path / "t", tmp_path / "maps", preset("recommended"), options=BuildOptions(quiet=True)
    )
    doc = json.loads((res.path / MANIFEST_NAME).read_text())
    as_schema_1(doc)
    body = {k: v for k, v in doc.items() if k not in ("provenance", "manifest_digest")}
    doc["manifest_digest"] = json_digest(body)
    (res.path / MANIFEST_NAME).write_text(json.dumps(doc))
    assert load_manifest(res.path).schema_version == 1
    out = invoke("verify-manifest", res.path, "--json")
    assert out.exit_code == 0, out.output


def test_preview_shows_each_view_and_finds_the_keypoints_of_kept_frames(walks, tmp_path: Path) -> None:
    from gaitprep.preview import _keypoints_on_output, write_preview

    for v, view in enumerate(("000_180", "180_000")):
        pose = walks[v][0]
        people = [[] if k in (3, 4) else [pose[k]] for k in range(FRAMES)]
        write_pose_frames(tmp_path / "t" / "00000" / "negative" / view, people, padded=False)
    res = build_heatmaps(
        tmp_path / "t", tmp_path / "maps", preset("recommended"), options=BuildOptions(quiet=True)
    )
    idx = np.arange(FRAMES - 2)
    for rec in res.manifest.records:
        kps = _keypoints_on_output(res.manifest, rec, idx)
        assert kps is not None and kps.shape == (FRAMES - 2, 17, 3)
    out = write_preview(res.path, tmp_path / "preview.png", sequences_per_class=2, frames=4)
    assert out["height"] > 2 * 64 * 3  # one row per view


def test_training_data_keeps_one_item_per_view_and_the_id_as_triplet_identity(walks, tmp_path: Path) -> None:
    from gaitmodels.data import ManifestData, load_split
    from gaitmodels.sampling import TripletSampler

    for k, seq_id in enumerate(["00000", "00001"]):
        for v, view in enumerate(("000_180", "180_000")):
            write_pose_frames(tmp_path / "t" / seq_id / "negative" / view, single(walks[2 * k + v][0]))
    part = write_partition(tmp_path / "part.json", ["00000", "00001"], [])
    build_heatmaps(
        tmp_path / "t",
        tmp_path / "maps",
        preset("recommended"),
        options=BuildOptions(partition=part, quiet=True),
    )
    split = load_split(ManifestData.open(tmp_path / "maps"), "train")
    assert split.keys == [f"{i}/negative/{v}" for i in ("00000", "00001") for v in ("000_180", "180_000")]
    assert split.ids == ["00000", "00000", "00001", "00001"]
    sampler = TripletSampler(split.ids, 2, 2, seed=0)
    assert sorted(len(v) for v in sampler.indices_by_id.values()) == [2, 2]


def test_person_selection_gives_the_same_bytes_whatever_the_worker_count(walks, tmp_path: Path) -> None:
    for k, seq_id in enumerate(["00000", "00001", "00002"]):
        pose = walks[k][0]
        by = bystander_of(pose, shift_x=-200.0)
        people = [[by[t], pose[t]] if t % 3 == 0 else [pose[t]] for t in range(FRAMES)]
        write_pose_frames(tmp_path / "t" / seq_id / "negative" / VIEW, people, padded=False)
    one = build_heatmaps(
        tmp_path / "t", tmp_path / "w1", preset("recommended"), options=BuildOptions(quiet=True)
    )
    two = build_heatmaps(
        tmp_path / "t", tmp_path / "w2", preset("recommended"), options=BuildOptions(workers=2, quiet=True)
    )
    assert one.manifest.content_digest == two.manifest.content_digest
    assert one.manifest.records == two.manifest.records
    assert one.manifest.counts["person_frames"] == {"multiple": 42, "not_first": 42}
    assert one.manifest.counts["unpadded_frame_names"] == 3


def test_recipes_carry_the_reader_options_and_strict_partition(walks, tmp_path: Path) -> None:
    from gaitprep.pipelines import run_pipeline

    pose = walks[0][0]
    by = bystander_of(pose, shift_x=220.0)
    write_pose_frames(
        tmp_path / "pose-raw" / "00000" / "negative" / VIEW, [[by[t], pose[t]] for t in range(FRAMES)]
    )
    write_partition(tmp_path / "part.json", ["00000"], ["00001"])
    recipe = tmp_path / "r.yaml"
    text = (
        "name: r\ninputs:\n  pose: pose-raw\npartition: part.json\nread:\n  person: first\n  frame_order: lexical\n"
        "stages:\n  - name: maps\n    kind: skeleton_maps\n    input: pose\n    params:\n      preset: opengait\n"
    )
    recipe.write_text(text)
    run_pipeline(recipe, data_root=tmp_path, quiet=True)
    m = load_manifest(tmp_path / "datasets" / "maps")
    assert m.params["read"] == {"frame_order": "lexical", "person": "first"}
    assert m.partition_missing_ids == ("00001",)
    assert m.records[0].person_frames == {"multiple": FRAMES, "not_first": 0, "zero_entries": 0}
    recipe.write_text(
        text.replace("read:\n", "strict_partition: true\nread:\n").replace("name: maps", "name: maps2")
    )
    with pytest.raises(BadInputError, match="00001"):
        run_pipeline(recipe, data_root=tmp_path, quiet=True)


def test_a_real_release_with_both_views_unpadded_names_and_no_person_frames_builds_end_to_end(
    real_walking,
    tmp_path: Path,
) -> None:
    """The shape of a user's own cohort: each id walked toward and away from the camera (two view folders),
    frames named 0.json ... without padding, some frames with nobody. inspect finds no problem; maps, PAV
    and registered silhouettes build through the CLI with one sequence per view."""
    import dataclasses

    from tests.real_walking import write_real_release

    walks, ids, views, absent = [], [], [], []
    for k in range(3):
        for view, folder in (("front", "000_180"), ("back", "180_000")):
            w = real_walking[(view, True)][k]
            walks.append(dataclasses.replace(w, pose=w.pose[:30]))
            ids.append(f"{k:05d}")
            views.append(folder)
            absent.append(np.arange(30) % 9 == 4)
    labels = [lab for lab in ("positive", "negative", "neutral") for _ in range(2)]
    root = write_real_release(
        tmp_path / "release", walks, ids=ids, views=views, labels=labels, frame_name=str, no_person=absent
    )
    (part,) = root.glob("Scoliosis1K_*.json")
    report = invoke("inspect", root, "--partition", part, "-q", "--json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["problems"] == []
    for args in (
        (
            "render-heatmaps",
            "--input",
            root / "pose-raw",
            "--preset",
            "recommended",
            "--out",
            tmp_path / "maps",
        ),
        ("pav", "--input", root / "pose-raw", "--out", tmp_path / "pav"),
        ("silhouettes", "--input", root, "--register-with", root / "pose-raw", "--out", tmp_path / "sil"),
    ):
        res = invoke(*args, "--partition", part, "-q")
        assert res.exit_code == 0, res.stderr
    keys = [f"{i}/{lab}/{v}" for i, lab, v in zip(ids, labels, views, strict=True)]
    for name in ("maps", "pav", "sil"):
        m = load_manifest(tmp_path / name)
        assert sorted(r.key for r in m.records) == sorted(keys)
        assert all(r.unpadded_frame_names for r in m.records)
    sil = load_manifest(tmp_path / "sil")
    assert all(r.unpaired_frames == {"no_pose_frame": 3} and r.frames == 27 for r in sil.records)
    assert load_manifest(tmp_path / "maps").counts["frames_dropped"] == {"no_person": 18}


def test_frames_where_only_the_bystander_was_detected_are_dropped(walks, tmp_path: Path) -> None:
    pose, _ = walks[0]
    by = bystander_of(pose, shift_x=220.0)
    people = [[by[k], pose[k]] if k < 20 else [pose[k]] for k in range(FRAMES)]
    people[5], people[6] = [by[5]], [by[6]]  # the subject missed in two frames
    write_pose_frames(tmp_path / "t" / "00000" / "negative" / VIEW, people)
    res = build_poses(tmp_path / "t", tmp_path / "poses", options=BuildOptions(quiet=True))
    rec = res.manifest.records[0]
    assert rec.frames_dropped == {"no_subject": 2} and rec.person_frames["lost"] == 2
    got = read_sequence(res.path, rec, res.manifest.layout)["pose"]
    np.testing.assert_array_equal(got, np.delete(pose, [5, 6], axis=0).astype(np.float32))


def test_two_files_with_one_frame_number_are_reported_and_read_in_file_order(walks, tmp_path: Path) -> None:
    pose, _ = walks[0]
    folder = tmp_path / "t" / "00000" / "negative" / VIEW
    write_pose_frames(folder, single(pose[:12]), padded=False)
    (folder / "3.json").rename(folder / "03.json")
    (folder / "4.json").rename(folder / "3.json")
    problems = inspect_path(tmp_path / "t")["problems"]
    assert any("same frame number" in p for p in problems)
    res = build_heatmaps(
        tmp_path / "t", tmp_path / "maps", preset("recommended"), options=BuildOptions(quiet=True)
    )
    assert from_runs(res.manifest.records[0].source_frames).tolist() == list(range(12))
