"""Confusion matrix and upstream-style macro metrics against hand-computed values; the confusion image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from gaitmodels.metrics import (
    classification_report,
    confusion_matrix,
    render_confusion_image,
    save_confusion_png,
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
    assert report["per_class"]["positive"] == {"precision": 75.0, "recall": 75.0, "f1": 75.0, "support": 4}
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [1, 0, 3]]
    assert report["class_names"] == list(NAMES)


def test_a_class_never_predicted_scores_zero_precision_and_f1():
    # truth 4 neg, 2 neu, 2 pos; the model never says neutral.
    y_true = [0, 0, 0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 2, 0, 2, 2, 2]
    report = classification_report(y_true, y_pred, NAMES)
    assert report["per_class"]["neutral"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    # negative: P = 3/4, R = 3/4, F1 = 3/4; positive: P = 2/4, R = 2/2, F1 = 2/3
    assert report["per_class"]["negative"]["f1"] == 75.0
    assert report["per_class"]["positive"] == {"precision": 50.0, "recall": 100.0, "f1": 66.67, "support": 2}
    assert report["accuracy"] == 62.5
    assert report["macro_precision"] == round(100 * (0.75 + 0 + 0.5) / 3, 2)  # 41.67
    assert report["macro_recall"] == round(100 * (0.75 + 0 + 1.0) / 3, 2)  # 58.33
    assert report["macro_f1"] == round(100 * (0.75 + 0 + 2 / 3) / 3, 2)  # 47.22


def test_macro_average_runs_over_all_three_labels_even_when_one_is_absent():
    # sklearn with labels=[0, 1, 2]: the absent neutral class counts as 0, it does not drop out.
    report = classification_report([0, 0, 2, 2], [0, 0, 2, 2], NAMES)
    assert report["accuracy"] == 100.0
    assert report["macro_precision"] == 66.67 and report["macro_f1"] == 66.67


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
