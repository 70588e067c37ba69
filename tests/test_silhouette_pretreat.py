"""The silhouette pretreatment is bit-exact with a literal, loop-based port of upstream ``imgs2pickle``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gaitprep.errors import BadInputError
from gaitprep.silhouettes import (
    DROP_LOW_MASS,
    DROP_NO_CENTER,
    DROP_REASONS,
    DROP_ZERO_WIDTH,
    SilhouetteSpec,
    pretreat_frame,
    pretreat_frame_with_reason,
    pretreat_sequence,
)


def slow_pretreat(img: np.ndarray) -> np.ndarray | None:
    """Upstream ``imgs2pickle`` for one frame, written with plain Python loops (cv2.resize reused)."""
    rows = img.tolist()
    total = sum(sum(row) for row in rows)
    if total <= 10000:
        return None
    nonempty = [r for r, row in enumerate(rows) if sum(row) != 0]
    crop = img[nonempty[0] : nonempty[-1] + 1, :]
    ratio = crop.shape[1] / crop.shape[0]
    resized = cv2.resize(crop, (int(64 * ratio), 64), interpolation=cv2.INTER_CUBIC)
    grid = resized.tolist()
    width = len(grid[0])
    total = sum(sum(row) for row in grid)
    x_center, csum = None, 0
    for c in range(width):
        csum += sum(grid[y][c] for y in range(64))
        if csum > total / 2:
            x_center = c
            break
    if not x_center:
        return None
    left, right = x_center - 32, x_center + 32
    if left <= 0 or right >= width:
        left, right = left + 32, right + 32
        grid = [[0] * 32 + row + [0] * 32 for row in grid]
    return np.array([[grid[y][c] for c in range(left, right)] for y in range(64)], dtype=np.uint8)


def _blank(h: int = 90, w: int = 160) -> np.ndarray:
    return np.zeros((h, w), dtype=np.uint8)


def _person(h: int = 90, w: int = 160, cx: int = 80) -> np.ndarray:
    img = _blank(h, w)
    cv2.ellipse(img, (cx, 20), (6, 8), 0, 0, 360, 255, -1)
    cv2.rectangle(img, (cx - 10, 28), (cx + 10, 55), 255, -1)
    cv2.line(img, (cx - 5, 55), (cx - 8, 85), 255, 5)
    cv2.line(img, (cx + 5, 55), (cx + 9, 85), 255, 5)
    return img


def _check_against_reference(img: np.ndarray) -> np.ndarray | None:
    fast = pretreat_frame(img)
    slow = slow_pretreat(img)
    if slow is None:
        assert fast is None
    else:
        assert fast is not None and fast.dtype == np.uint8 and fast.shape == (64, 64)
        np.testing.assert_array_equal(fast, slow)
    return fast


def test_normal_frame_matches_reference_and_is_greyscale():
    out = _check_against_reference(_person())
    assert out is not None
    values = np.unique(out)
    assert 0 < len(values[(values > 0) & (values < 255)])  # cubic resampling leaves grey edges
    # centred on the mass median: columns left and right of centre carry about the same mass
    col = out.sum(axis=0, dtype=np.int64)
    assert abs(col[:32].sum() - col[32:].sum()) < 0.15 * col.sum()


def test_low_mass_boundary_is_inclusive():
    img = _blank()
    img[40, 50:90] = 250  # sum exactly 10,000: dropped (upstream tests <= 10000)
    assert slow_pretreat(img) is None
    assert pretreat_frame_with_reason(img) == (None, DROP_LOW_MASS)
    img[41, 70] = 1  # 10,001: kept
    kept = _check_against_reference(img)
    assert kept is not None


def test_frame_touching_the_left_border_is_zero_padded():
    img = _blank()
    img[10:80, 0:12] = 255
    out = _check_against_reference(img)
    assert out is not None
    assert out[:, :5].sum() == 0  # padding columns on the left
    assert out[:, 32:40].sum() > 0


def test_frame_touching_the_right_border_is_zero_padded():
    img = _blank()
    img[5:88, 150:160] = 255
    img[30:40, 140:150] = 200
    out = _check_against_reference(img)
    assert out is not None
    assert out[:, -5:].sum() == 0


def test_wider_than_tall_frame_matches_reference():
    img = _blank()
    img[40:50, 5:155] = 255  # crop is 10 x 160: resized to 64 x 1024
    img[44:46, 60:100] = 90
    _check_against_reference(img)
    assert pretreat_frame(img) is not None


def test_mass_in_column_zero_is_dropped_as_no_center():
    img = _blank()
    img[10:80, 0] = 255
    assert slow_pretreat(img) is None
    assert pretreat_frame_with_reason(img) == (None, DROP_NO_CENTER)


def test_too_narrow_crop_is_dropped_where_upstream_would_crash():
    img = np.zeros((200, 2), dtype=np.uint8)
    img[:, :] = 255  # int(64 * 2 / 200) == 0
    with pytest.raises(cv2.error):
        slow_pretreat(img)
    assert pretreat_frame_with_reason(img) == (None, DROP_ZERO_WIDTH)


def test_random_masks_match_reference():
    rng = np.random.default_rng(3)
    for _ in range(25):
        h, w = int(rng.integers(40, 120)), int(rng.integers(30, 200))
        img = np.zeros((h, w), dtype=np.uint8)
        for _ in range(int(rng.integers(1, 5))):
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(1, w // 2 + 2)), int(rng.integers(1, h // 2 + 2)))
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, int(rng.integers(1, 256)), -1)
        _check_against_reference(img)


def test_sequence_keeps_order_and_counts_drops_by_reason():
    low = _blank()
    low[0, 0:10] = 255
    column0 = _blank()
    column0[10:80, 0] = 255
    a, b = _person(cx=60), _person(cx=100)
    frames = [a, low, column0, b, low]
    out, drops = pretreat_sequence(frames)
    assert out.shape == (2, 64, 64) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], slow_pretreat(a))
    np.testing.assert_array_equal(out[1], slow_pretreat(b))
    assert drops == {DROP_LOW_MASS: 2, DROP_NO_CENTER: 1, DROP_ZERO_WIDTH: 0}
    assert set(drops) == set(DROP_REASONS)


def test_all_dropped_sequence_is_empty_with_frame_shape():
    out, drops = pretreat_sequence(iter([_blank(), _blank()]))
    assert out.shape == (0, 64, 64) and out.dtype == np.uint8
    assert drops[DROP_LOW_MASS] == 2


def test_spec_threshold_and_size_are_parameters():
    img = _person()
    assert pretreat_frame(img, SilhouetteSpec(min_mass=int(img.sum()))) is None
    assert pretreat_frame(img, SilhouetteSpec(img_size=32)).shape == (32, 32)
    with pytest.raises(ValueError):
        SilhouetteSpec(img_size=63)


@pytest.mark.parametrize(
    "bad", [np.zeros((10, 10), dtype=np.float32), np.zeros((10, 10, 3), dtype=np.uint8), [[0, 1]]]
)
def test_rejects_non_uint8_2d_frames(bad):
    with pytest.raises(BadInputError, match="2-D uint8"):
        pretreat_frame(bad)
