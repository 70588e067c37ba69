"""Keypoint cleaning and the canvas transform (gaitprep.keypoints), against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gaitprep.errors import BadInputError
from gaitprep.keypoints import (
    check_pose,
    frame_transforms,
    interpolate_low_confidence,
    knn_fill,
    missing_joints,
    to_canvas,
)
from tests.heatmap_reference import reference_knn_fill, walking_pose


def _base_pose(T: int) -> np.ndarray:
    """T identical frames: joint v at (100 + v, 200 + 2 v), confidence 0.9."""
    pose = np.zeros((T, 17, 3))
    pose[:, :, 0] = 100.0 + np.arange(17)
    pose[:, :, 1] = 200.0 + 2.0 * np.arange(17)
    pose[:, :, 2] = 0.9
    return pose


def test_knn_fill_matches_hand_computed_three_frame_case():
    pose = _base_pose(3)
    pose[0, 0, 0] = 0.0  # missing: frame 0, nose x
    pose[1, 0, 0], pose[1, 1, 1] = 110.0, pose[1, 1, 1] + 3.0
    pose[2, 0, 0], pose[2, 1, 1] = 130.0, pose[2, 1, 1] + 6.0
    out = knn_fill(pose)
    # Donors 1 and 2 differ from frame 0 in one co-observed coordinate by 3 and 6: d = 3 s and 6 s with
    # s = sqrt(34 / 33), weights 1/d, so the fill is (110 / 3 + 130 / 6) / (1 / 3 + 1 / 6) = 350 / 3.
    assert out[0, 0, 0] == pytest.approx(350.0 / 3.0, abs=1e-9)
    np.testing.assert_array_equal(np.delete(out.reshape(-1), 0), np.delete(pose.reshape(-1), 0))


def test_knn_fill_zero_distance_donor_takes_all_the_weight():
    pose = _base_pose(3)
    pose[0, 0, 0] = 0.0
    pose[1, 0, 0] = 120.0  # identical to frame 0 elsewhere: distance 0
    pose[2, 0, 0], pose[2, 1, 1] = 500.0, pose[2, 1, 1] + 1.0
    assert knn_fill(pose)[0, 0, 0] == 120.0


def test_knn_fill_agrees_with_the_literal_reference_on_random_gaps():
    rng = np.random.default_rng(4)
    pose = walking_pose(10, seed=4)
    gaps = rng.random((10, 17, 2)) < 0.08
    pose[..., :2][gaps] = 0.0
    np.testing.assert_allclose(knn_fill(pose), reference_knn_fill(pose), rtol=0, atol=1e-9)


def test_knn_fill_keeps_confidence_and_returns_float64():
    pose = walking_pose(5, seed=1).astype(np.float32)
    pose[2, 7, :2] = 0.0
    out = knn_fill(pose)
    assert out.dtype == np.float64 and out.shape == (5, 17, 3)
    np.testing.assert_array_equal(out[..., 2], pose[..., 2].astype(np.float64))
    assert out[2, 7, 0] != 0.0 and out[2, 7, 1] != 0.0


def test_knn_fill_with_an_empty_column_keeps_everything_like_upstream():
    pose = _base_pose(4)
    pose[:, 3, 0] = 0.0  # never observed: scikit-learn drops it and upstream keeps the raw data
    pose[1, 5, 1] = 0.0
    np.testing.assert_array_equal(knn_fill(pose), pose)
    filled = knn_fill(pose, upstream_empty_column=False)
    assert (filled[:, 3, 0] == 0.0).all()
    assert filled[1, 5, 1] == pytest.approx(pose[0, 5, 1])


def test_knn_fill_selected_joints_leaves_the_others_alone():
    pose = _base_pose(3)
    pose[1, 10, 0] = pose[1, 2, 0] = 0.0
    pose[2, 10, 0] += 4.0
    out = knn_fill(pose, joints=range(5, 17))
    assert out[1, 2, 0] == 0.0  # joint 2 is not in the matrix
    assert out[1, 10, 0] != 0.0


def test_interpolate_low_confidence_is_linear_between_confident_frames():
    pose = _base_pose(6)
    pose[:, 9, 0] = [0.0, 99.0, 99.0, 30.0, 99.0, 99.0]
    pose[:, 9, 2] = [0.9, 0.2, 0.2, 0.9, 0.1, 0.0]
    out = interpolate_low_confidence(pose, 0.5)
    np.testing.assert_allclose(out[:, 9, 0], [0.0, 10.0, 20.0, 30.0, 30.0, 99.0])  # c = 0 stays
    np.testing.assert_array_equal(out[..., 2], pose[..., 2])
    np.testing.assert_array_equal(np.delete(out, 9, axis=1), np.delete(pose, 9, axis=1))


def test_interpolate_low_confidence_without_anchor_changes_nothing():
    pose = _base_pose(3)
    pose[:, 4, 2] = 0.1
    np.testing.assert_array_equal(interpolate_low_confidence(pose, 0.5), pose)
    with pytest.raises(BadInputError):
        interpolate_low_confidence(pose, 0.0)


def test_frame_transforms_centre_on_hips_and_scale_the_span_to_85_px():
    pose = _base_pose(3)
    pose[:, 11, :2], pose[:, 12, :2] = (100.0, 300.0), (110.0, 302.0)
    pose[:, :, 1] = np.linspace(200.0, 370.0, 17)  # y span 170 px
    pose[1, :, 1] = np.linspace(200.0, 285.0, 17)  # span 85
    centre, scale, valid = frame_transforms(pose, scale_mode="per_frame", span_joints=range(17))
    hips_y = (pose[:, 11, 1] + pose[:, 12, 1]) / 2
    np.testing.assert_allclose(centre, np.stack([np.full(3, 105.0), hips_y], axis=1))
    np.testing.assert_allclose(scale, [0.5, 1.0, 0.5])
    assert valid.all()
    _, seq_scale, _ = frame_transforms(pose, scale_mode="per_sequence", span_joints=range(17))
    np.testing.assert_allclose(seq_scale, [0.5, 0.5, 0.5])  # 85 / median(170, 85, 170)
    _, sel_scale, _ = frame_transforms(pose, scale_mode="per_frame", span_joints=range(5, 17), canvas=64)
    np.testing.assert_allclose(sel_scale[0], (64 // 1.5) / (370.0 - pose[0, 5, 1]))


def test_frame_transforms_flags_zero_span_and_missing_hips():
    pose = _base_pose(4)
    pose[1, :, 1] = 250.0  # zero span
    pose[2, 11, :2] = 0.0  # missing hip
    pose[3] = 0.0  # nothing at all
    centre, scale, valid = frame_transforms(pose, scale_mode="per_sequence", span_joints=range(17))
    np.testing.assert_array_equal(valid, [True, False, False, False])
    assert np.isfinite(scale).all() and np.isfinite(centre).all()
    assert (scale[~valid] == 0).all() and (centre[~valid] == 0).all()
    with pytest.raises(BadInputError):
        frame_transforms(pose, scale_mode="per_clip", span_joints=range(17))
    with pytest.raises(BadInputError):
        frame_transforms(pose, scale_mode="per_frame", span_joints=[17])


def test_to_canvas_puts_the_hips_at_the_canvas_centre():
    pose = _base_pose(2)
    pose[:, 11, :2], pose[:, 12, :2] = (90.0, 300.0), (110.0, 300.0)
    pose[:, 0, :2] = (130.0, 260.0)
    centre = np.array([[100.0, 300.0], [100.0, 300.0]])
    q = to_canvas(pose, centre, np.array([0.5, 2.0]), 128)
    np.testing.assert_allclose((q[:, 11, :2] + q[:, 12, :2]) / 2, [[64.0, 64.0], [64.0, 64.0]])
    np.testing.assert_allclose(q[:, 0, :2], [[64.0 + 15.0, 64.0 - 20.0], [64.0 + 60.0, 64.0 - 80.0]])
    np.testing.assert_array_equal(q[..., 2], pose[..., 2])


def test_missing_joints_needs_both_coordinates_zero():
    pose = _base_pose(1)
    pose[0, 3, :2] = 0.0
    pose[0, 4, 0] = 0.0
    assert np.flatnonzero(missing_joints(pose)[0]).tolist() == [3]


@pytest.mark.parametrize(
    ("pose", "message"),
    [
        (np.zeros((4, 17, 2)), "shape"),
        (np.zeros((0, 17, 3)), "T = 0"),
        (np.full((2, 17, 3), math.nan), "non-finite"),
        (np.array([["a"] * 3] * 17)[None], "numeric"),
    ],
)
def test_check_pose_rejects_bad_input_with_a_message(pose, message):
    with pytest.raises(BadInputError, match=message):
        check_pose(pose)


def test_smoothed_span_follows_a_linear_trend_exactly_and_damps_the_stride():
    from gaitprep.keypoints import smoothed_span

    t = np.arange(120, dtype=np.float64)
    trend = 200.0 + 1.5 * t  # a subject walking toward the camera: the span grows steadily
    valid = np.ones(120, bool)
    np.testing.assert_allclose(smoothed_span(trend, valid, 45), trend, rtol=0, atol=1e-9)  # ends included
    breathing = trend + 8.0 * np.sin(2 * np.pi * t / 19.0)  # the stride's breathing, 19-frame period
    residual = np.abs(smoothed_span(breathing, valid, 45) - trend)
    assert residual[22:-22].max() < 0.05 * 8.0  # the triangular window passes ~3% of it
    # Invalid frames are left out; a window with one valid frame gives that frame's span.
    holes = valid.copy()
    holes[50:60] = False
    np.testing.assert_allclose(smoothed_span(trend, holes, 45), trend, rtol=0, atol=1e-9)
    lone = np.zeros(120, bool)
    lone[5] = True
    assert smoothed_span(trend, lone, 3)[5] == trend[5] and np.isnan(smoothed_span(trend, lone, 3)[9])


def test_extent_placement_centres_the_present_span_joints_and_caps_the_scale():
    pose = walking_pose(3, seed=2)
    pose[:, 9] = 0.0  # a wrist never seen: left out of the extent
    span_joints = tuple(range(5, 17))
    centre, scale, valid = frame_transforms(
        pose, scale_mode="per_frame", span_joints=span_joints, placement="extent", span_target=80.0
    )
    present = [v for v in span_joints if v != 9]
    ys = pose[:, present, 1]
    np.testing.assert_allclose(centre[:, 1], (ys.min(axis=1) + ys.max(axis=1)) / 2.0)
    np.testing.assert_allclose(centre[:, 0], (pose[:, 11, 0] + pose[:, 12, 0]) / 2.0)
    np.testing.assert_allclose(scale, 80.0 / (ys.max(axis=1) - ys.min(axis=1)))
    assert valid.all()
    # The cap: a frame's own extent never exceeds fit_target, whatever the (here per-sequence) scale says.
    pose[1, :, :2] = (pose[1, :, :2] - pose[1, 11, :2]) * 1.5 + pose[1, 11, :2]  # one frame 1.5x larger
    pose[1, 9] = 0.0  # still never seen
    _, capped, _ = frame_transforms(
        pose,
        scale_mode="per_sequence",
        span_joints=span_joints,
        placement="extent",
        span_target=80.0,
        fit_target=96.0,
    )
    extent = (pose[:, present, 1].max(axis=1) - pose[:, present, 1].min(axis=1)) * capped
    assert extent.max() <= 96.0 + 1e-9 and extent[1] == pytest.approx(96.0)
    with pytest.raises(BadInputError, match="fit_target needs placement='extent'"):
        frame_transforms(pose, scale_mode="per_frame", span_joints=span_joints, fit_target=96.0)
