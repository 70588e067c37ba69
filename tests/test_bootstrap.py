"""Bootstrap intervals and calibration: the vectorised statistics equal scikit-learn's on the same resamples,
intervals bracket their estimates and are reproducible, ECE against a hand-computed case."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from gaitmodels.bootstrap import (
    bootstrap_ci,
    paired_macro_f1_difference,
    resample_counts,
    weighted_accuracy,
    weighted_macro_auc,
    weighted_macro_f1,
)
from gaitmodels.calibration import reliability


def _scored(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    probs = rng.dirichlet([1, 1, 1], n)
    probs[np.arange(n), truth] += rng.uniform(0, 0.6, n)
    probs = np.round(probs / probs.sum(1, keepdims=True), 2)  # rounded: ties in the scores
    probs[:, 2] = 1 - probs[:, :2].sum(1)
    assert (probs >= 0).all()
    return truth, probs


def test_resample_counts_are_draws_of_n_with_replacement_reproducible_by_seed():
    w = resample_counts(7, 50, seed=3)
    assert w.shape == (50, 7) and (w.sum(1) == 7).all()
    np.testing.assert_array_equal(w, resample_counts(7, 50, seed=3))
    assert not np.array_equal(w, resample_counts(7, 50, seed=4))


def test_vectorised_statistics_equal_scikit_learn_on_the_resampled_sequences():
    truth, probs = _scored(40, seed=1)
    pred = probs.argmax(1)
    draws = np.random.default_rng(0).integers(0, 40, size=(25, 40))
    w = np.stack([np.bincount(d, minlength=40) for d in draws]).astype(float)
    acc, f1, auc = (
        weighted_accuracy(w, truth, pred),
        weighted_macro_f1(w, truth, pred, 3),
        weighted_macro_auc(w, truth, probs),
    )
    for b, d in enumerate(draws):
        t, p, s = truth[d], pred[d], probs[d]
        assert acc[b] == pytest.approx(accuracy_score(t, p), abs=1e-12)
        assert f1[b] == pytest.approx(f1_score(t, p, average="macro", zero_division=0), abs=1e-12)
        present = [c for c in range(3) if 0 < (t == c).sum() < t.size]
        expected = np.mean([roc_auc_score(t == c, s[:, c]) for c in present])
        assert auc[b] == pytest.approx(expected, abs=1e-12)
        if len(present) == 3:
            assert auc[b] == pytest.approx(roc_auc_score(t, s, multi_class="ovr", average="macro"), abs=1e-12)


def test_intervals_bracket_their_estimates_and_are_recorded():
    truth, probs = _scored(120, seed=2)
    pred = probs.argmax(1)
    ci = bootstrap_ci(truth, probs)
    assert (ci["resamples"], ci["seed"]) == (2000, 0) and ci["macro_auc_resamples"] == 2000
    estimates = {
        "accuracy": 100 * accuracy_score(truth, pred),
        "macro_f1": 100 * f1_score(truth, pred, average="macro", zero_division=0),
        "macro_auc": 100 * roc_auc_score(truth, probs, multi_class="ovr", average="macro"),
    }
    for key, value in estimates.items():
        low, high = ci[key]
        assert low < value < high and high - low < 40, (key, low, value, high)
    assert bootstrap_ci(truth, probs) == ci  # seeded: the same interval every time
    assert bootstrap_ci(truth, probs, seed=1) != ci


def test_paired_difference_of_identical_predictions_is_exactly_zero_and_of_a_better_model_positive():
    truth, probs = _scored(80, seed=4)
    pred = probs.argmax(1)
    same = paired_macro_f1_difference(truth, pred, pred, 3)
    assert same["difference"] == 0.0 and same["ci95"] == [0.0, 0.0]
    better = paired_macro_f1_difference(truth, truth, pred, 3, resamples=500)
    expected = 100 * (1 - f1_score(truth, pred, average="macro", zero_division=0))
    assert better["difference"] == round(expected, 2)
    assert 0 < better["ci95"][0] < better["difference"] < better["ci95"][1]
    assert better["a_better_share"] == 1.0


def test_ece_and_reliability_bins_against_a_hand_computed_case():
    # confidences 0.9, 0.9, 0.6, 0.4: bins (13/15, 14/15], (8/15, 9/15], (5/15, 6/15]
    probs = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]])
    truth = np.array([0, 0, 0, 2])  # right, wrong, right, right
    rel = reliability(truth, probs)
    # |0.5 - 0.9| * 2/4 + |1 - 0.6| * 1/4 + |1 - 0.4| * 1/4 = 0.2 + 0.1 + 0.15
    assert rel["ece"] == 45.0 and rel["bins"] == 15
    assert [(r["count"], r["accuracy"], r["confidence"]) for r in rel["reliability"]] == [
        (1, 100.0, 40.0),
        (1, 100.0, 60.0),
        (2, 50.0, 90.0),
    ]


def test_reliability_bins_are_scikit_learns_calibration_curve():
    truth, probs = _scored(300, seed=6)
    rel = reliability(truth, probs)
    correct = probs.argmax(1) == truth
    prob_true, prob_pred = calibration_curve(correct, probs.max(1), n_bins=15, strategy="uniform")
    assert [r["accuracy"] for r in rel["reliability"]] == [round(100 * v, 2) for v in prob_true]
    assert [r["confidence"] for r in rel["reliability"]] == [round(100 * v, 2) for v in prob_pred]
    counts = np.array([r["count"] for r in rel["reliability"]])
    ece = np.sum(counts / 300 * np.abs(prob_true - prob_pred))
    assert rel["ece"] == round(100 * ece, 2)
