"""Confusion matrix, upstream-style macro metrics, specificity / NPV / AUC and the screening views against
hand-computed values and scikit-learn; the confusion image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from gaitmodels.metrics import (
    classification_report,
    confusion_matrix,
    render_confusion_image,
    save_confusion_png,
    screening_views,
)

NAMES = ("negative", "neutral", "positive")


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 1, 0, 1, 2, 2, 2, 2, 0]
    expected = [[2, 1, 0], [0, 1, 1], [1, 0, 3]]
    assert confusion_matrix(y_true, y_pred).tolist() == expected
    assert confusion_matrix(torch.tensor(y_true), np.array(y_pred)).tolist() == expected


def test_report_matches_hand_computed_values():
    # matrix [[2, 1, 0], [0, 1, 1], [1, 0, 3]]: P = (2/3, 1/2, 3/4), R = (2/3, 1/2, 3/4)
    report = classification_report([0, 0, 0, 1, 1, 2, 2, 2, 2], [0, 1, 0, 1, 2, 2, 2, 2, 0], NAMES)
    assert report["n"] == 9
    assert report["accuracy"] == 66.67  # 6 / 9
    assert report["macro_precision"] == 63.89  # (2/3 + 1/2 + 3/4) / 3 = 0.638888...
    assert report["macro_recall"] == 63.89
    assert report["macro_f1"] == 63.89
    # positive vs rest: tn = 2 + 1 + 0 + 1 = 4, fp = 1 (a neutral), fn = 1 (predicted negative)
    assert report["per_class"]["positive"] == {
        "precision": 75.0, "recall": 75.0, "f1": 75.0, "specificity": 80.0, "ppv": 75.0, "npv": 80.0,
        "support": 4,
    }  # fmt: skip
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [1, 0, 3]]
    assert report["class_names"] == list(NAMES)


def test_a_class_never_predicted_scores_zero_precision_and_f1():
    # truth 4 neg, 2 neu, 2 pos; the model never says neutral.
    y_true = [0, 0, 0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 2, 0, 2, 2, 2]
    report = classification_report(y_true, y_pred, NAMES)
    neutral = report["per_class"]["neutral"]
    assert (neutral["precision"], neutral["recall"], neutral["f1"], neutral["support"]) == (0.0, 0.0, 0.0, 2)
    assert neutral["specificity"] == 100.0 and neutral["npv"] == 75.0  # tn 6, fp 0, fn 2
    # negative: P = 3/4, R = 3/4, F1 = 3/4; positive: P = 2/4, R = 2/2, F1 = 2/3
    assert report["per_class"]["negative"]["f1"] == 75.0
    positive = report["per_class"]["positive"]
    assert (positive["precision"], positive["recall"], positive["f1"]) == (50.0, 100.0, 66.67)
    assert report["accuracy"] == 62.5
    assert report["macro_precision"] == round(100 * (0.75 + 0 + 0.5) / 3, 2)  # 41.67
    assert report["macro_recall"] == round(100 * (0.75 + 0 + 1.0) / 3, 2)  # 58.33
    assert report["macro_f1"] == round(100 * (0.75 + 0 + 2 / 3) / 3, 2)  # 47.22


def test_headline_macro_averages_over_classes_present_like_upstream_and_all_three_beside_it():
    # No neutral in truth or prediction. truth 3 neg, 3 pos; the model calls one negative positive.
    # negative: P 2/2, R 2/3, F1 4/5; positive: P 3/4, R 3/3, F1 6/7.
    # upstream (classes present): P (1 + 3/4)/2 = 87.5, R (2/3 + 1)/2 = 83.33, F1 (4/5 + 6/7)/2 = 82.86
    # all three (neutral counts 0): P 58.33, R 55.56, F1 55.24
    report = classification_report([0, 0, 0, 2, 2, 2], [0, 0, 2, 2, 2, 2], NAMES)
    assert report["accuracy"] == 83.33
    assert (report["macro_precision"], report["macro_recall"], report["macro_f1"]) == (87.5, 83.33, 82.86)
    assert report["macro_classes"] == ["negative", "positive"]
    assert "present" in report["macro_convention"]
    three = report["all_classes"]
    assert (three["macro_precision"], three["macro_recall"], three["macro_f1"]) == (58.33, 55.56, 55.24)
    # a class present only in the prediction counts in upstream's mean
    report = classification_report([0, 0, 2, 2], [0, 1, 2, 2], NAMES)
    assert report["macro_classes"] == ["negative", "neutral", "positive"]
    assert report["macro_f1"] == report["all_classes"]["macro_f1"] == round(100 * (2 / 3 + 0 + 1) / 3, 2)


def test_specificity_and_npv_follow_the_confusion_matrix():
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    report = classification_report(y_true, y_pred, NAMES)
    m = np.array(report["confusion_matrix"])
    for c, name in enumerate(NAMES):
        tp, fp, fn = m[c, c], m[:, c].sum() - m[c, c], m[c].sum() - m[c, c]
        tn = m.sum() - tp - fp - fn
        assert report["per_class"][name]["specificity"] == round(100 * tn / (tn + fp), 2)
        assert report["per_class"][name]["npv"] == round(100 * tn / (tn + fn), 2)
        assert report["per_class"][name]["ppv"] == round(100 * tp / (tp + fp), 2)


def test_auc_is_scikit_learns_one_vs_rest_macro_auc():
    rng = np.random.default_rng(5)
    y_true = rng.integers(0, 3, 60)
    probs = rng.dirichlet([1, 1, 1], 60)
    probs[np.arange(60), y_true] += 0.3  # some skill
    probs /= probs.sum(1, keepdims=True)
    report = classification_report(y_true, probs.argmax(1), NAMES, probs)
    expected = roc_auc_score(y_true, probs, multi_class="ovr", average="macro")
    assert report["macro_auc"] == round(100 * expected, 2)
    for c, name in enumerate(NAMES):
        assert report["per_class"][name]["auc"] == round(100 * roc_auc_score(y_true == c, probs[:, c]), 2)


def test_auc_of_a_class_absent_from_truth_is_undefined_and_left_out_of_the_macro():
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8]])
    report = classification_report([0, 2, 0, 2], probs.argmax(1), NAMES, probs)
    assert report["per_class"]["neutral"]["auc"] is None
    assert report["macro_auc_classes"] == ["negative", "positive"]
    assert report["macro_auc"] == 100.0


def test_screening_views_at_the_decision_rule():
    # truth: neg, neg, neu, neu, pos, pos; argmax: neg, neu, neg, pos, pos, neg
    probs = np.array(
        [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.1, 0.4]]
    )
    y_true = [0, 0, 1, 1, 2, 2]
    views = screening_views(y_true, probs, NAMES)
    pos = views["positive_vs_rest"]  # flagged: rows 3, 4; positives rows 4, 5
    assert (pos["counts"]["tp"], pos["counts"]["fp"], pos["counts"]["fn"], pos["counts"]["tn"]) == (
        1,
        1,
        1,
        3,
    )
    assert (pos["sensitivity"], pos["specificity"], pos["ppv"], pos["npv"]) == (50.0, 75.0, 50.0, 75.0)
    assert pos["auc"] == round(100 * roc_auc_score([0, 0, 0, 0, 1, 1], probs[:, 2]), 2)
    sick = views["positive_or_neutral_vs_negative"]  # flagged: rows 1, 3, 4; sick rows 2-5
    assert (sick["sensitivity"], sick["specificity"]) == (50.0, 50.0)
    assert sick["auc"] == round(100 * roc_auc_score([0, 0, 1, 1, 1, 1], 1 - probs[:, 0]), 2)
    assert (sick["positives"], sick["negatives"]) == (4, 2)


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [([0, 1], [0]), ([0, 3], [0, 1]), ([0, -1], [0, 1]), ([0.5, 1], [0, 1]), ([], [])],
)
def test_bad_labels_are_refused(y_true, y_pred):
    with pytest.raises(ValueError):
        classification_report(y_true, y_pred, NAMES)


def test_confusion_image_shades_cells_by_row_share_and_labels_them():
    matrix = np.array([[9, 1, 0], [0, 5, 5], [0, 0, 4]])
    image = render_confusion_image(matrix, NAMES, title="split 118")
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    left, top, cell = 170, 90, 120

    def corner(t: int, p: int) -> np.ndarray:  # a pixel inside the cell, away from the written count
        return image[top + t * cell + 5, left + p * cell + 5].astype(int)

    # row shares 100 % > 90 % > 50 % > 10 %: the larger the share, the darker the cell
    assert corner(2, 2).sum() < corner(0, 0).sum() < corner(1, 1).sum() < corner(0, 1).sum()
    assert corner(0, 2).tolist() == [255, 255, 255]  # an empty cell stays white
    assert (image[: top - 5, :left] < 128).any()  # axis text was drawn
    cell_22 = image[top + 2 * cell : top + 3 * cell, left + 2 * cell : left + 3 * cell]
    assert (cell_22 > 200).all(axis=2).any()  # white count text on the darkest cell


def test_save_confusion_png_writes_a_decodable_png(tmp_path):
    matrix = np.array([[3, 1, 0], [0, 2, 0], [1, 0, 5]])
    path = save_confusion_png(matrix, NAMES, tmp_path / "plots" / "confusion.png")
    decoded = cv2.imread(str(path), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(decoded, render_confusion_image(matrix, NAMES))
    with pytest.raises(ValueError):
        render_confusion_image(matrix[:2], NAMES)
