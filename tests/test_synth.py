"""The synthetic release: exact layouts, determinism, class blocks, partition, and a visible class signal."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from gaitprep.errors import BadInputError
from gaitprep.io.safe_pickle import load_array_pickle
from gaitprep.ownership import TREE_MARKER, is_our_tree
from gaitprep.partition import load_partition
from gaitprep.silhouettes import pretreat_sequence
from gaitprep.skeleton import CLASS_ORDER
from gaitprep.synth.detector import detect
from gaitprep.synth.release import (
    BLOCK_ORDER,
    LAYOUTS,
    VIEW,
    choose_partition,
    class_blocks,
    ratio_code,
    write_release,
)
from gaitprep.synth.subject import make_subject
from gaitprep.synth.walker import render_silhouette, render_silhouettes, walk

SIZE = (160, 90)


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def seq_dirs(root: Path, layout: str) -> list[Path]:
    return sorted(p for p in (root / layout).glob("*/*/*") if p.is_dir())


def read_json_pose(folder: Path) -> np.ndarray:
    rows = []
    for path in sorted(folder.glob("*.json")):
        people = json.loads(path.read_text())["people"]
        if people:
            rows.append(np.array(people[0]["pose_keypoints_2d"], dtype=np.float64).reshape(17, 3))
    return np.stack(rows)


def read_masks(folder: Path) -> np.ndarray:
    return np.stack([cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(folder.glob("*.png"))])


# --- determinism ------------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_whatever_the_workers_and_other_seed_differs(tmp_path):
    kwargs = dict(sequences=4, frames=(5, 7), image_size=(96, 64), progress=False)
    a = write_release(tmp_path / "a", seed=5, **kwargs)
    b = write_release(tmp_path / "b", seed=5, workers=2, **kwargs)
    c = write_release(tmp_path / "c", seed=6, **kwargs)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")
    assert a["partition_sha256"] == b["partition_sha256"]
    assert a["records"] == b["records"]
    assert c["frames"] != a["frames"] or c["records"] != a["records"]


def test_sequences_do_not_depend_on_how_many_others_are_written(tmp_path):
    kwargs = dict(frames=(5, 7), image_size=(96, 64), seed=9, layouts=("pose-pkl",), progress=False)
    write_release(tmp_path / "small", sequences=6, **kwargs)
    write_release(tmp_path / "large", sequences=7, **kwargs)
    # id 00000 is positive in both, drawn from the generator seeded by (seed, 0)
    a = load_array_pickle(tmp_path / "small/pose-pkl/00000/positive" / VIEW / f"{VIEW}.pkl")
    b = load_array_pickle(tmp_path / "large/pose-pkl/00000/positive" / VIEW / f"{VIEW}.pkl")
    np.testing.assert_array_equal(a, b)


# --- layouts ------------------------------------------------------------------------------------------


def test_release_has_exactly_the_four_layouts_and_a_partition(synth_release):
    entries = sorted(p.name for p in synth_release.iterdir() if p.name != TREE_MARKER)
    assert entries == ["Scoliosis1K_118.json", *sorted(LAYOUTS)]
    assert is_our_tree(synth_release)  # the hidden marker that lets --force replace it
    for layout in LAYOUTS:
        dirs = seq_dirs(synth_release, layout)
        assert [d.parts[-3] for d in dirs] == [f"{i:05d}" for i in range(12)]
        assert {d.name for d in dirs} == {VIEW}
        assert all(d.parts[-2] in CLASS_ORDER for d in dirs)


def test_raw_frames_are_zero_padded_pngs_and_jsons_with_51_numbers(synth_release):
    for sil_dir, pose_dir in zip(
        seq_dirs(synth_release, "sil-raw"), seq_dirs(synth_release, "pose-raw"), strict=True
    ):
        pngs = sorted(p.name for p in sil_dir.iterdir())
        jsons = sorted(p.name for p in pose_dir.iterdir())
        t = len(pngs)
        assert 12 <= t <= 20
        assert pngs == [f"{k:06d}.png" for k in range(1, t + 1)]
        assert jsons == [f"{k:06d}.json" for k in range(1, t + 1)]
        mask = cv2.imread(str(sil_dir / pngs[0]), cv2.IMREAD_UNCHANGED)
        assert mask.dtype == np.uint8 and mask.shape == (90, 160)
        assert set(np.unique(read_masks(sil_dir)).tolist()) == {0, 255}
        doc = json.loads((pose_dir / jsons[0]).read_text())
        assert list(doc) == ["people"] and len(doc["people"]) == 1
        numbers = doc["people"][0]["pose_keypoints_2d"]
        assert len(numbers) == 51 and all(isinstance(v, float) for v in numbers)


def test_pickles_have_upstream_shapes_and_dtypes(synth_release):
    for sil_dir, pose_dir in zip(
        seq_dirs(synth_release, "sil-pkl"), seq_dirs(synth_release, "pose-pkl"), strict=True
    ):
        assert [p.name for p in sil_dir.iterdir()] == [f"{VIEW}.pkl"]
        sil = load_array_pickle(sil_dir / f"{VIEW}.pkl")
        pose = load_array_pickle(pose_dir / f"{VIEW}.pkl")
        raw_t = len(
            list((synth_release / "sil-raw" / sil_dir.relative_to(synth_release / "sil-pkl")).iterdir())
        )
        assert sil.dtype == np.uint8 and sil.shape == (raw_t, 64, 64)
        assert pose.dtype == np.float64 and pose.shape == (raw_t, 17, 3)


def test_pose_raw_json_and_pose_pkl_hold_the_same_numbers(synth_release):
    for pose_dir in seq_dirs(synth_release, "pose-raw"):
        rel = pose_dir.relative_to(synth_release / "pose-raw")
        pkl = load_array_pickle(synth_release / "pose-pkl" / rel / f"{VIEW}.pkl")
        np.testing.assert_array_equal(read_json_pose(pose_dir), pkl)


def test_sil_pkl_is_the_pretreatment_of_sil_raw(synth_release):
    for sil_dir in seq_dirs(synth_release, "sil-raw"):
        rel = sil_dir.relative_to(synth_release / "sil-raw")
        expected, drops = pretreat_sequence(read_masks(sil_dir))
        assert sum(drops.values()) == 0
        np.testing.assert_array_equal(
            load_array_pickle(synth_release / "sil-pkl" / rel / f"{VIEW}.pkl"), expected
        )


def test_missing_joints_are_zero_triples_and_others_look_like_a_detector(synth_release):
    poses = np.concatenate(
        [load_array_pickle(d / f"{VIEW}.pkl") for d in seq_dirs(synth_release, "pose-pkl")]
    )
    conf = poses[..., 2]
    missing = conf == 0.0
    assert 0 < missing.sum() < 0.05 * missing.size  # missing_rate 0.01 of ~3,000 joints
    assert np.all(poses[missing] == 0.0)
    present = conf[~missing]
    assert present.min() > 0.05 and present.max() < 1.0
    assert 0.85 < present.mean() < 0.92  # ~0.90 with 2 % low-confidence frames


def test_silhouettes_cover_the_shoulder_and_hip_keypoints(synth_release):
    on = total = 0
    for sil_dir in seq_dirs(synth_release, "sil-raw"):
        rel = sil_dir.relative_to(synth_release / "sil-raw")
        masks = read_masks(sil_dir)
        pose = load_array_pickle(synth_release / "pose-pkl" / rel / f"{VIEW}.pkl")
        for t in range(len(masks)):
            for j in (5, 6, 11, 12):
                x, y, c = pose[t, j]
                if c > 0.5:
                    total += 1
                    xi, yi = int(round(x)), int(round(y))
                    on += 0 <= yi < 90 and 0 <= xi < 160 and masks[t, yi, xi] == 255
    assert total > 500 and on / total > 0.95


def test_extra_rates_make_silhouette_and_pose_lengths_differ(tmp_path):
    s = write_release(
        tmp_path / "r", sequences=3, frames=(30, 30), image_size=SIZE, seed=1, no_person_rate=0.3,
        empty_mask_rate=0.3, progress=False,
    )  # fmt: skip
    for rec in s["records"]:
        rel = Path(rec["id"]) / rec["class"] / VIEW
        jsons = sorted((tmp_path / "r/pose-raw" / rel).glob("*.json"))
        with_person = sum(bool(json.loads(p.read_text())["people"]) for p in jsons)
        assert len(jsons) == 30 and 0 < with_person < 30
        assert load_array_pickle(tmp_path / "r/pose-pkl" / rel / f"{VIEW}.pkl").shape[0] == with_person
        sil = load_array_pickle(tmp_path / "r/sil-pkl" / rel / f"{VIEW}.pkl")
        assert sil.shape[0] == 30 - rec["drops"]["low_mass"] and 0 < rec["drops"]["low_mass"] < 30


# --- class blocks and partition -------------------------------------------------------------------------


def test_class_blocks_follow_the_real_id_layout():
    full = class_blocks(1493)
    assert full[:493] == ["positive"] * 493
    assert full[493:1293] == ["negative"] * 800
    assert full[1293:] == ["neutral"] * 200
    assert class_blocks(12) == ["positive"] * 4 + ["negative"] * 6 + ["neutral"] * 2
    assert class_blocks(3) == ["positive", "negative", "neutral"]
    assert class_blocks(6) == ["positive"] * 2 + ["negative"] * 2 + ["neutral"] * 2
    assert class_blocks(2) == ["positive", "negative"]
    assert class_blocks(1) == ["negative"]  # the largest block wins a single sequence
    with pytest.raises(BadInputError):
        class_blocks(0)


def test_fixture_ids_are_class_blocked(synth_release):
    classes = [d.parts[-2] for d in seq_dirs(synth_release, "pose-pkl")]
    firsts = [classes.index(c) for c in BLOCK_ORDER]
    assert firsts == sorted(firsts)
    assert classes == class_blocks(12)


@pytest.mark.parametrize(
    ("ratio", "code", "a"), [("1:1:2", "112", 187), ("1:1:8", "118", 75), ("1:1:16", "1116", 41)]
)
def test_partition_of_a_full_size_release_has_the_named_ratio(ratio, code, a):
    r, got_code = ratio_code(ratio)
    assert got_code == code
    labels = class_blocks(1493)
    train, test = choose_partition(labels, r, seed=0)
    by_class = {c: sum(labels[int(i)] == c for i in train) for c in CLASS_ORDER}
    assert by_class == {"positive": a, "neutral": a, "negative": r * a}
    assert sorted(train + test) == [f"{i:05d}" for i in range(1493)]
    assert abs(len(train) - 1493 / 2) < 0.05 * 1493
    assert choose_partition(labels, r, seed=0) == (train, test)
    assert choose_partition(labels, r, seed=1)[0] != train


def test_fixture_partition_is_upstream_format_with_every_class_in_both_splits(synth_release):
    path = synth_release / "Scoliosis1K_118.json"
    doc = json.loads(path.read_text())
    assert list(doc) == ["TRAIN_SET", "TEST_SET"]
    part = load_partition(path)
    classes = {d.parts[-3]: d.parts[-2] for d in seq_dirs(synth_release, "pose-pkl")}
    assert sorted(part.train + part.test) == sorted(classes)
    for ids in (part.train, part.test):
        assert {classes[i] for i in ids} == set(CLASS_ORDER)
    train = {c: sum(classes[i] == c for i in part.train) for c in CLASS_ORDER}
    assert train["positive"] == train["neutral"] == 1  # 1 : 1 : R, capped by 6 negatives
    assert train["negative"] == 5


@pytest.mark.parametrize("bad", ["1:1:0", "2:1:8", "1:1", "1:1:x"])
def test_bad_ratio_is_refused(bad):
    with pytest.raises(BadInputError, match="1:1:R"):
        ratio_code(bad)


# --- the class signal -------------------------------------------------------------------------------


def _shoulder_diff(pose: np.ndarray) -> float:
    valid = pose[..., 2] > 0
    ok = valid[:, 5] & valid[:, 6]
    height = np.array([np.ptp(p[v, 1]) for p, v in zip(pose, valid, strict=True)])
    return float(np.mean(np.abs(pose[ok, 5, 1] - pose[ok, 6, 1]) / height[ok]))


def test_shoulder_height_difference_orders_positive_neutral_negative():
    means = {}
    for label in CLASS_ORDER:
        rng = np.random.default_rng(["positive", "neutral", "negative"].index(label) + 100)
        diffs = []
        for _ in range(15):
            subject = make_subject(rng, label)
            pose, _ = walk(subject, 30, (640, 360), rng)
            diffs.append(_shoulder_diff(detect(pose, rng)))
        means[label] = float(np.mean(diffs))
    assert means["positive"] > means["neutral"] > means["negative"]
    assert 0.03 < means["positive"] < 0.07
    assert 0.012 < means["neutral"] < 0.035
    assert means["negative"] < 0.018


def test_fixture_positives_have_larger_shoulder_difference_than_negatives(synth_release):
    per_class: dict[str, list[float]] = {c: [] for c in CLASS_ORDER}
    for d in seq_dirs(synth_release, "pose-pkl"):
        per_class[d.parts[-2]].append(_shoulder_diff(load_array_pickle(d / f"{VIEW}.pkl")))
    assert np.mean(per_class["positive"]) > np.mean(per_class["neutral"]) > np.mean(per_class["negative"])


# --- the walker ---------------------------------------------------------------------------------------


def test_walk_goes_toward_then_away_with_perspective_scale():
    rng = np.random.default_rng(0)
    pose, geom = walk(make_subject(rng, "negative"), 40, (640, 360), rng)
    assert pose.shape == (40, 17, 3) and pose.dtype == np.float64
    assert np.all(pose[..., 2] == 1.0)
    assert geom.points.shape == (40, 21, 2) and geom.facing_camera[0] and not geom.facing_camera[-1]
    # facing the camera the subject's left shoulder is on the image right; walking away, on the left
    assert pose[0, 5, 0] > pose[0, 6, 0] and pose[-1, 5, 0] < pose[-1, 6, 0]
    height = np.ptp(pose[..., 1], axis=1)
    nearest = int(np.argmin(geom.depth))
    assert 10 < nearest < 30
    assert height[nearest] > 1.8 * height[0] and height[nearest] > 1.8 * height[-1]
    assert np.all(pose[..., 0] > 0) and np.all(pose[..., 0] < 640)
    assert np.all(pose[..., 1] > 0) and np.all(pose[..., 1] < 360)


def test_rendered_silhouette_is_binary_and_covers_every_true_keypoint_of_the_body():
    rng = np.random.default_rng(1)
    pose, geom = walk(make_subject(rng, "positive"), 12, (320, 180), rng)
    masks = render_silhouettes(geom)
    assert masks.shape == (12, 180, 320) and masks.dtype == np.uint8
    assert set(np.unique(masks).tolist()) == {0, 255}
    np.testing.assert_array_equal(masks[3], render_silhouette(geom, 3))
    xy = np.round(pose[:, 5:, :2]).astype(int)  # body joints 5-16
    t = np.arange(12)[:, None]
    assert np.all(masks[t, xy[..., 1], xy[..., 0]] == 255)


def test_make_subject_rejects_unknown_class():
    with pytest.raises(BadInputError):
        make_subject(np.random.default_rng(0), "critical")
    assert make_subject(np.random.default_rng(0), "Positive").label == "positive"


# --- writing -------------------------------------------------------------------------------------------


def test_refuses_a_non_empty_output_unless_forced(tmp_path):
    out = tmp_path / "rel"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    kwargs = dict(sequences=3, frames=(3, 3), image_size=(64, 48), seed=0, layouts=("pose-pkl",))
    with pytest.raises(BadInputError, match="not empty"):
        write_release(out, **kwargs)
    assert (out / "keep.txt").read_text() == "x"
    # --force never replaces a folder gaitprep did not write.
    with pytest.raises(
        BadInputError, match="--force replaces only a tree gaitprep wrote.*no gaitprep marker"
    ):
        write_release(out, force=True, **kwargs)
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "x"
    (out / "keep.txt").unlink()
    write_release(out, **kwargs)
    first = {p.relative_to(out).as_posix() for p in out.rglob("*")}
    # A release synth wrote is replaced with --force (here by another seed's)...
    write_release(out, force=True, **{**kwargs, "seed": 1})
    assert {p.relative_to(out).as_posix() for p in out.rglob("*")} == first
    assert [p.name for p in tmp_path.iterdir()] == ["rel"]  # no temporary directory left behind
    # ...but not once someone put a file of their own into it.
    (out / "pose-pkl" / "notes.txt").write_text("mine")
    with pytest.raises(BadInputError, match="holds files gaitprep did not write"):
        write_release(out, force=True, **kwargs)
    assert (out / "pose-pkl" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "override",
    [
        {"sequences": 0},
        {"frames": (5, 3)},
        {"layouts": ("sil-raw", "zarr")},
        {"missing_rate": 1.5},
        {"workers": 0},
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path, override):
    kwargs = dict(sequences=3, frames=(3, 3), image_size=(64, 48), seed=0) | override
    with pytest.raises(BadInputError):
        write_release(tmp_path / "rel", **kwargs)
    assert not (tmp_path / "rel").exists()


def test_cli_synth_writes_a_release_and_prints_one_json_document(tmp_path):
    from gaitprep.cli import main

    out = tmp_path / "rel"
    args = ["synth", "--out", str(out), *"--sequences 3 --frames 4-5 --size 96x64 --seed 2".split()]
    result = CliRunner().invoke(main, [*args, "--ratio", "1:1:2", "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["sequences"] == 3 and doc["classes"] == {"negative": 1, "neutral": 1, "positive": 1}
    assert doc["partition"] == str(out / "Scoliosis1K_112.json")
    assert doc["partition_sha256"] == hashlib.sha256((out / "Scoliosis1K_112.json").read_bytes()).hexdigest()
    assert doc["splits"]["train"]["total"] + doc["splits"]["test"]["total"] == 3
    again = CliRunner().invoke(main, [*args, "--quiet"])
    assert again.exit_code == 1 and "not empty" in again.output
    bad = CliRunner().invoke(main, ["synth", "--out", str(tmp_path / "x"), "--size", "96by64"])
    assert bad.exit_code == 2 and "WIDTHxHEIGHT" in bad.output
