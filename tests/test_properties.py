"""Property tests (hypothesis): the renderer's output range and invariances, channel registration under
shared alignment, and tamper detection by ``verify_dataset``. Each property runs ~50 examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gaitprep.errors import BadInputError
from gaitprep.heatmaps import canvas_pose, render_sequence
from gaitprep.heatmaps.spec import preset
from gaitprep.verify import verify_dataset

PROPS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PRESETS = ("opengait", "recommended")

# A standing person (COCO-17, image px): a realistic base that the strategies perturb.
STAND = np.array(
    [
        (160, 40), (154, 34), (166, 34), (146, 38), (174, 38), (140, 70), (180, 70), (132, 105), (188, 105),
        (128, 138), (192, 138), (148, 140), (172, 140), (146, 182), (174, 182), (145, 222), (175, 222),
    ],
    dtype=np.float64,
)  # fmt: skip

coordinate = st.one_of(
    st.just(0.0),  # the upstream "missing" marker
    st.floats(-1e-6, 1e-6, allow_nan=False),  # tiny
    st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),  # huge
    st.floats(-50.0, 700.0, allow_nan=False),  # image-sized
)
confidence = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0, allow_nan=False))


@st.composite
def any_finite_pose(draw) -> np.ndarray:
    """``float64 (T, 17, 3)``, T in 1..4: arbitrary finite coordinates (zeros, tiny, huge) and confidences."""
    t = draw(st.integers(1, 4))
    xy = draw(arrays(np.float64, (t, 17, 2), elements=coordinate))
    c = draw(arrays(np.float64, (t, 17, 1), elements=confidence))
    return np.concatenate([xy, c], axis=2)


@st.composite
def walking_pose(draw, conf: str = "any") -> np.ndarray:
    """``float64 (T, 17, 3)``: the standing person moved, stretched and jittered; coordinates are multiples of
    1/8 px (so sums and differences are exact), far from 0 (no joint is 'missing')."""
    t = draw(st.integers(1, 3))
    jitter = draw(arrays(np.int64, (t, 17, 2), elements=st.integers(-160, 160))) / 8.0
    stretch = draw(st.sampled_from([0.5, 1.0, 1.5, 2.0]))
    xy = 400.0 + (STAND - STAND[[11, 12]].mean(axis=0)) * stretch + jitter
    if conf == "ones":
        c = np.ones((t, 17, 1))
    else:
        c = draw(arrays(np.float64, (t, 17, 1), elements=st.sampled_from([0.0, 0.5, 0.875, 1.0])))
    return np.concatenate([xy, c], axis=2)


# --- output range ---------------------------------------------------------------------------------------------


@PROPS
@given(pose=any_finite_pose(), name=st.sampled_from(PRESETS))
def test_renderer_output_is_uint8_with_finite_statistics_for_any_finite_pose(
    pose: np.ndarray, name: str
) -> None:
    spec = preset(name)
    result = render_sequence(spec, pose)
    maps = result.maps
    assert maps.dtype == np.uint8
    assert maps.shape == (pose.shape[0], len(spec.channels), spec.size, spec.size)
    assert 0 <= int(maps.min()) and int(maps.max()) <= 255
    assert all(np.isfinite(v) for v in result.stats.values()), result.stats
    # Frames that could not be normalised are blank, and counted.
    assert result.blank_frames + result.dropped_frames <= pose.shape[0]
    blank = ~maps.reshape(maps.shape[0], -1).any(axis=1)
    assert blank.sum() >= result.blank_frames
    json.dumps(result.stats, allow_nan=False)  # manifest-safe


@PROPS
@given(pose=walking_pose(conf="ones"), name=st.sampled_from(PRESETS))
def test_renderer_draws_something_for_every_frame_of_a_plausible_pose(pose: np.ndarray, name: str) -> None:
    """The range test above would pass for an all-zero renderer: a real person must leave ink."""
    maps = render_sequence(preset(name), pose).maps
    assert maps.reshape(maps.shape[0], maps.shape[1], -1).max(axis=2).min() > 100


# --- translation invariance ---------------------------------------------------------------------------------


@PROPS
@given(
    pose=walking_pose(),
    dx=st.integers(-300, 300),
    dy=st.integers(-300, 300),
    name=st.sampled_from(PRESETS),
)
def test_translating_the_pose_does_not_change_the_maps(pose: np.ndarray, dx: int, dy: int, name: str) -> None:
    """Maps are hip-centred, so a whole-pixel translation changes nothing. Coordinates are multiples of 1/8
    px and stay far from 0, so every difference is exact: bit-identical output, no tolerance."""
    moved = pose.copy()
    moved[..., 0] += dx
    moved[..., 1] += dy
    spec = preset(name)
    a, b = render_sequence(spec, pose), render_sequence(spec, moved)
    np.testing.assert_array_equal(a.maps, b.maps)


# --- shared alignment registers the channels ---------------------------------------------------------------


def _extent(plane: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(plane.any(axis=1))
    cols = np.flatnonzero(plane.any(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


SHARED_SPECS = {
    "opengait+shared": dict(name="opengait", align="shared"),
    "recommended": dict(name="recommended"),
}


@PROPS
@given(
    pose=walking_pose(conf="ones"),
    which=st.sampled_from(sorted(SHARED_SPECS)),
    sigma=st.sampled_from([4.0, 8.0]),
)
def test_shared_alignment_registers_limb_and_joint_channels(
    pose: np.ndarray, which: str, sigma: float
) -> None:
    """Under shared alignment both channels are cut from one crop box. With every joint drawn and equal
    sigmas, each joint is an end of a drawn limb, so the two channels' supports have the same extent: the
    same rows and columns (to 1 output px of window truncation) in the output."""
    opts = dict(SHARED_SPECS[which])
    spec = preset(opts.pop("name"), sigma_limb=sigma, sigma_joint=sigma, **opts)
    # A joint off the canvas draws no blob while its limb still enters the canvas, so the extents can only
    # agree when every drawn joint lies on the canvas.
    q, valid = canvas_pose(spec, pose)
    drawn = q[valid][..., 2] >= spec.eps
    xy = q[valid][..., :2][drawn]
    assume(((xy >= 0) & (xy <= spec.canvas - 1)).all())
    result = render_sequence(spec, pose)
    li, ji = spec.channel_names.index("limb"), spec.channel_names.index("joint")
    for f in range(result.maps.shape[0]):
        limb, joint = result.maps[f, li], result.maps[f, ji]
        assert limb.any() and joint.any()
        diff = np.abs(np.subtract(_extent(limb), _extent(joint)))
        assert diff.max() <= 1, (f, _extent(limb), _extent(joint))
    assert result.stats["registration_offset_mean_px"] == 0.0
    assert result.stats["registration_frames"] == pose.shape[0]


@PROPS
@given(pose=walking_pose(), which=st.sampled_from(sorted(SHARED_SPECS)))
def test_shared_alignment_has_zero_registration_offset_whatever_is_drawn(
    pose: np.ndarray, which: str
) -> None:
    opts = dict(SHARED_SPECS[which])
    stats = render_sequence(preset(opts.pop("name"), **opts), pose).stats
    assert stats["registration_offset_mean_px"] == 0.0 and stats["registration_offset_p95_px"] == 0.0


def test_per_channel_alignment_misregisters_when_only_the_joint_channel_reaches_the_top() -> None:
    """The contrast that makes the properties above meaningful: upstream per-channel alignment cuts each
    channel from its own support. A wrist raised above the head with its elbow undetected is drawn in the
    joint channel only (its one limb needs the elbow), so that channel's box is taller and the same body
    lands at different places in the two channels."""
    pose = np.concatenate([400.0 + STAND - STAND[[11, 12]].mean(axis=0), np.ones((17, 1))], axis=1)[None]
    pose[0, 9, :2] = (pose[0, 5, 0] - 6.0, pose[0, 0, 1] - 200.0)  # left wrist 200 px above the nose
    pose[0, 7, 2] = 0.0  # left elbow undetected: limbs (5, 7) and (7, 9) are not drawn
    per_channel = render_sequence(preset("opengait"), pose)
    shared = render_sequence(preset("opengait", align="shared"), pose)
    assert per_channel.stats["registration_offset_mean_px"] > 1.0
    assert shared.stats["registration_offset_mean_px"] == 0.0
    li, ji = 0, 1
    # per-channel: each channel fills the full height from its own top, so the bodies do not line up
    pl, pj = _extent(per_channel.maps[0, li]), _extent(per_channel.maps[0, ji])
    assert (pl[0], pl[1]) == (pj[0], pj[1]) and (pl[3] - pl[2]) - (pj[3] - pj[2]) >= 2
    # shared: the bottom rows agree; only the raised wrist extends the joint channel upwards
    sl, sj = _extent(shared.maps[0, li]), _extent(shared.maps[0, ji])
    assert abs(sl[1] - sj[1]) <= 1 and sj[0] < sl[0] - 2


# --- tamper detection ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small skeleton-map dataset in both formats (Zarr chunks and metadata, OpenGait pickles)."""
    from corpus.make_corpus import write_tree

    from gaitprep.build.datasets import BuildOptions, build_heatmaps

    root = tmp_path_factory.mktemp("props")
    tree = write_tree(root / "pose-pkl", "pose-pkl", n=2, frames=3)
    build_heatmaps(tree, root / "maps", preset("opengait"), options=BuildOptions(fmt="both", quiet=True))
    return root / "maps"


def _flip(path: Path, offset: int, xor: int) -> bytes:
    data = path.read_bytes()
    changed = bytearray(data)
    changed[offset % len(data)] ^= xor
    path.write_bytes(bytes(changed))
    return data


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 10_000), offset=st.integers(0, 1 << 30), xor=st.integers(1, 255))
def test_any_single_byte_change_to_any_data_file_fails_files_level_verification(
    dataset: Path, index: int, offset: int, xor: int
) -> None:
    from gaitprep.manifest import load_manifest

    files = [f.path for f in load_manifest(dataset).files]
    rel = files[index % len(files)]
    original = _flip(dataset / rel, offset, xor)
    try:
        report = verify_dataset(dataset, "files")
    finally:
        (dataset / rel).write_bytes(original)
    assert not report.ok
    assert [p.path for p in report.problems] == [rel], report.problems


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(0, 1 << 30), xor=st.integers(1, 255))
def test_any_meaningful_single_byte_change_to_the_manifest_is_caught(
    dataset: Path, offset: int, xor: int
) -> None:
    """A changed manifest either no longer loads (bad input, exit 1) or fails verification (exit 3), unless
    the change is meaningless by design: whitespace, or the unhashed provenance (time, host, durations)."""
    mpath = dataset / "manifest.json"
    original = _flip(mpath, offset, xor)
    try:
        changed = mpath.read_bytes()
        try:
            same = json.loads(changed)
            same.pop("provenance", None)
            before = json.loads(original)
            before.pop("provenance", None)
            meaningless = same == before
        except ValueError:  # includes UnicodeDecodeError
            meaningless = False
        assume(not meaningless)
        try:
            report = verify_dataset(dataset, "files")
        except BadInputError as exc:
            assert str(mpath) in str(exc)
            return
        assert not report.ok
        assert any(p.path == "manifest.json" for p in report.problems), report.problems
    finally:
        mpath.write_bytes(original)
    assert verify_dataset(dataset, "files").ok
