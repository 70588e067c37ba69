"""``--preset opengait`` against upstream OpenGait's own output: 0 differing pixels on all 48 golden arrays.

The arrays in ``tests/golden/`` come from the unmodified upstream code (see its README); they include frames
whose hip stays (0, 0) after gap filling, which upstream draws, centred on the midpoint of (0, 0) and the other
hip.
"""

from __future__ import annotations

import io
import lzma
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from gaitprep.heatmaps import preset, render_sequence
from tests.heatmap_reference import reference_knn_fill, reference_render

GOLDEN = Path(__file__).parent / "golden"


@cache
def _poses() -> dict[str, np.ndarray]:
    return dict(np.load(GOLDEN / "poses.npz"))


@cache
def _maps() -> dict[str, np.ndarray]:
    return dict(np.load(io.BytesIO(lzma.decompress((GOLDEN / "upstream_maps.npz.xz").read_bytes()))))


def test_golden_set_holds_48_arrays_of_16_poses_at_three_sigmas():
    keys = sorted(_maps())
    assert len(keys) == 48 and len(_poses()) == 16
    assert {k.split("/")[0] for k in keys} == {"sigma4", "sigma8", "sigma15.5"}


@pytest.mark.parametrize("sigma", ["4", "8", "15.5"])
def test_opengait_preset_reproduces_every_upstream_array_bit_for_bit(sigma):
    spec = preset("opengait", sigma_limb=float(sigma), sigma_joint=float(sigma))
    for name, pose in sorted(_poses().items()):
        expected = _maps()[f"sigma{sigma}/{name}"]
        result = render_sequence(spec, pose)
        assert result.maps.shape == expected.shape, name
        differing = int((result.maps != expected).sum())
        assert differing == 0, f"{name}: {differing} pixels differ from upstream"


def test_frames_whose_hip_stays_missing_are_drawn_counted_and_match_upstream():
    # The left ear is never observed, so upstream's gap filling falls back to the raw data and the left hip
    # stays (0, 0) in frames 10-13 (and in a few random gaps): upstream draws those frames all the same.
    pose = _poses()["edge_missing_hip_never_seen_ear"]
    hip_missing = ((pose[:, 11, :2] == 0).all(axis=1)) | ((pose[:, 12, :2] == 0).all(axis=1))
    assert hip_missing[10:14].all()
    result = render_sequence(preset("opengait"), pose)
    assert result.stats["hip_missing_frames"] == float(hip_missing.sum())
    assert result.blank_frames == 0 and result.maps[hip_missing].any(axis=(1, 2, 3)).all()
    np.testing.assert_array_equal(result.maps, _maps()["sigma8/edge_missing_hip_never_seen_ear"])
    # The independent reference says the same.
    np.testing.assert_array_equal(reference_render(reference_knn_fill(pose)), result.maps)


@pytest.mark.parametrize(
    "name", ["walk03", "edge_confidence_at_eps", "edge_wrist_far_off", "edge_short_legs"]
)
def test_reference_reproduces_upstream_on_golden_poses(name):
    # The slow reference is the oracle for poses upstream was not run on (synthetic and real walking).
    pose = _poses()[name]
    np.testing.assert_array_equal(reference_render(reference_knn_fill(pose)), _maps()[f"sigma8/{name}"])
