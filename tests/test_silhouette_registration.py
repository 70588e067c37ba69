"""Silhouettes registered with the skeleton maps' hip-centred, span-scaled full-canvas box."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gaitprep.errors import BadInputError
from gaitprep.keypoints import frame_transforms
from gaitprep.silhouette_registration import FramePairing, pair_frames, register_silhouettes

IMG_H, IMG_W = 480, 640


def upright_pose(hip=(320.0, 250.0), height=340.0) -> np.ndarray:
    """One frame ``(1, 17, 3)``: hips at ``hip``, eyes 170/340 of ``height`` above, ankles 170/340 below."""
    hx, hy = hip
    k = height / 340.0
    rel = [
        (0, -165), (-5, -170), (5, -170), (-10, -166), (10, -166),  # head: eyes on top
        (-40, -130), (40, -130), (-45, -80), (45, -80), (-48, -35), (48, -35),  # arms
        (-20, 0), (20, 0), (-18, 85), (18, 85), (-17, 170), (17, 170),  # hips, knees, ankles
    ]  # fmt: skip
    pose = np.ones((1, 17, 3))
    pose[0, :, 0] = [hx + k * dx for dx, _ in rel]
    pose[0, :, 1] = [hy + k * dy for _, dy in rel]
    return pose


def transforms(pose: np.ndarray, scale_mode: str = "per_sequence"):
    """The skeleton maps' per-frame (centre, scale, valid) for the default 17-joint span, 128 canvas."""
    return frame_transforms(pose, scale_mode=scale_mode, span_joints=tuple(range(17)), canvas=128)


def centroid(img: np.ndarray) -> tuple[float, float]:
    """Intensity centroid (x, y) in pixel-centre coordinates."""
    w = img.astype(np.float64)
    ys, xs = np.indices(img.shape)
    return float((w * xs).sum() / w.sum()), float((w * ys).sum() / w.sum())


def expected_output_xy(p, centre, scale, canvas=128, size=64):
    """Where image position p lands in the output: canvas q, then the area downsample's centre mapping."""
    q = (np.asarray(p, float) - centre) * scale + canvas // 2
    return (q + 0.5) * size / canvas - 0.5


def test_rectangle_from_shoulders_to_ankles_registers_on_the_hips_with_span_scaling():
    pose = upright_pose().repeat(3, axis=0)
    hx, hy = pose[0, 11:13, :2].mean(axis=0)
    top, bottom = int(pose[0, 5, 1]), int(pose[0, 15, 1])  # shoulder row .. ankle row, inclusive
    frames = np.zeros((3, IMG_H, IMG_W), np.uint8)
    frames[:, top : bottom + 1, int(hx) - 30 : int(hx) + 31] = 255  # symmetric about the hip column

    sil, valid = register_silhouettes(frames, pose)
    assert sil.shape == (3, 64, 64) and sil.dtype == np.uint8
    assert valid.shape == (3,) and valid.dtype == bool and valid.all()

    span = pose[0, :, 1].max() - pose[0, :, 1].min()  # all 17 joints: 340 px
    s = 85.0 / span
    centre, scale, _ = transforms(pose)
    np.testing.assert_allclose(centre, [[hx, hy]] * 3)
    np.testing.assert_allclose(scale, s)

    cx, cy = centroid(sil[0])
    # The hips sit on the rectangle's vertical axis: they land at output x = 64/2 - 0.25.
    assert abs(cx - 32.0) <= 0.5 and cx == pytest.approx(31.75, abs=0.05)
    _, want_cy = expected_output_xy((hx, (top + bottom) / 2), (hx, hy), s)
    assert cy == pytest.approx(want_cy, abs=0.05)
    # Height: (bottom - top + 1) image rows -> times s on the canvas -> halved in the output.
    height = sil[0, :, 32].astype(np.float64).sum() / 255.0
    assert height == pytest.approx((bottom - top + 1) * s / 2, abs=0.3)
    width = sil[0, 40].astype(np.float64).sum() / 255.0
    assert width == pytest.approx(61 * s / 2, abs=0.3)
    np.testing.assert_array_equal(sil[1], sil[0])


@pytest.mark.parametrize("height", [60.0, 170.0, 340.0, 440.0], ids=["enlarge", "s0.5", "s0.25", "s0.19"])
def test_hip_midpoint_and_knee_land_where_the_maps_put_them(height):
    pose = upright_pose(hip=(301.3, 237.6), height=height)
    centre, scale, _ = transforms(pose)
    for joint in ("hip", "knee"):
        p = pose[0, 11:13, :2].mean(axis=0) if joint == "hip" else pose[0, 13, :2]
        frame = np.zeros((1, IMG_H, IMG_W), np.uint8)
        r = max(3.0, 3.0 / scale[0])  # a disc about 3 canvas px in radius
        fixed = (int(round(p[0] * 16)), int(round(p[1] * 16)))  # 4 fractional bits: sub-pixel centre
        cv2.circle(frame[0], fixed, int(r * 16), 255, -1, cv2.LINE_AA, 4)
        sil, valid = register_silhouettes(frame, pose)
        assert valid[0]
        got = centroid(sil[0])
        want = expected_output_xy(p, centre[0], scale[0])
        np.testing.assert_allclose(got, want, atol=0.08)
        if joint == "hip":
            np.testing.assert_allclose(got, (32.0, 32.0), atol=0.5)


def test_two_step_shrink_matches_a_plain_bilinear_warp_geometrically():
    rng = np.random.default_rng(0)
    pose = upright_pose(hip=(333.4, 241.9), height=400.0)
    frame = np.zeros((IMG_H, IMG_W), np.uint8)
    for _ in range(6):  # a blobby body: large ellipses, so a sparse bilinear warp cannot miss them
        c = (int(rng.uniform(260, 400)), int(rng.uniform(80, 420)))
        cv2.ellipse(frame, c, (int(rng.uniform(20, 40)), int(rng.uniform(30, 80))), 0, 0, 360, 255, -1)
    sil, _ = register_silhouettes(frame[None], pose)
    centre, scale, _ = transforms(pose)
    s, (cx, cy) = scale[0], centre[0]
    m = np.array([[s, 0, 64 - s * cx], [0, s, 64 - s * cy]])
    naive = cv2.warpAffine(frame, m, (128, 128), flags=cv2.INTER_LINEAR)
    naive = cv2.resize(naive, (64, 64), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(centroid(sil[0]), centroid(naive), atol=0.1)
    assert sil[0].astype(float).sum() == pytest.approx(naive.astype(float).sum(), rel=0.03)


def test_content_outside_the_image_or_the_canvas_is_zero_not_an_error():
    pose = upright_pose(hip=(20.0, 250.0), height=340.0)  # the box reaches far past the left image edge
    frame = np.full((1, IMG_H, IMG_W), 255, np.uint8)
    sil, valid = register_silhouettes(frame, pose)
    assert valid[0]
    centre, scale, _ = transforms(pose)
    # The image's left edge (x = -0.5) in output edge coordinates (pixel j spans [j, j + 1)).
    left_edge = expected_output_xy((-0.5, 0.0), centre[0], scale[0])[0] + 0.5
    rows = slice(5, 55)  # the image's top and bottom edges land near output rows 0.7 and 60.7
    assert sil[0, rows, : int(left_edge) - 1].max() == 0
    assert sil[0, rows, int(left_edge) + 2 :].min() == 255
    assert 0 < sil[0, rows, int(left_edge)].min() and sil[0, rows, int(left_edge)].max() < 255


def test_invalid_frames_come_back_blank_and_flagged():
    pose = upright_pose().repeat(4, axis=0)
    pose[2, :, 1] = 200.0  # zero joint span: no scale for this frame
    pose[1, 11, :2] = 0.0  # left hip missing (x = y = 0): no centre for this frame
    frames = np.full((4, IMG_H, IMG_W), 255, np.uint8)
    sil, valid = register_silhouettes(frames, pose, scale_mode="per_frame")
    _, _, want = transforms(pose, "per_frame")
    np.testing.assert_array_equal(valid, want)
    np.testing.assert_array_equal(valid, [True, False, False, True])
    assert sil[1].max() == 0 and sil[2].max() == 0 and sil[0, 5:55].min() == 255
    np.testing.assert_array_equal(sil[3], sil[0])


def test_frame_count_mismatch_names_the_sequence():
    assert pair_frames(300, 300, "00012/positive/000_180") == FramePairing(n_frames=300)
    assert pair_frames(300, 300, "x").policy == "equal_count_by_index"
    with pytest.raises(BadInputError, match="00012/positive/000_180.*301 silhouette frames but 300 pose"):
        pair_frames(301, 300, "00012/positive/000_180")
    with pytest.raises(BadInputError, match="00013"):
        pair_frames(0, 0, "00013")
    with pytest.raises(BadInputError):
        register_silhouettes(np.zeros((2, 10, 10), np.uint8), upright_pose())


def test_non_finite_pose_is_rejected():
    pose = upright_pose()
    pose[0, 3, 0] = np.nan
    with pytest.raises(BadInputError, match="non-finite"):
        register_silhouettes(np.zeros((1, 10, 10), np.uint8), pose)


@pytest.mark.parametrize(
    "frames",
    [np.zeros((1, 10, 10), np.float32), np.zeros((10, 10), np.uint8), [[[0]]]],
    ids=["float", "2d", "list"],
)
def test_bad_frames_are_rejected(frames):
    with pytest.raises(BadInputError):
        register_silhouettes(frames, upright_pose())


def test_registration_with_a_spec_uses_the_maps_own_extent_placement_and_margins():
    from gaitprep.heatmaps.spec import preset

    # Shoulders to ankles (the body joints' extent) filled: under the recommended geometry that extent is
    # centred vertically and spans canvas - 2 * 3 sigma = 80 canvas px, i.e. 40 output px.
    pose = upright_pose().repeat(3, axis=0)
    hx = pose[0, 11:13, 0].mean()
    top, bottom = pose[0, 5, 1], pose[0, 15, 1]
    frames = np.zeros((3, IMG_H, IMG_W), np.uint8)
    frames[:, int(top) : int(bottom) + 1, int(hx) - 30 : int(hx) + 31] = 255
    spec = preset("recommended")
    sil, valid = register_silhouettes(frames, pose, spec=spec)
    assert valid.all()
    rows = np.flatnonzero(sil[0].max(axis=1) >= 128)
    # canvas rows 24 .. 104 -> output (q + 0.5) / 2 - 0.5: 11.75 .. 51.75, the edges half covered.
    assert (rows[0], rows[-1]) == (12, 51)
    _, cy = centroid(sil[0])
    assert cy == pytest.approx((64 + 0.5) / 2 - 0.5, abs=0.1)  # the extent's middle at canvas row 64
    with pytest.raises(BadInputError, match="full-canvas"):
        register_silhouettes(frames, pose, spec=preset("opengait"))
