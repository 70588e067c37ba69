"""P x K triplet batches, frame sampling and the load-time cut."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from gaitmodels.sampling import TripletSampler, all_ordered, cut_transform, fixed_ordered, fixed_unordered

# 6 ids: "a" and "b" have 3 sequences each, the rest one each (as every id on Scoliosis1K).
LABELS = ["a", "a", "a", "b", "b", "b", "c", "d", "e", "f"]


def test_triplet_batches_hold_p_distinct_ids_k_times_each():
    sampler = TripletSampler(LABELS, p=4, k=2, seed=0)
    for batch in itertools.islice(iter(sampler), 20):
        assert len(batch) == 8
        per_id = Counter(LABELS[i] for i in batch)
        assert len(per_id) == 4 and set(per_id.values()) == {2}


def test_ids_with_fewer_than_k_sequences_are_sampled_with_replacement():
    sampler = TripletSampler(LABELS, p=6, k=4, seed=1)
    batch = sampler.full_batch(0)
    assert Counter(batch)[LABELS.index("c")] == 4  # one sequence, four copies
    for id_ in ("a", "b"):
        picks = [i for i in batch if LABELS[i] == id_]
        assert len(picks) == 4 and set(picks) <= {i for i, lab in enumerate(LABELS) if lab == id_}
    distinct = TripletSampler(LABELS, p=6, k=3, seed=1).full_batch(0)
    assert sorted(i for i in distinct if LABELS[i] == "a") == [0, 1, 2]  # enough sequences: no repeats


def test_triplet_sampler_is_deterministic_for_a_seed_and_resumable():
    first = list(itertools.islice(iter(TripletSampler(LABELS, p=3, k=2, seed=7)), 5))
    again = list(itertools.islice(iter(TripletSampler(LABELS, p=3, k=2, seed=7)), 5))
    other = list(itertools.islice(iter(TripletSampler(LABELS, p=3, k=2, seed=8)), 5))
    resumed = list(itertools.islice(iter(TripletSampler(LABELS, p=3, k=2, seed=7, start_step=3)), 2))
    assert first == again and first != other and resumed == first[3:]


def test_batches_are_shuffled_rather_than_grouped_by_id():
    batches = itertools.islice(iter(TripletSampler(LABELS, p=4, k=2, seed=0)), 20)
    grouped = [all(LABELS[b[2 * j]] == LABELS[b[2 * j + 1]] for j in range(4)) for b in batches]
    assert not all(grouped)
    unshuffled = TripletSampler(LABELS, p=4, k=2, seed=0, shuffle=False).full_batch(0)
    assert all(LABELS[unshuffled[2 * j]] == LABELS[unshuffled[2 * j + 1]] for j in range(4))


def test_ranks_split_one_shared_batch_by_striding():
    ranks = [TripletSampler(LABELS, p=4, k=2, seed=3, rank=r, world_size=2) for r in range(2)]
    full = ranks[0].full_batch(5)
    assert ranks[1].full_batch(5) == full  # no communication needed: batch b depends on (seed, b) only
    assert ranks[0].batch(5) == full[0::2] and ranks[1].batch(5) == full[1::2]
    assert len(ranks[0].batch(5)) == 4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p": 7, "k": 2},
        {"p": 3, "k": 3, "world_size": 2},
        {"p": 2, "k": 2, "rank": 2, "world_size": 2},
        {"p": 0, "k": 2},
    ],
)
def test_impossible_sampler_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        TripletSampler(LABELS, **kwargs)


def test_fixed_unordered_draws_without_replacement_when_possible():
    idx = fixed_unordered(100, 30, np.random.default_rng(0))
    assert idx.shape == (30,) and idx.dtype == np.int64
    assert len(set(idx.tolist())) == 30 and idx.min() >= 0 and idx.max() < 100
    assert not np.all(np.diff(idx) > 0)  # left unsorted
    np.testing.assert_array_equal(idx, fixed_unordered(100, 30, np.random.default_rng(0)))


def test_fixed_unordered_repeats_frames_of_a_short_sequence():
    idx = fixed_unordered(5, 30, np.random.default_rng(0))
    assert idx.shape == (30,) and set(idx.tolist()) <= set(range(5))


def test_fixed_ordered_is_a_contiguous_window_in_order():
    rng = np.random.default_rng(2)
    for _ in range(20):
        idx = fixed_ordered(50, 10, rng)
        assert idx.shape == (10,) and np.all(np.diff(idx) == 1) and 0 <= idx[0] <= 40


def test_fixed_ordered_wraps_a_short_sequence_end_to_start():
    idx = fixed_ordered(5, 8, np.random.default_rng(4))
    assert idx.shape == (8,)
    assert np.all((np.diff(idx) % 5) == 1)  # 3, 4, 0, 1, ...: in order, wrapping


def test_fixed_ordered_with_skip_keeps_sorted_frames_of_a_wider_window():
    rng = np.random.default_rng(5)
    for _ in range(20):
        idx = fixed_ordered(100, 10, rng, skip=5)
        assert np.all(np.diff(idx) >= 1) and idx[-1] - idx[0] <= 14


def test_all_ordered_keeps_the_first_720_frames():
    np.testing.assert_array_equal(all_ordered(300), np.arange(300))
    assert all_ordered(1000).tolist() == list(range(720))
    assert all_ordered(1000, max_frames=None).shape == (1000,)
    with pytest.raises(ValueError):
        all_ordered(0)


def test_cut_transform_removes_10_columns_each_side_and_scales_to_unit_range():
    x = np.random.default_rng(0).integers(0, 256, size=(3, 64, 64), dtype=np.uint8)
    out = cut_transform(x)
    assert out.shape == (3, 64, 44) and out.dtype == np.float32
    np.testing.assert_array_equal(out, (x[..., 10:54] / 255.0).astype(np.float32))
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert cut_transform(np.full((2, 2, 64, 64), 255, np.uint8)).shape == (2, 2, 64, 44)  # maps, 2 channels


def test_cut_transform_width_rule_for_other_widths():
    assert cut_transform(np.zeros((1, 64, 44), np.uint8)).shape == (1, 64, 44)  # cut 0: kept whole
    assert cut_transform(np.zeros((1, 128, 128), np.uint8)).shape == (1, 128, 88)  # cut 20


def test_cut_transform_refuses_float_input():
    with pytest.raises(ValueError, match="uint8"):
        cut_transform(np.zeros((1, 64, 64), np.float32))
