"""Postural Asymmetry Vector: per-frame metrics, robust aggregation, train-only min-max (domain §6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from gaitprep.errors import BadInputError
from gaitprep.partition import parse_partition, partition_bytes
from gaitprep.pav import (
    METRIC_NAMES,
    PavSpec,
    apply_minmax,
    check_fit_ids,
    compute_raw_pav,
    fit_minmax,
    fit_set_ids,
    frame_metrics,
    sequence_pav,
)
from gaitprep.skeleton import LR_PAIRS, PAIR_NAMES

SHOULDERS, HIPS, ANKLES = PAIR_NAMES.index("shoulders"), PAIR_NAMES.index("hips"), PAIR_NAMES.index("ankles")
M1, M2, M3 = 0, 1, 2


def symmetric_pose() -> np.ndarray:
    """One upright frame, mirror-symmetric about x = 50, eyes at y = 0 and ankles at y = 256 (H = 256)."""
    xy = [
        (50, 6),  # nose
        (45, 0), (55, 0),  # eyes
        (40, 4), (60, 4),  # ears
        (30, 40), (70, 40),  # shoulders
        (25, 80), (75, 80),  # elbows
        (22, 120), (78, 120),  # wrists
        (40, 130), (60, 130),  # hips
        (42, 190), (58, 190),  # knees
        (43, 256), (57, 256),  # ankles
    ]  # fmt: skip
    pose = np.ones((1, 17, 3), dtype=np.float64)
    pose[0, :, :2] = xy
    return pose


def reference_frame_metrics(
    pose: np.ndarray, angle_fold: bool = True, height_norm: float = 128.0
) -> np.ndarray:
    """Slow per-frame, per-pair transcription of §6.2, for equivalence with the vectorised version."""
    out = np.full((pose.shape[0], 8, 3), np.nan)
    for t, frame in enumerate(pose):
        valid = [v for v in range(17) if frame[v, 2] > 0]
        if len(valid) < 2:
            continue
        ys = [frame[v, 1] for v in valid]
        h = max(ys) - min(ys)
        if h <= 1e-6:
            continue
        if 11 in valid and 12 in valid:
            cx, cy = (frame[11, 0] + frame[12, 0]) / 2, (frame[11, 1] + frame[12, 1]) / 2
        else:
            cx = sum(frame[v, 0] for v in valid) / len(valid)
            cy = sum(frame[v, 1] for v in valid) / len(valid)
        k = height_norm / h
        for i, (a, b) in enumerate(LR_PAIRS):
            if a not in valid or b not in valid:
                continue
            xa, ya = (frame[a, 0] - cx) * k, (frame[a, 1] - cy) * k
            xb, yb = (frame[b, 0] - cx) * k, (frame[b, 1] - cy) * k
            dx, dy = xa - xb, ya - yb
            tilt = math.atan2(abs(dy), abs(dx)) if angle_fold else abs(math.atan2(dy, dx))
            out[t, i] = (abs(dy), abs((xa + xb) / 2), tilt)
    return out


def random_poses(rng: np.random.Generator, t: int, p_missing: float) -> np.ndarray:
    pose = symmetric_pose().repeat(t, axis=0)
    pose[..., :2] += rng.normal(0, 8, size=(t, 17, 2))
    pose[..., 2] = rng.uniform(0.05, 1.0, size=(t, 17)) * (rng.random((t, 17)) >= p_missing)
    return pose


def test_symmetric_pose_gives_zero_pav():
    raw, per_frame = compute_raw_pav(PavSpec(), symmetric_pose())
    assert raw.shape == (8, 3) and raw.dtype == np.float32
    assert per_frame.shape == (1, 8, 3) and per_frame.dtype == np.float32
    np.testing.assert_array_equal(raw, np.zeros((8, 3), np.float32))


def test_shoulder_tilt_gives_expected_height_difference_and_angle():
    pose = symmetric_pose()
    pose[0, 5, :2] = (36, 40)  # left shoulder
    pose[0, 6, :2] = (76, 60)  # right shoulder: 20 px lower, both shifted 6 px towards x+
    # H = 256 px -> 0.5 units per px; dx = -40 px = -20, dy = -20 px = -10; midpoint 56 vs hip centre 50.
    m = frame_metrics(pose)
    np.testing.assert_allclose(m[0, SHOULDERS], [10.0, 3.0, math.atan(0.5)], rtol=0, atol=1e-12)
    unfolded = frame_metrics(pose, angle_fold=False)
    np.testing.assert_allclose(unfolded[0, SHOULDERS, M3], math.pi - math.atan(0.5), atol=1e-12)
    others = [i for i in range(8) if i != SHOULDERS]
    np.testing.assert_array_equal(m[0, others], 0.0)
    raw, _ = compute_raw_pav(PavSpec(), pose)
    np.testing.assert_allclose(raw[SHOULDERS], [10.0, 3.0, math.atan(0.5)], rtol=1e-6)


def test_height_norm_scales_lengths_but_not_angles():
    pose = symmetric_pose()
    pose[0, 5, 1] = 60.0
    a = frame_metrics(pose, height_norm=128.0)[0, SHOULDERS]
    b = frame_metrics(pose, height_norm=256.0)[0, SHOULDERS]
    np.testing.assert_allclose(b[:2], 2 * a[:2])
    assert b[M3] == a[M3]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_metrics_match_slow_transcription(seed):
    rng = np.random.default_rng(seed)
    pose = random_poses(rng, 40, p_missing=0.3)
    pose[3, :, 2] = 0.0  # no valid joint
    pose[4, 1:, 2] = 0.0  # one valid joint
    pose[5, :, 1] = 77.0  # zero height
    for fold in (True, False):
        got = frame_metrics(pose, angle_fold=fold)
        want = reference_frame_metrics(pose, angle_fold=fold)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
    assert np.isnan(got[3:6]).all()


def test_mirroring_and_reversing_facing_leave_pav_unchanged():
    rng = np.random.default_rng(7)
    pose = random_poses(rng, 30, p_missing=0.1)
    base, _ = compute_raw_pav(PavSpec(), pose)
    assert np.abs(base).sum() > 1.0  # the pose is really asymmetric

    facing = pose.copy()
    facing[..., 0] *= -1  # walk the other way: x -> -x, labels kept
    perm = [0] + [v for a, b in LR_PAIRS for v in (b, a)]  # swap every L/R joint
    mirrored = facing[:, perm]

    for other in (facing, mirrored):
        got, _ = compute_raw_pav(PavSpec(), other)
        np.testing.assert_allclose(got, base, rtol=1e-5, atol=1e-5)

    # The fold is what makes the tilt facing-invariant.
    unfolded = PavSpec(angle_fold=False)
    a, _ = compute_raw_pav(unfolded, pose)
    b, _ = compute_raw_pav(unfolded, facing)
    assert np.abs(a[:, M3] - b[:, M3]).max() > 0.5


def test_centre_falls_back_to_mean_of_valid_joints_without_both_hips():
    pose = np.zeros((1, 17, 3))
    pose[0, 5] = (30, 0, 1)  # left shoulder
    pose[0, 6] = (74, 0, 1)  # right shoulder
    pose[0, 15] = (40, 100, 1)  # left ankle
    pose[0, 16] = (60, 100, 1)  # right ankle
    pose[0, 11] = (999, 50, 0)  # left hip present but c = 0: not valid, ignored
    # H = 100 -> 1.28 units per px; centre = mean of the 4 valid joints = (51, 50).
    m = frame_metrics(pose)
    np.testing.assert_allclose(m[0, SHOULDERS], [0.0, 1.28, 0.0], atol=1e-12)
    np.testing.assert_allclose(m[0, ANKLES], [0.0, 1.28, 0.0], atol=1e-12)
    assert np.isnan(m[0, HIPS]).all()
    raw, _ = compute_raw_pav(PavSpec(), pose)
    assert np.isnan(raw[HIPS]).all()  # a pair never observed -> NaN (never 0, 'perfectly symmetric')


def test_hip_midline_column_is_exactly_zero():
    rng = np.random.default_rng(3)
    pose = random_poses(rng, 50, p_missing=0.0)
    pose[..., :2] += 0.1  # non-representable coordinates
    m = frame_metrics(pose)
    assert (m[:, HIPS, M2] == 0.0).all()
    raw, _ = compute_raw_pav(PavSpec(), pose)
    assert raw[HIPS, M2] == 0.0


def test_missing_pair_frames_do_not_poison_the_mean():
    frames = symmetric_pose().repeat(4, axis=0)
    frames[0, 5, 1] = 44.0  # left shoulder 4 px low -> m1 = 2
    frames[1, 5, 1] = 48.0  # 8 px -> m1 = 4
    frames[2, 5, 2] = 0.0  # left shoulder missing: no shoulder metrics in this frame
    frames[3, :, 2] = 0.0  # nobody detected: whole frame NaN
    raw, per_frame = compute_raw_pav(PavSpec(), frames)
    assert np.isnan(per_frame[2, SHOULDERS]).all() and not np.isnan(per_frame[2, HIPS]).any()
    assert np.isnan(per_frame[3]).all()
    assert raw[SHOULDERS, M1] == pytest.approx(3.0, abs=1e-6)
    assert np.isfinite(raw).all()


def test_iqr_filter_drops_an_outlier_frame():
    frames = symmetric_pose().repeat(5, axis=0)
    for t, dy_px in enumerate([2, 4, 6, 8, 100]):
        frames[t, 5, 1] = 40 + dy_px  # m1 = dy_px / 2 = 1, 2, 3, 4, 50
    # Q1 = 2, Q3 = 4, IQR = 2, fence [-1, 7]: the 50 is dropped -> mean 2.5 (12.0 without the filter).
    raw, per_frame = compute_raw_pav(PavSpec(), frames)
    np.testing.assert_allclose(per_frame[:, SHOULDERS, M1], [1, 2, 3, 4, 50], atol=1e-5)
    assert raw[SHOULDERS, M1] == pytest.approx(2.5, abs=1e-6)
    # k = 0 keeps [Q1, Q3] = [2, 4] -> mean 3.
    raw0, _ = compute_raw_pav(PavSpec(iqr_k=0.0), frames)
    assert raw0[SHOULDERS, M1] == pytest.approx(3.0, abs=1e-6)


def test_sequence_pav_keeps_all_values_when_the_fence_is_empty():
    metrics = np.zeros((2, 8, 3))
    metrics[:, 0, 0] = [0.0, 10.0]  # Q1 = 2.5, Q3 = 7.5: with k = 0 no value is inside
    metrics[:, 1, 0] = np.nan
    metrics[:, 2, 0] = [np.inf, 4.0]
    out = sequence_pav(metrics, iqr_k=0.0)
    assert out.dtype == np.float32 and out.shape == (8, 3)
    assert out[0, 0] == 5.0 and np.isnan(out[1, 0]) and out[2, 0] == 4.0


def partition():
    data = partition_bytes(["00001", "00002"], ["00003"])
    return parse_partition(data, "toy_split")


def test_minmax_is_fitted_on_train_only_and_clipped():
    raws = {
        "00001": np.full((8, 3), 1.0, np.float32),
        "00002": np.full((8, 3), 3.0, np.float32),
        "00003": np.full((8, 3), 9.0, np.float32),  # test: must not move the stats
    }
    raws["00001"][0, 0] = raws["00002"][0, 0] = 2.0  # a constant column
    ids = fit_set_ids(partition(), raws, "train")
    assert ids == ["00001", "00002"]
    mn, mx = fit_minmax(np.stack([raws[i] for i in ids]))
    assert mn.dtype == mx.dtype == np.float32 and mn.shape == mx.shape == (8, 3)
    assert mn[1, 1] == 1.0 and mx[1, 1] == 3.0 and mn[0, 0] == mx[0, 0] == 2.0

    test_raw = np.array([[2.0, 2.0, 0.0]] + [[2.0, 5.0, 0.0]] * 7, np.float32)
    test_raw[0, 0] = 2.0  # constant column, equal value: (2 - 2) / 1e-6 = 0
    out = apply_minmax(test_raw, mn, mx)
    assert out.dtype == np.float32 and out.shape == (8, 3)
    assert out[0, 0] == 0.0
    assert out[0, 1] == 0.5  # (2 - 1) / 2
    assert out[1, 1] == 1.0  # (5 - 1) / 2 = 2 clipped to 1
    assert out[1, 2] == 0.0  # (0 - 1) / 2 clipped to 0
    test_raw[0, 0] = 2.5  # above a constant column: 0.5 / 1e-6 clipped to 1
    assert apply_minmax(test_raw, mn, mx)[0, 0] == 1.0


def test_fit_including_test_ids_is_refused_unless_all_is_explicit():
    part = partition()
    with pytest.raises(BadInputError, match="TEST ids"):
        check_fit_ids(part, ["00001", "00003"], "train")
    with pytest.raises(BadInputError, match="fit_on='all'"):
        fit_set_ids(part, ["00001", "00003"], "test")
    with pytest.raises(BadInputError, match="not in partition"):
        check_fit_ids(part, ["00001", "99999"], "train")
    check_fit_ids(part, ["00001", "00003"], "all")
    assert fit_set_ids(part, ["00003", "00001", "00002"], "all") == ["00001", "00002", "00003"]
    with pytest.raises(BadInputError, match="no sequences"):
        fit_set_ids(part, ["00003"], "train")


@pytest.mark.parametrize(
    "pose",
    [
        np.zeros((0, 17, 3)),
        np.zeros((5, 17, 2)),
        np.zeros((5, 16, 3)),
        np.zeros((17, 3)),
        np.where(np.arange(51).reshape(1, 17, 3) == 7, np.nan, 1.0),
        np.where(np.arange(51).reshape(1, 17, 3) == 8, np.inf, 1.0),
        np.full((1, 17, 3), "a"),
    ],
    ids=["empty", "two-columns", "16-joints", "2d", "nan", "inf", "strings"],
)
def test_bad_pose_is_rejected(pose):
    with pytest.raises(BadInputError):
        compute_raw_pav(PavSpec(), pose)


def test_spec_is_frozen_forbids_extras_and_records_orders():
    spec = PavSpec()
    assert spec.metric_order == METRIC_NAMES == ("height_diff", "midline_dev", "tilt")
    assert spec.pair_order == PAIR_NAMES and spec.pair_joints == LR_PAIRS
    assert spec.validity == "c>0" and spec.hip_midline == "keep_zero" and spec.angle_fold is True
    assert isinstance(PavSpec.ALGO_VERSION, str) and "ALGO_VERSION" not in spec.model_dump()
    with pytest.raises(ValidationError):
        spec.angle_fold = False
    with pytest.raises(ValidationError):
        PavSpec(surprise=1)
    with pytest.raises(ValidationError):
        PavSpec(metric_order=("tilt", "height_diff", "midline_dev"))
    with pytest.raises(ValidationError):
        PavSpec(iqr_k=-1.0)
    assert PavSpec.model_validate(spec.model_dump(mode="json")) == spec
