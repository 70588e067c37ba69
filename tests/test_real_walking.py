"""The BVH reader, the LaFAN1 download and the real-walking converter (``gaitprep.synth.bvh/lafan1/realwalk``).

The BVH and download tests run offline on hand-written inputs; the LaFAN1 tests use the session fixture
``real_walking`` (tests/real_walking.py) and are skipped with a reason when the take cannot be fetched.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from gaitprep.errors import BadInputError
from gaitprep.io.safe_pickle import load_array_pickle
from gaitprep.partition import load_partition
from gaitprep.synth import lafan1 as lafan1_module
from gaitprep.synth.bvh import forward_kinematics, parse_bvh, world_transforms
from gaitprep.synth.lafan1 import BVHTOOLS_MEMBER, RealWalkingUnavailable, fetch_lafan1_bvh
from gaitprep.synth.realwalk import (
    WALKING_RUNS,
    RealWalk,
    load_motion,
    silhouettes_from_pose,
    walking_sequences,
)
from tests.real_walking import write_real_release

# --- BVH parser and forward kinematics on a hand-written file --------------------------------------------

TINY_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Chest
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    JOINT Head
    {
      OFFSET 0 5 0
      CHANNELS 3 Zrotation Yrotation Xrotation
      End Site
      {
        OFFSET 0 1 0
      }
    }
  }
  JOINT Leg
  {
    OFFSET 2 0 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 -4 0
    }
  }
}
MOTION
Frames: 4
Frame Time: 0.5
1 2 3 0 0 0 0 0 0 0 0 0 0 0 0
0 0 0 90 0 0 0 0 0 0 0 0 0 0 0
0 0 0 0 90 0 0 0 90 0 0 0 0 0 0
0 0 0 90 0 90 0 0 0 0 0 0 0 0 0
"""

# Positions worked out by hand. Frame 1: Rz(90) maps x -> y, y -> -x. Frame 2: root Ry(90) (x -> -z,
# z -> x), chest Rx(90) (y -> z): the head offset (0,5,0) -> (0,0,5) -> (5,0,0). Frame 3: R = Rz(90)·Rx(90)
# (intrinsic Z, Y, X): the chest offset (0,10,0) -> Rx -> (0,0,10) -> Rz -> (0,0,10); the other order
# (Rx·Rz) would give (-10,0,0).
TINY_EXPECTED = {
    "Hips": [(1, 2, 3), (0, 0, 0), (0, 0, 0), (0, 0, 0)],
    "Chest": [(1, 12, 3), (-10, 0, 0), (0, 10, 0), (0, 0, 10)],
    "Head": [(1, 17, 3), (-15, 0, 0), (5, 10, 0), (0, 0, 15)],
    "Leg": [(3, 2, 3), (0, 2, 0), (0, 0, -2), (0, 2, 0)],
}


def test_parse_bvh_reads_hierarchy_channels_and_frames():
    motion = parse_bvh(TINY_BVH)
    assert motion.names == ("Hips", "Chest", "Head", "Leg")
    assert motion.parents == (-1, 0, 1, 0)
    assert motion.offsets.tolist() == [[0, 0, 0], [0, 10, 0], [0, 5, 0], [2, 0, 0]]
    assert motion.channels[0] == (
        "Xposition",
        "Yposition",
        "Zposition",
        "Zrotation",
        "Yrotation",
        "Xrotation",
    )
    assert motion.channels[1:] == (("Zrotation", "Yrotation", "Xrotation"),) * 3
    assert motion.frames.dtype == np.float64 and motion.frames.shape == (4, 15)
    assert motion.frame_time == 0.5
    assert motion.frames[3, 3:6].tolist() == [90, 0, 90]


def test_forward_kinematics_matches_hand_computed_positions():
    positions = forward_kinematics(parse_bvh(TINY_BVH))
    for name, expected in TINY_EXPECTED.items():
        np.testing.assert_allclose(positions[name], np.array(expected, dtype=float), atol=1e-12, err_msg=name)


def test_forward_kinematics_selects_frames_and_returns_world_rotations():
    motion = parse_bvh(TINY_BVH)
    positions, rotations = world_transforms(motion, [3, 1])
    np.testing.assert_allclose(positions["Head"], [[0, 0, 15], [-15, 0, 0]], atol=1e-12)
    # Frame 3's root rotation Rz(90)·Rx(90) as a matrix: columns are the images of x, y, z.
    np.testing.assert_allclose(rotations["Hips"][0], [[0, 0, 1], [1, 0, 0], [0, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(forward_kinematics(motion, slice(2, 3))["Leg"], [[0, 0, -2]], atol=1e-12)


def _replace_motion(rows: str, frames: int = 1) -> str:
    head = TINY_BVH.split("MOTION")[0]
    return f"{head}MOTION\nFrames: {frames}\nFrame Time: 0.5\n{rows}\n"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "no MOTION"),
        (TINY_BVH.replace("HIERARCHY", "HIERARCH"), "expected 'HIERARCHY'"),
        (
            TINY_BVH.replace(
                "CHANNELS 3 Zrotation Yrotation Xrotation\n    JOINT Head",
                "CHANNELS 3 Zrotation Yrotation Wrotation\n    JOINT Head",
            ),
            "unknown channel",
        ),
        (TINY_BVH.replace("OFFSET 0 10 0", "OFFSET 0 ten 0"), "not a number"),
        (TINY_BVH.replace("OFFSET 0 10 0", "OFFSET 0 inf 0"), "not finite"),
        (TINY_BVH.replace("Frames: 4", "Frames: 5"), "declares 5 frames but holds 4"),
        (_replace_motion("1 2 3 0 0 0 0 0 0 0 0 0 0 0"), "14 numbers, expected 15"),
        (_replace_motion("1 2 3 0 0 0 0 0 0 0 0 0 0 0 x"), "not a number"),
        (_replace_motion("1 2 3 0 0 0 0 0 0 0 0 0 0 0 nan"), "not finite"),
        (TINY_BVH.replace("Frame Time: 0.5", "Frame Time: -1"), "positive"),
        (TINY_BVH.split("MOTION")[0] + "MOTION\n", "lacks"),
        (TINY_BVH.replace("JOINT Leg", "JOINT Chest"), "repeated joint name"),
        (TINY_BVH.split("MOTION")[0].rsplit("}", 1)[0] + "MOTION\nFrames: 0\nFrame Time: 1\n", "ends early"),
    ],
)
def test_parse_bvh_rejects_malformed_text_with_one_line(text: str, needle: str):
    with pytest.raises(BadInputError) as info:
        parse_bvh(text)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_parse_bvh_bounds_joint_count_and_size(monkeypatch: pytest.MonkeyPatch):
    joints = "".join(f"JOINT J{k}\n{{\nOFFSET 0 1 0\n}}\n" for k in range(300))
    text = f"HIERARCHY\nROOT R\n{{\nOFFSET 0 0 0\n{joints}}}\nMOTION\nFrames: 0\nFrame Time: 1\n"
    with pytest.raises(BadInputError, match="more than 256 joints"):
        parse_bvh(text)
    from gaitprep.synth import bvh

    monkeypatch.setattr(bvh, "MAX_TEXT_CHARS", 100)
    with pytest.raises(BadInputError, match="larger than 100 characters"):
        parse_bvh(TINY_BVH)


# --- the download, offline: a fake pip, a fake sdist -----------------------------------------------------


def _sdist(path: Path, content: bytes, *, symlink: bool = False) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(BVHTOOLS_MEMBER)
        if symlink:
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        other = tarfile.TarInfo("bvhtools-1.6.0/setup.py")
        other.size = 4
        tar.addfile(other, io.BytesIO(b"pass"))
    return path


def _fake_pip(monkeypatch: pytest.MonkeyPatch, tarball: Path | None, log: list[str]) -> None:
    """pip replaced by a Python one-liner that copies ``tarball`` into the destination (or fails)."""

    def command(dest: Path) -> list[str]:
        log.append(str(dest))
        if tarball is None:
            return [sys.executable, "-c", "import sys; sys.exit('ERROR: no network here')"]
        code = f"import shutil; shutil.copy({str(tarball)!r}, {str(dest / 'bvhtools-1.6.0.tar.gz')!r})"
        return [sys.executable, "-c", code]

    monkeypatch.setattr(lafan1_module, "pip_download_command", command)


def _pin(monkeypatch: pytest.MonkeyPatch, content: bytes) -> None:
    import hashlib

    monkeypatch.setattr(lafan1_module, "LAFAN1_SHA256", hashlib.sha256(content).hexdigest())
    monkeypatch.setattr(lafan1_module, "LAFAN1_SIZE", len(content))


def test_fetch_downloads_checks_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    content = TINY_BVH.encode()
    _pin(monkeypatch, content)
    log: list[str] = []
    _fake_pip(monkeypatch, _sdist(tmp_path / "sdist.tar.gz", content), log)
    path = fetch_lafan1_bvh(tmp_path / "cache")
    assert path == tmp_path / "cache" / "lafan1" / "test.bvh"
    assert path.read_bytes() == content
    assert sorted(p.name for p in path.parent.iterdir()) == ["test.bvh"]  # no temporary left behind
    assert fetch_lafan1_bvh(tmp_path / "cache") == path
    assert len(log) == 1  # the second call used the cache


def test_fetch_uses_the_cache_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    content = TINY_BVH.encode()
    _pin(monkeypatch, content)
    (tmp_path / "env" / "lafan1").mkdir(parents=True)
    (tmp_path / "env" / "lafan1" / "test.bvh").write_bytes(content)
    monkeypatch.setenv("GAITPREP_CACHE", str(tmp_path / "env"))
    _fake_pip(monkeypatch, None, log := [])
    assert fetch_lafan1_bvh() == tmp_path / "env" / "lafan1" / "test.bvh"
    assert log == []


def test_fetch_reports_an_unreachable_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _fake_pip(monkeypatch, None, [])
    with pytest.raises(RealWalkingUnavailable) as info:
        fetch_lafan1_bvh(tmp_path / "cache")
    assert "no network here" in info.value.reason
    assert not (tmp_path / "cache" / "lafan1" / "test.bvh").exists()


def test_fetch_refuses_a_wrong_checksum_and_keeps_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _pin(monkeypatch, b"the expected bytes")
    stale = tmp_path / "cache" / "lafan1" / "test.bvh"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"a truncated download")
    _fake_pip(monkeypatch, _sdist(tmp_path / "sdist.tar.gz", b"other bytes"), [])
    with pytest.raises(RealWalkingUnavailable, match="sha256"):
        fetch_lafan1_bvh(tmp_path / "cache")
    assert stale.read_bytes() == b"a truncated download"
    assert sorted(p.name for p in stale.parent.iterdir()) == ["test.bvh"]


def test_fetch_reads_only_a_regular_file_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _fake_pip(monkeypatch, _sdist(tmp_path / "sdist.tar.gz", b"", symlink=True), [])
    with pytest.raises(RealWalkingUnavailable, match="not a plain small file"):
        fetch_lafan1_bvh(tmp_path / "cache")


# --- LaFAN1 ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lafan1(real_walking) -> Path:
    return fetch_lafan1_bvh()


def test_lafan1_take_has_the_documented_shape(lafan1: Path):
    motion = load_motion(lafan1)
    assert motion.n_frames == 7184 and motion.n_channels == 69
    assert len(motion.names) == 22 and motion.names[0] == "Hips"
    assert motion.frame_time == pytest.approx(1 / 30, abs=1e-5)


def test_lafan1_ankles_and_hips_have_real_body_dimensions(lafan1: Path):
    frames = np.concatenate([np.arange(a, b) for a, b in WALKING_RUNS])
    p = forward_kinematics(load_motion(lafan1), frames)
    lower_ankle = np.minimum(p["LeftFoot"][:, 1], p["RightFoot"][:, 1])  # cm above the ground (y = 0)
    assert 5.5 <= np.percentile(lower_ankle, 5) <= 7.0
    assert 6.0 <= np.median(lower_ankle) <= 8.0
    hip_gap = np.linalg.norm(p["LeftUpLeg"] - p["RightUpLeg"], axis=1)
    assert np.median(hip_gap) == pytest.approx(21.1, abs=0.3)


def test_lafan1_forward_kinematics_equals_an_independent_scipy_reference(lafan1: Path):
    """Per-frame recursion with scipy's intrinsic ``"ZYX"`` Euler rotations (upper case = intrinsic)."""
    from scipy.spatial.transform import Rotation

    motion = load_motion(lafan1)
    frames = [0, 2631, 4100, 7183]
    ours = forward_kinematics(motion, frames)
    cols = motion.channel_columns()
    for row, f in enumerate(frames):
        world: list[tuple[np.ndarray, np.ndarray]] = []
        for j, parent in enumerate(motion.parents):
            values = motion.frames[f, cols[j]]
            local = Rotation.from_euler("ZYX", values[-3:], degrees=True).as_matrix()
            if parent < 0:
                rot, pos = local, values[:3]
            else:
                prot, ppos = world[parent]
                rot, pos = prot @ local, ppos + prot @ motion.offsets[j]
            world.append((rot, pos))
            np.testing.assert_allclose(ours[motion.names[j]][row], pos, atol=1e-9, err_msg=motion.names[j])


def _body_height(pose: np.ndarray) -> np.ndarray:
    """Per frame, the vertical extent of the 17 keypoints in pixels."""
    return pose[..., 1].max(axis=1) - pose[..., 1].min(axis=1)


@pytest.mark.parametrize("view", ["front", "back"])
@pytest.mark.parametrize("travel", [False, True])
def test_real_walks_are_inside_the_image_in_coco_order(real_walking, view: str, travel: bool):
    walks = real_walking[(view, travel)]
    assert len(walks) == len(WALKING_RUNS)
    for walk, (start, stop) in zip(walks, WALKING_RUNS, strict=True):
        pose = walk.pose
        assert pose.dtype == np.float64 and pose.shape == (walk.n_frames, 17, 3)
        assert walk.source_frames[1] - walk.source_frames[0] == walk.n_frames
        assert start <= walk.source_frames[0] < walk.source_frames[1] <= stop
        assert (pose[..., 0] > 0).all() and (pose[..., 0] < 1280).all()
        assert (pose[..., 1] > 0).all() and (pose[..., 1] < 720).all()
        # COCO left is the subject's left: on the image right when facing the camera.
        facing = 1 if view == "front" else -1
        for left, right in ((5, 6), (11, 12), (13, 14)):
            assert (facing * (pose[:, left, 0] - pose[:, right, 0]) > 0).mean() >= 0.95
        # Head upright above shoulders above hips above ankles.
        assert (pose[:, 0, 1] < pose[:, 5, 1]).all() and (pose[:, 5, 1] < pose[:, 11, 1]).all()
        assert (pose[:, 11, 1] < pose[:, 15, 1]).all()
        # The face looks along the walking line: the nose sits between the ears.
        ear_mid = (pose[:, 3, 0] + pose[:, 4, 0]) / 2
        assert np.median(np.abs(pose[:, 0, 0] - ear_mid)) < 0.15 * np.median(
            np.abs(pose[:, 5, 0] - pose[:, 6, 0])
        )


@pytest.mark.parametrize("view", ["front", "back"])
def test_fixed_distance_keeps_the_body_size(real_walking, view: str):
    for walk, run in zip(real_walking[(view, False)], WALKING_RUNS, strict=True):
        height = _body_height(walk.pose)
        assert 280 <= height.min() and height.max() <= 360, walk.name
        assert np.all(walk.distance == 500.0)
        assert walk.source_frames == run  # the whole run


@pytest.mark.parametrize("view", ["front", "back"])
def test_travel_grows_or_shrinks_the_body_about_two_fold(real_walking, view: str):
    for walk in real_walking[(view, True)]:
        height = _body_height(walk.pose)
        first, last = height[:15].mean(), height[-15:].mean()
        growth = last / first if view == "front" else first / last  # front approaches, back recedes
        assert growth >= 1.6, walk.name
        assert 180 <= height.min() and height.max() <= 400, walk.name
        assert walk.n_frames >= 90
        step = np.diff(walk.distance) * (1 if view == "back" else -1)
        assert (step > 0).mean() >= 0.9  # steady progress toward / away from the camera


def test_confidences_look_like_a_detector(real_walking):
    front = np.concatenate([w.pose for w in real_walking[("front", False)]])
    back = np.concatenate([w.pose for w in real_walking[("back", False)]])
    conf = front[..., 2]
    assert conf.mean() == pytest.approx(0.90, abs=0.01) and conf.std() == pytest.approx(0.03, abs=0.01)
    assert conf.min() >= 0.75 and conf.max() <= 0.99
    face = back[:, :5, 2]
    assert face.min() >= 0.3 and face.max() <= 0.5
    arms = back[:, 7:11, 2]
    hidden = arms[arms < 0.7]
    assert 0.01 <= hidden.size / arms.size <= 0.2  # an arm swinging in front of the torso, seen from behind
    assert hidden.mean() == pytest.approx(0.5, abs=0.02)
    assert back[:, 11:, 2].min() >= 0.75  # legs are never behind the torso


def test_walking_sequences_are_deterministic(lafan1: Path, real_walking):
    again = walking_sequences(lafan1, "back", True)
    for a, b in zip(again, real_walking[("back", True)], strict=True):
        assert a.name == b.name and a.source_frames == b.source_frames
        assert a.pose.tobytes() == b.pose.tobytes()
    other_seed = walking_sequences(lafan1, "back", True, seed=1)
    assert not np.array_equal(other_seed[0].pose[..., 2], again[0].pose[..., 2])
    np.testing.assert_array_equal(other_seed[0].pose[..., :2], again[0].pose[..., :2])


def test_walking_sequences_rejects_bad_arguments(lafan1: Path):
    with pytest.raises(BadInputError, match="view"):
        walking_sequences(lafan1, "side", False)  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="outside"):
        walking_sequences(lafan1, "front", False, runs=[(7000, 7300)])


# --- silhouettes ----------------------------------------------------------------------------------------


def test_silhouettes_cover_every_keypoint_and_scale_with_distance(real_walking):
    walk = real_walking[("front", True)][0]
    pose = walk.pose[[0, walk.n_frames // 2, -1]]
    masks = silhouettes_from_pose(pose)
    assert masks.dtype == np.uint8 and masks.shape == (3, 720, 1280)
    assert set(np.unique(masks)) == {0, 255}
    xy = np.round(pose[..., :2]).astype(int)
    for t in range(3):
        assert (masks[t, xy[t, :, 1], xy[t, :, 0]] == 255).all()
        import cv2

        count, _ = cv2.connectedComponents(masks[t])
        assert count == 2  # background + one body
    area = (masks > 0).sum(axis=(1, 2))
    height = _body_height(pose)
    assert area[2] / area[0] == pytest.approx((height[2] / height[0]) ** 2, rel=0.15)


def test_silhouettes_reject_a_bad_pose():
    with pytest.raises(BadInputError):
        silhouettes_from_pose(np.zeros((2, 16, 3)))
    with pytest.raises(BadInputError):
        silhouettes_from_pose(np.full((1, 17, 3), np.nan))


# --- the release writer ---------------------------------------------------------------------------------


def _short(walk: RealWalk, frames: int) -> RealWalk:
    return RealWalk(walk.name, walk.pose[:frames].copy(), (walk.source_frames[0], walk.source_frames[0] + frames),
                    walk.view, walk.travel, walk.distance[:frames].copy())  # fmt: skip


def test_write_real_release_writes_the_release_layouts(real_walking, tmp_path: Path):
    walks = [_short(w, 6) for w in real_walking[("front", False)] + real_walking[("back", True)]]
    root = write_real_release(tmp_path / "rel", walks, ("pose-raw", "pose-pkl", "sil-raw", "sil-pkl"))
    first = root / "pose-raw" / "00000" / "positive" / "000_180"
    assert sorted(p.name for p in first.iterdir()) == [f"{k:06d}.json" for k in range(1, 7)]
    doc = json.loads((first / "000003.json").read_text())
    assert doc["people"][0]["pose_keypoints_2d"] == walks[0].pose[2].reshape(-1).tolist()
    pkl = load_array_pickle(root / "pose-pkl" / "00000" / "positive" / "000_180" / "000_180.pkl")
    assert pkl.tobytes() == walks[0].pose.tobytes()
    assert len(list((root / "sil-raw").rglob("*.png"))) == 6 * len(walks)
    assert load_array_pickle(next((root / "sil-pkl").rglob("*.pkl"))).shape == (6, 64, 64)
    part = load_partition(root / "Scoliosis1K_118.json")
    assert sorted(part.train + part.test) == [f"{i:05d}" for i in range(8)]

    from click.testing import CliRunner

    from gaitprep.cli import main

    result = CliRunner().invoke(main, ["inspect", str(root), "--json", "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cross_check"] == []
    for layout in ("pose-raw", "pose-pkl", "sil-raw", "sil-pkl"):
        assert report["layouts"][layout]["problems"] == [], layout
        assert report["layouts"][layout]["sequences"] == 8
    assert report["layouts"]["pose-raw"]["frames_per_sequence"]["total"] == 48


def test_write_real_release_puts_several_views_under_one_id(real_walking, tmp_path: Path):
    walks = [_short(real_walking[("front", False)][0], 3), _short(real_walking[("back", False)][0], 3)]
    root = write_real_release(
        tmp_path / "rel", walks, ("pose-pkl",), ids=["00007", "00007"], labels=["neutral"] * 2,
        views=["000_180", "180_000"],
    )  # fmt: skip
    found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.pkl"))
    assert found == [
        "pose-pkl/00007/neutral/000_180/000_180.pkl",
        "pose-pkl/00007/neutral/180_000/180_000.pkl",
    ]
    part = load_partition(root / "Scoliosis1K_118.json")
    assert part.train + part.test == ("00007",)


def test_write_real_release_names_frames_and_drops_no_person_frames(real_walking, tmp_path: Path):
    walk = _short(real_walking[("back", False)][1], 12)
    empty = np.zeros(12, dtype=bool)
    empty[[0, 10]] = True
    root = write_real_release(
        tmp_path / "rel",
        [walk],
        ("pose-raw", "pose-pkl"),
        frame_name=str,
        no_person=[empty],
        labels=["positive"],
    )
    folder = root / "pose-raw" / "00000" / "positive" / "000_180"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{k}.json" for k in range(12))
    assert json.loads((folder / "10.json").read_text()) == {"people": []}
    assert (
        json.loads((folder / "11.json").read_text())["people"][0]["pose_keypoints_2d"]
        == walk.pose[11].ravel().tolist()
    )
    pkl = load_array_pickle(root / "pose-pkl" / "00000" / "positive" / "000_180" / "000_180.pkl")
    np.testing.assert_array_equal(pkl, walk.pose[~empty])


def test_the_session_fixture_is_read_only(real_walking):
    with pytest.raises(ValueError):
        real_walking[("front", False)][0].pose[0, 0, 0] = 1.0
