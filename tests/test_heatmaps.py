"""Skeleton-map renderer (gaitprep.heatmaps) against the slow reference in tests/heatmap_reference.py."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from gaitprep.errors import BadInputError
from gaitprep.heatmaps import (
    PRESET_NAMES,
    HeatmapSpec,
    RenderResult,
    aggregate_stats,
    block_frames,
    canvas_pose,
    preset,
    render_sequence,
    sequence_geometry,
)
from gaitprep.heatmaps.levels import LUT_OFF_BY_ONE, grey_table, levels_from_exponent, windows
from gaitprep.heatmaps.raster import _Blocks
from gaitprep.heatmaps.render import _principal_plane
from gaitprep.heatmaps.resample import area_half, area_resample
from gaitprep.heatmaps.stats import cut_columns, sequence_stats
from gaitprep.keypoints import interpolate_low_confidence
from tests.heatmap_reference import (
    BODY_JOINTS,
    BODY_LIMBS,
    grey_lut,
    reference_knn_fill,
    reference_render,
    walking_pose,
)

OPENGAIT = preset("opengait")


def _assert_equal(ours: np.ndarray, ref: np.ndarray) -> None:
    """0 differing pixels: the renderer re-evaluates every pixel its float32 path cannot decide exactly."""
    assert ours.shape == ref.shape and ours.dtype == np.uint8
    differing = int((ours != ref).sum())
    assert differing == 0, (
        f"{differing} differing pixels, largest difference {np.abs(ours.astype(int) - ref).max()}"
    )


def _assert_within_one_level(ours: np.ndarray, ref: np.ndarray, *, min_equal: float = 0.999) -> None:
    assert ours.shape == ref.shape and ours.dtype == np.uint8
    diff = np.abs(ours.astype(int) - ref.astype(int))
    assert diff.max() <= 1, f"max difference {diff.max()} grey levels"
    assert (diff == 0).mean() >= min_equal


def _only(pose: np.ndarray, joints: list[int], conf: float = 0.9) -> np.ndarray:
    """``pose`` with every confidence 0 except ``joints``."""
    out = pose.copy()
    out[..., 2] = 0.0
    out[:, joints, 2] = conf
    return out


def _acceptance_cases() -> dict[str, np.ndarray]:
    walk = walking_pose(24, seed=3)
    frame = walk[:3]
    degenerate = frame.copy()
    degenerate[:, 15, :2] = degenerate[:, 13, :2] + [0.4, 0.3]  # under 1 canvas px after scaling
    low = frame.copy()
    low[:, 9, 2], low[:, 10, 2], low[:, 4, 2] = 0.2, 0.002, 0.0005  # faint, just drawn, below eps
    off_canvas = frame.copy()
    off_canvas[:, 10, :2] = off_canvas[:, 8, :2] + [260.0, -20.0]  # wrist far outside the canvas
    single_limb = _only(frame, [13, 15])
    single_limb[:, 15, 2] = 0.55  # the limb's amplitude is the smaller confidence
    degenerate = _only(degenerate, [13, 15])
    degenerate[:, 15, 2] = 0.4  # a limb under 1 px is a point at joint 13 with joint 13's confidence
    return {
        "single_joint": _only(frame, [13]),
        "single_limb": single_limb,
        "degenerate_limb": degenerate,
        "low_confidence": low,
        "short_legs": walking_pose(4, seed=5, leg_scale=0.6),
        "off_canvas": off_canvas,
        "walking_sequence": walk,
    }


_CASES = _acceptance_cases()


@pytest.mark.parametrize("case", sorted(_CASES))
def test_opengait_preset_equals_the_reference(case):
    pose = _CASES[case]
    result = render_sequence(OPENGAIT, pose)
    _assert_equal(result.maps, reference_render(pose))


def test_absurd_finite_coordinates_render_as_upstream_without_numpy_warnings():
    """A wrist 1e300 px away overflows the float32 raster: those pixels are evaluated exactly, so the maps
    still equal upstream's, and no overflow warning leaks out of the renderer (the reference warns)."""
    import warnings

    pose = walking_pose(4, seed=0)
    pose[1, 9, 0] = 1e300
    pose[2, 10, 1] = -1e200
    pose[3, 9, 0] = 1e37
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = render_sequence(OPENGAIT, pose)
    with np.errstate(all="ignore"):
        ref = reference_render(pose)
    _assert_equal(result.maps, ref)


@pytest.mark.parametrize(
    ("overrides", "reference_kwargs"),
    [
        ({"sigma_limb": 15.0, "align": "shared"}, {"sigma_limb": 15.0, "align": "shared"}),
        ({"combine": "sum"}, {"combine": "sum"}),
        ({"quantise": "floor256", "sigma_joint": 5.0}, {"quantise": "floor256", "sigma_joint": 5.0}),
        (
            {"joint_set": "head-lite", "scale": "per_sequence"},
            {
                "joints": (0, *BODY_JOINTS),
                "limbs": (*BODY_LIMBS, (0, 5), (0, 6)),
                "scale_mode": "per_sequence",
            },
        ),
        ({"channels": ("joint",)}, {"channels": ("joint",)}),
        (
            {"joint_set": "body", "shoulder_edge": True, "channels": ("joint", "limb")},
            {"joints": BODY_JOINTS, "limbs": (*BODY_LIMBS, (5, 6)), "channels": ("joint", "limb")},
        ),
    ],
    ids=[
        "sigma15_shared",
        "sum",
        "floor256_sigma5",
        "head_lite_per_sequence",
        "joint_only",
        "body_shoulders",
    ],
)
def test_variants_match_the_reference(overrides, reference_kwargs):
    pose = walking_pose(12, seed=8, leg_scale=0.85)
    result = render_sequence(preset("opengait", **overrides), pose)
    ref = reference_render(pose, **reference_kwargs)
    if overrides.get("combine") == "sum":  # the clipped-sum ablation is not re-evaluated exactly
        _assert_within_one_level(result.maps, ref)
    else:
        _assert_equal(result.maps, ref)


_RECOMMENDED_REFERENCE = {
    "joints": BODY_JOINTS,
    "limbs": BODY_LIMBS,
    "span_joints": BODY_JOINTS,
    "scale_mode": "smoothed",
    "scale_window": 45,
    "placement": "extent",
    "margin_sigmas": 3.0,
    "min_margin_sigmas": 2.0,
    "hip_missing": "blank",
    "align": "shared",
    "crop": "full_canvas",
    "quantise": "floor256",
}


def test_recommended_preset_equals_the_direct_output_reference():
    pose = walking_pose(40, seed=9)
    result = render_sequence(preset("recommended"), pose)
    ref = reference_render(pose, raster="output", **_RECOMMENDED_REFERENCE)
    _assert_equal(result.maps, ref)


@pytest.mark.parametrize("case", ["low_confidence", "degenerate_limb", "off_canvas", "short_legs"])
@pytest.mark.parametrize(
    "variant",
    [{"sigma_limb": 15.0}, {"combine": "sum"}, {"size": 48, "sigma_joint": 5.0}],
    ids=["sigma15", "sum", "size48"],
)
def test_direct_output_raster_matches_the_reference_on_the_acceptance_poses(case, variant):
    pose = _CASES[case]
    spec = preset("opengait", crop="full_canvas", raster="output", **variant)
    ref = reference_render(pose, crop="full_canvas", raster="output", **variant)
    if variant.get("combine") == "sum":
        _assert_within_one_level(render_sequence(spec, pose).maps, ref)
    else:
        _assert_equal(render_sequence(spec, pose).maps, ref)


def test_canvas_raster_full_canvas_preset_matches_the_canvas_reference_within_one_grey_level():
    pose = walking_pose(12, seed=9)
    result = render_sequence(preset("recommended", raster="canvas"), pose)
    ref = reference_render(pose, **_RECOMMENDED_REFERENCE)
    # The full-canvas downsample is exact integer arithmetic, so it sits up to one level above OpenCV's
    # float rounding at a few percent of the pixels.
    _assert_within_one_level(result.maps, ref, min_equal=0.95)


def test_direct_output_raster_stays_within_the_documented_distance_of_the_canvas_raster():
    # HeatmapSpec documents max 9 / mean 0.24 grey levels over walking sequences: sampling the Gaussians at
    # output pixel centres instead of area-averaging canvas pixels differs most in the creases where the max
    # switches from one Gaussian to another, and by about half a level of quantisation elsewhere.
    pose = walking_pose(48, seed=1)
    direct = render_sequence(preset("recommended"), pose).maps.astype(int)
    canvas = render_sequence(preset("recommended", raster="canvas"), pose).maps.astype(int)
    diff = np.abs(direct - canvas)
    assert 0 < diff.max() <= 10
    assert diff.mean() <= 0.3
    assert (diff > 2).mean() < 0.005
    assert abs(direct.sum() / canvas.sum() - 1.0) < 0.01  # the same grey mass


def test_direct_output_raster_puts_a_canvas_centre_joint_at_output_pixel_31_75():
    # Hips on one point: the hip centre, where joint 11 lands, is canvas (64, 64) -> output (31.75, 31.75).
    pose = walking_pose(2, seed=4)
    pose[:, 12, :2] = pose[:, 11, :2]
    pose = _only(pose, [11])
    hip_placed = {
        "placement": "hip",
        "min_margin_sigmas": None,
    }  # recommended places the body's extent, not the hips, in the middle
    direct = render_sequence(preset("recommended", **hip_placed), pose).maps
    assert not direct[:, 0].any()  # the only drawn joint has no drawn limb
    joint = direct[0, 1].astype(int)
    assert np.unravel_index(joint.argmax(), joint.shape) == (32, 32)

    def level(y: int, x: int) -> int:  # floor(256 c exp(-d^2 / (2 sigma_out^2))), sigma_out = 8 / 2
        return math.floor(256 * 0.9 * math.exp(-((x - 31.75) ** 2 + (y - 31.75) ** 2) / (2 * 4.0**2)))

    for y, x in [(32, 32), (31, 32), (32, 31), (31, 31), (30, 33), (36, 31)]:
        assert joint[y, x] == level(y, x), (y, x)
    assert (joint[31, 32], joint[32, 32], joint[31, 31]) == (225, 229, 222)
    canvas = render_sequence(preset("recommended", raster="canvas", **hip_placed), pose).maps[0, 1]
    assert np.unravel_index(canvas.argmax(), canvas.shape) == (32, 32)  # the 2x area downsample agrees


def test_output_shape_dtype_and_channel_order():
    pose = walking_pose(7, seed=2)
    result = render_sequence(OPENGAIT, pose)
    assert isinstance(result, RenderResult)
    assert result.maps.shape == (7, 2, 64, 64) and result.maps.dtype == np.uint8
    assert result.kept.shape == (7,) and result.kept.all()
    assert (result.blank_frames, result.dropped_frames) == (0, 0)
    small = render_sequence(preset("opengait", canvas=64, size=32), pose)
    assert small.maps.shape == (7, 2, 32, 32)


def test_limb_channel_differs_from_joint_channel():
    # mmaction2 merges limb maps into the joint channels; here channel 0 is limbs and 1 is joints.
    spec = preset("opengait", crop="full_canvas")
    pose = _only(walking_pose(1, seed=1), [5, 7, 9, 11, 13, 15])
    maps = render_sequence(spec, pose).maps[0]
    q, _ = canvas_pose(spec, pose)
    mid = np.rint((q[0, 11, :2] + q[0, 13, :2]) / 4).astype(int)  # thigh midpoint in output px (canvas / 2)
    limb, joint = maps[0].astype(int), maps[1].astype(int)
    assert limb[mid[1], mid[0]] > 200  # on the segment: about 255 * confidence
    assert joint[mid[1], mid[0]] < limb[mid[1], mid[0]] - 100  # far from both joints
    assert (limb != joint)[(limb > 0) | (joint > 0)].mean() > 0.4


def test_body_joint_set_draws_nothing_for_a_face_only_pose():
    face = _only(walking_pose(3, seed=4), [0, 1, 2, 3, 4])
    assert render_sequence(preset("opengait"), face).maps.any()
    assert not render_sequence(preset("opengait", joint_set="body"), face).maps.any()
    body = render_sequence(preset("recommended"), face)
    assert not body.maps.any() and body.stats["blank_frames"] == 3


def test_body_joint_set_leaves_the_face_region_empty():
    pose = walking_pose(1, seed=6)
    # Lift the head far above the shoulders so face Gaussians cannot overlap body ones.
    pose[:, :5, 1] -= 150.0
    spec = preset("opengait", joint_set="body", scale_span_joints="all17", crop="full_canvas")
    maps = render_sequence(spec, pose).maps[0]
    coco = render_sequence(preset("opengait", crop="full_canvas"), pose).maps[0]
    assert coco[:, :4].any()  # the head lands in the top rows with all 17 joints
    assert not maps[:, :4].any()


def test_shared_alignment_registers_limb_and_joint_channels():
    pose = walking_pose(16, seed=11, leg_scale=0.6)  # the joint channel's crop stops short of the bottom
    per_channel = render_sequence(preset("opengait", sigma_limb=15.0, sigma_joint=8.0), pose)
    shared = render_sequence(preset("opengait", sigma_limb=15.0, sigma_joint=8.0, align="shared"), pose)
    assert per_channel.stats["registration_frames"] == shared.stats["registration_frames"] == 16
    assert per_channel.stats["registration_offset_mean_px"] > 0.5
    assert shared.stats["registration_offset_mean_px"] < 0.5
    assert shared.stats["registration_offset_p95_px"] < 0.5


@pytest.mark.parametrize("policy", ["blank", "drop"])
def test_unnormalisable_frames_follow_the_policy_and_are_counted(policy):
    pose = walking_pose(5, seed=7)
    pose[1, :, 1] = pose[1, 0, 1]  # zero vertical span
    pose[3, :, :2] = 0.0  # every joint missing
    spec = preset("opengait", unnormalisable=policy, knn_fill=False)
    result = render_sequence(spec, pose)
    assert all(math.isfinite(v) for v in result.stats.values())
    assert result.stats["unnormalisable_frames"] == 2
    if policy == "blank":
        assert result.maps.shape[0] == 5 and result.blank_frames == 2 and result.dropped_frames == 0
        assert not result.maps[[1, 3]].any()
        assert all(result.maps[t].any() for t in (0, 2, 4))
        assert result.kept.all()
    else:
        assert result.maps.shape[0] == 3 and result.dropped_frames == 2 and result.blank_frames == 0
        np.testing.assert_array_equal(result.kept, [True, False, True, False, True])
        full = render_sequence(preset("opengait", knn_fill=False), pose).maps
        np.testing.assert_array_equal(result.maps, full[[0, 2, 4]])


def test_all_frames_unnormalisable_gives_an_empty_result_without_crashing():
    pose = np.zeros((3, 17, 3))
    result = render_sequence(preset("opengait", unnormalisable="drop"), pose)
    assert result.maps.shape == (0, 2, 64, 64) and result.dropped_frames == 3
    assert all(math.isfinite(v) for v in result.stats.values())


@pytest.mark.parametrize(
    ("pose", "message"),
    [
        (np.full((2, 17, 3), np.nan), "non-finite"),
        (np.zeros((2, 18, 3)), r"\(T, 17, 3\)"),
        (np.zeros((0, 17, 3)), "T = 0"),
    ],
)
def test_bad_input_raises_bad_input_error(pose, message):
    with pytest.raises(BadInputError, match=message):
        render_sequence(OPENGAIT, pose)


def test_nan_in_one_coordinate_is_rejected():
    pose = walking_pose(3, seed=1)
    pose[1, 4, 0] = np.inf
    with pytest.raises(BadInputError, match="frame 1, joint 4, x"):
        render_sequence(OPENGAIT, pose)


def test_translating_the_pose_does_not_change_opengait_output():
    pose = walking_pose(10, seed=12)
    moved = pose.copy()
    moved[..., :2] += [37.25, -12.5]
    a, b = render_sequence(OPENGAIT, pose).maps, render_sequence(OPENGAIT, moved).maps
    _assert_within_one_level(a, b, min_equal=0.9999)


@pytest.mark.parametrize("name", ["opengait", "recommended"])
def test_frame_grouping_does_not_change_the_output(name):
    # Frames are phase-sorted and rendered in blocks (32 frames on the 128-px canvas, 64 on the 64-px output
    # grid, two blocks a chunk); each frame must come out as if rendered alone.
    pose = walking_pose(150, seed=13)
    spec = preset(name, scale="per_frame")
    whole = render_sequence(spec, pose).maps
    one_by_one = np.concatenate([render_sequence(spec, pose[t : t + 1]).maps for t in range(0, 150, 7)])
    np.testing.assert_array_equal(whole[::7], one_by_one)


def test_knn_fill_runs_before_rendering():
    pose = walking_pose(8, seed=14)
    gappy = pose.copy()
    gappy[3, 13, :2] = 0.0
    with_fill = render_sequence(OPENGAIT, gappy).maps
    assert np.abs(with_fill.astype(int) - render_sequence(OPENGAIT, pose).maps).max() > 0  # fill != truth
    without = render_sequence(preset("opengait", knn_fill=False), gappy).maps
    assert (with_fill[3] != without[3]).any()
    np.testing.assert_array_equal(with_fill[[0, 1, 2, 4]], without[[0, 1, 2, 4]])


def test_low_confidence_interpolation_runs_before_rendering():
    pose = walking_pose(8, seed=15)
    pose[2:5, 9, 2] = 0.1
    pose[2:5, 9, :2] += 40.0  # a wrong, low-confidence wrist
    spec = preset("opengait", low_conf_interpolate=0.5)
    expected = render_sequence(OPENGAIT, interpolate_low_confidence(pose, 0.5)).maps
    np.testing.assert_array_equal(render_sequence(spec, pose).maps, expected)
    assert (render_sequence(OPENGAIT, pose).maps != expected).any()


def test_grey_table_reproduces_matplotlib_gray():
    np.testing.assert_array_equal(grey_table("lut_exact"), grey_lut())
    assert len(LUT_OFF_BY_ONE) == 24
    np.testing.assert_array_equal(grey_table("floor256"), np.arange(256))


def test_exponent_quantiser_equals_float64_exp_then_truncation():
    rng = np.random.default_rng(0)
    e = (rng.random(200_000) * 6.0).astype(np.float32)
    # Exactly at and one float32 step around every threshold trunc(256 exp(-e)) = k.
    k = np.arange(1, 256)
    t = np.log(256.0 / k).astype(np.float32)
    e = np.concatenate([e, t, np.nextafter(t, np.float32(9)), np.nextafter(t, np.float32(-9)), [0.0, 30.0]])
    e = e.astype(np.float32)
    for quantise in ("lut_exact", "floor256"):
        out = np.empty(e.shape, np.uint8)
        levels_from_exponent(e * np.float32(4), out, quantise=quantise)
        index = np.minimum(np.trunc(256.0 * np.exp(-e.astype(np.float64))), 255).astype(np.intp)
        np.testing.assert_array_equal(out, grey_table(quantise)[index])


def test_exponent_quantiser_gives_index_255_at_and_below_zero():
    # A confidence above 1 makes 4 E = E4 negative: trunc(256 exp(-E)) >= 256 -> colormap index 255, -0.0 included.
    e4 = np.array([-0.0, -1e-30, -0.5, -3.0, -1e30, 0.0, 1e-30], np.float32)
    for delta in (0.0, 0.25):
        out = np.empty(e4.shape, np.uint8)
        levels_from_exponent(
            e4, out, quantise="lut_exact", delta=delta, resolve=lambda flat: np.full(flat.shape, 7)
        )
        expected = np.full(e4.shape, 255, np.uint8)
        if delta:  # within 0.25 of the first threshold 4 ln(256/255) = 0.0157: handed to the exact evaluation
            expected[[0, 1, 5, 6]] = 7
        np.testing.assert_array_equal(out, expected)


def test_twice_area_downsample_is_bit_identical_to_opencv():
    rng = np.random.default_rng(1)
    levels = rng.integers(0, 256, (3, 128, 128)).astype(np.uint8)
    levels[:, :, :64] = levels[:, :, :64] // 64 * 64  # many equal 2x2 blocks (sums divisible by 4)
    ours = area_half(levels, (0, 128, 0, 128))
    for f in range(3):
        expected = (cv2.resize(levels[f] / 255.0, (64, 64), interpolation=cv2.INTER_AREA) * 255).astype(
            np.uint8
        )
        np.testing.assert_array_equal(ours[f], expected)


def test_general_area_resample_is_bit_identical_to_opencv():
    rng = np.random.default_rng(2)
    crops = rng.integers(0, 256, (3, 123, 124)).astype(np.uint8)
    crops[:, :, :40] = crops[:, :, :40] // 51 * 51  # flat runs: sums that land on whole grey levels
    canvas = np.zeros((3, 128, 128), np.uint8)
    canvas[:, 2:125, 3:127] = crops
    ours = area_resample(canvas[:, 2:125, 3:127], 64)  # a crop view, as the aligner passes it
    for f in range(3):
        expected = (cv2.resize(crops[f] / 255.0, (64, 64), interpolation=cv2.INTER_AREA) * 255).astype(
            np.uint8
        )
        np.testing.assert_array_equal(ours[f], expected)


def test_block_window_masks_and_affine_terms_equal_plain_numpy():
    # 21 frames (two blocks of 16, the second padded), 3 primitives, some not drawn.
    rng = np.random.default_rng(4)
    lo = rng.uniform(-30, 150, (21, 3))
    x0, x1 = windows(lo, lo + rng.uniform(0, 40, lo.shape), 24.0, 128)
    draw = (rng.random(lo.shape) < 0.8) & (x0 < x1)
    blocks = _Blocks.of(x0, x1, x0, x1, draw, 16)
    pos = blocks.x0[:, :, None, None] + np.arange(blocks.width)  # (n, P, 1, extent)
    expected = (pos >= blocks.pad(x0, 0)[..., None]) & (pos < blocks.pad(x1, 0)[..., None])
    expected &= blocks.pad(draw, False)[..., None]
    np.testing.assert_array_equal(blocks.inside(blocks.x0, x0, x1, draw, blocks.width), expected)
    scale, centre = rng.uniform(-0.3, 0.3, (2, 3, 16)), rng.uniform(-50, 200, (2, 3, 16))
    terms = blocks.affine(blocks.x0, blocks.width, scale, centre)
    direct = scale[..., None] * (pos - centre[..., None])
    bound = 2.0**-51 * (np.abs(scale[..., None] * pos) + np.abs(scale * centre)[..., None])
    assert (np.abs(terms - direct) <= bound).all()


def test_pixel_blocks_hold_more_frames_on_smaller_grids():
    assert [block_frames(g) for g in (256, 128, 96, 64, 32)] == [16, 16, 16, 64, 64]


def test_phase_plane_spans_the_two_leading_principal_axes():
    rng = np.random.default_rng(3)
    basis, _ = np.linalg.qr(rng.standard_normal((34, 34)))
    scatter = (basis * np.r_[9.0, 4.0, np.linspace(1.0, 0.1, 32)]) @ basis.T
    plane = _principal_plane(scatter)
    np.testing.assert_allclose(plane.T @ plane, np.eye(2), atol=1e-12)
    # The singular values of basis[:, :2]^T plane are the cosines of the principal angles between the spans.
    cosines = np.linalg.svd(basis[:, :2].T @ plane, compute_uv=False)
    assert cosines.min() > 0.999
    assert _principal_plane(np.zeros((34, 34))) is None
    rank_one = np.outer(basis[:, 0], basis[:, 0])
    assert _principal_plane(rank_one) is None


@pytest.mark.parametrize("size", [64, 48])
def test_sequence_stats_match_plain_numpy_sums(size):
    rng = np.random.default_rng(size)
    maps = np.zeros((6, 2, size, size), np.uint8)
    maps[:, :, 5 : size - 7, 9 : size - 3] = rng.integers(0, 256, (6, 2, size - 12, size - 12))
    maps[2] = 0  # a blank frame
    stats = sequence_stats(maps, ("limb", "joint"), frames_in=6)
    a = maps.astype(np.float64)
    idx = np.arange(size)
    cols, rows = a.sum(axis=2), a.sum(axis=3)  # (T, C, S)
    keep = [0, 1, 3, 4, 5]
    cx = (cols[keep] * idx).sum(axis=2) / cols[keep].sum(axis=2)
    cy = (rows[keep] * idx).sum(axis=2) / rows[keep].sum(axis=2)
    offsets = np.hypot(cx[:, 0] - cx[:, 1], cy[:, 0] - cy[:, 1])
    assert stats["centroid_offset_mean_px"] == pytest.approx(offsets.mean(), rel=1e-12)
    cut = cut_columns(size)
    total = cols.sum()
    assert stats["cut_mass_fraction"] == pytest.approx(
        (cols[..., :cut].sum() + cols[..., size - cut :].sum()) / total
    )
    assert stats["blank_frames"] == 1 and stats["width_mean_px"] == size - 12


def test_sequence_stats_on_hand_made_maps():
    maps = np.zeros((2, 2, 64, 64), np.uint8)
    maps[0, 0, 10, 0] = 100  # limb: one pixel in the cut columns
    maps[0, 1, 10, 30] = 100  # joint
    maps[0, 0, 20, 30] = 100
    stats = sequence_stats(maps, ("limb", "joint"), frames_in=3, unnormalisable_frames=1, dropped_frames=1)
    assert cut_columns(64) == 10
    assert stats["cut_mass_fraction"] == pytest.approx(1 / 3)
    assert stats["blank_frames"] == 1 and stats["support_frames"] == 1
    assert stats["centroid_offset_mean_px"] == pytest.approx(math.hypot(15.0, 5.0))
    assert stats["width_mean_px"] == 31 and stats["height_mean_px"] == 11
    assert stats["registration_frames"] == 0 and stats["registration_offset_mean_px"] == 0.0
    assert (stats["frames_in"], stats["frames_out"], stats["dropped_frames"]) == (3, 2, 1)


def test_render_stats_are_json_safe_and_aggregate():
    a = render_sequence(preset("recommended"), walking_pose(8, seed=1)).stats
    b = render_sequence(preset("recommended"), walking_pose(6, seed=2)).stats
    assert all(isinstance(v, float) and math.isfinite(v) for v in a.values())
    assert a["registration_offset_mean_px"] == 0.0  # one shared box for both channels
    assert 0.0 <= a["cut_mass_fraction"] < 0.05
    agg = aggregate_stats([a, b])
    assert agg["sequences"] == 2 and agg["frames_in"] == 14
    assert agg["width_std_px_mean"] == pytest.approx((a["width_std_px"] + b["width_std_px"]) / 2)
    assert agg["width_std_px_p95"] == pytest.approx(np.percentile([a["width_std_px"], b["width_std_px"]], 95))
    assert aggregate_stats([]) == {
        "sequences": 0.0,
        **dict.fromkeys(
            (
                "frames_in",
                "frames_out",
                "blank_frames",
                "unnormalisable_frames",
                "dropped_frames",
                "hip_missing_frames",
            ),
            0.0,
        ),
    }


def test_presets_and_spec_validation():
    assert set(PRESET_NAMES) == {"opengait", "recommended"}
    og = preset("opengait")
    assert og == HeatmapSpec(preset="opengait")
    assert og.joints == tuple(range(17)) and len(og.limbs) == 17 and (5, 6) not in og.limbs
    assert og.channel_names == ("limb", "joint")
    rec = preset("recommended")
    assert (rec.align, rec.scale, rec.crop, rec.joint_set) == ("shared", "smoothed", "full_canvas", "body")
    assert (rec.placement, rec.scale_window, rec.margin_sigmas) == ("extent", 45, 3.0)
    assert rec.span_target == 128 - 2 * 3.0 * 8.0 and og.span_target is None
    assert (rec.hip_missing, og.hip_missing) == ("unnormalisable", "draw")
    assert (rec.knn_never_observed, og.knn_never_observed) == ("leave_joint", "keep_all_raw")
    with pytest.raises(BadInputError, match="scale_window must be odd"):
        preset("recommended", scale_window=30)
    with pytest.raises(BadInputError, match="leaves no room"):
        preset("recommended", margin_sigmas=9.0)
    assert rec.joints == tuple(range(5, 17)) and len(rec.limbs) == 11
    assert rec.raster == "output" and og.raster == "canvas"
    assert rec.record()["raster"] == "output"
    with pytest.raises(BadInputError, match=r"raster='output'.*crop='full_canvas'"):
        preset("recommended", crop="content")
    with pytest.raises(ValueError, match="crop='full_canvas'"):
        HeatmapSpec(raster="output")
    assert preset("recommended", crop="content", raster="canvas").crop == "content"
    assert (5, 6) in preset("recommended", shoulder_edge=True).limbs
    record = og.record()
    assert record["algo_version"] == HeatmapSpec.ALGO_VERSION
    assert record["limb_list"][0] == [0, 1] and record["joint_list"] == list(range(17))
    with pytest.raises(BadInputError, match="unknown heatmap preset"):
        preset("fancy")
    with pytest.raises(BadInputError):
        preset("opengait", sigma_limb=-1.0)
    with pytest.raises(BadInputError):
        preset("opengait", colour="red")
    with pytest.raises(BadInputError):
        preset("opengait", channels=("limb", "limb"))
    with pytest.raises(ValueError):
        og.sigma_limb = 3.0  # frozen


def test_recommended_gap_filling_leaves_a_never_observed_joint_alone_and_fills_the_rest():
    pose = walking_pose(30, seed=6)
    pose[:, 0] = 0.0  # the nose, which `body` does not even draw, is never observed
    pose[5:8, 11] = 0.0  # a short left-hip gap
    pose[12, 9] = 0.0  # a wrist gap
    upstream = render_sequence(preset("recommended", knn_never_observed="keep_all_raw"), pose)
    # Upstream's rule: one empty column switches filling off for every joint; the hip gap blanks 3 frames.
    assert upstream.stats["hip_missing_frames"] == 3.0 and upstream.blank_frames == 3
    geo = sequence_geometry(preset("recommended"), pose)
    assert (geo.pose[:, 0, :2] == 0).all()  # left alone, and undrawn
    assert (geo.pose[5:8, 11, :2] != 0).all() and (geo.pose[12, 9, :2] != 0).all()
    np.testing.assert_allclose(geo.pose, reference_knn_fill(pose, leave_empty=True), rtol=0, atol=1e-9)
    result = render_sequence(preset("recommended"), pose)
    assert result.blank_frames == 0 and result.stats["hip_missing_frames"] == 0.0
    # The filled hip places the frame; its confidence stays 0, so the joint itself is not drawn.
    assert geo.pose[6, 11, 2] == 0.0
    expected = reference_render(
        reference_knn_fill(pose, leave_empty=True), raster="output", **_RECOMMENDED_REFERENCE
    )
    _assert_equal(result.maps, expected)


def test_recommended_blanks_frames_whose_hip_was_never_observed_and_counts_them():
    pose = walking_pose(20, seed=7)
    pose[:, 12] = 0.0
    result = render_sequence(preset("recommended"), pose)
    assert result.blank_frames == 20 and result.stats["hip_missing_frames"] == 20.0
    assert not result.maps.any()
