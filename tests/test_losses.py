"""Triplet and part-wise CE losses against slow, loop-by-loop references; inverse-frequency class weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gaitmodels.losses import inverse_frequency_weights, part_cross_entropy, triplet_loss


def slow_triplet(embed: torch.Tensor, labels: list[int], margin: float) -> tuple[float, float]:
    """Triple loop over parts, anchors, positives (anchor included) and negatives, in float64."""
    e = embed.double()
    n, _, parts = e.shape
    part_losses, nonzero_total, valid_total = [], 0, 0
    for p in range(parts):
        terms = []
        for a in range(n):
            for i in range(n):
                if labels[i] != labels[a]:
                    continue
                for j in range(n):
                    if labels[j] == labels[a]:
                        continue
                    d_ap = math.dist(e[a, :, p].tolist(), e[i, :, p].tolist())
                    d_an = math.dist(e[a, :, p].tolist(), e[j, :, p].tolist())
                    terms.append(max(d_ap - d_an + margin, 0.0))
        nonzero = [t for t in terms if t > 0]
        part_losses.append(sum(nonzero) / len(nonzero) if nonzero else 0.0)
        nonzero_total += len(nonzero)
        valid_total += len(terms)
    return sum(part_losses) / parts, nonzero_total / max(valid_total, 1)


@pytest.mark.parametrize("labels", [[0, 0, 1, 1, 2, 2], [5, 5, 5, 1, 9, 9], [0, 1, 0, 1, 0, 1]])
def test_triplet_matches_a_triple_loop_reference(labels):
    gen = torch.Generator().manual_seed(len(set(labels)) + labels[0])
    embed = 0.3 * torch.randn(6, 4, 3, generator=gen)
    result = triplet_loss(embed, torch.tensor(labels), margin=0.2)
    expected_loss, expected_fraction = slow_triplet(embed, labels, 0.2)
    assert expected_loss > 0  # the reference must exercise the hinge
    assert float(result.loss) == pytest.approx(expected_loss, rel=1e-5, abs=1e-6)
    assert float(result.nonzero_fraction) == pytest.approx(expected_fraction, abs=1e-6)


def test_triplet_is_zero_when_every_negative_is_beyond_the_margin():
    embed = torch.zeros(4, 2, 2)
    embed[2:, 0, :] = 10.0  # ids {0, 1} are 10 apart, far beyond the 0.2 margin
    result = triplet_loss(embed, torch.tensor([0, 0, 1, 1]))
    assert float(result.loss) == 0.0 and float(result.nonzero_fraction) == 0.0


def test_triplet_without_negatives_is_zero_not_nan():
    result = triplet_loss(torch.randn(3, 4, 2), torch.tensor([7, 7, 7]))
    assert float(result.loss) == 0.0 and float(result.nonzero_fraction) == 0.0


def test_triplet_gradient_is_finite_for_identical_copies():
    # K copies of one sequence can give identical embeddings: zero distances must not give NaN gradients.
    base = torch.randn(2, 5, 3)
    embed = base.repeat_interleave(2, dim=0).requires_grad_(True)  # ids 0, 0, 1, 1 with equal copies
    result = triplet_loss(embed, torch.tensor([0, 0, 1, 1]), margin=100.0)
    result.loss.backward()
    assert result.loss.item() > 0 and torch.isfinite(embed.grad).all()


def test_triplet_refuses_mismatched_labels():
    with pytest.raises(ValueError):
        triplet_loss(torch.randn(4, 2, 3), torch.tensor([0, 1, 2]))


def slow_smoothed_ce(logits, labels, scale, eps, weights):
    """PyTorch's documented weighted, label-smoothed CE with mean reduction, term by term."""
    n, c, parts = logits.shape
    num, den = 0.0, 0.0
    for i in range(n):
        for p in range(parts):
            z = [scale * float(logits[i, k, p]) for k in range(c)]
            log_norm = math.log(sum(math.exp(v) for v in z))
            log_prob = [v - log_norm for v in z]
            y = int(labels[i])
            target = [(1 - eps) * (k == y) + eps / c for k in range(c)]
            num += -sum(weights[k] * target[k] * log_prob[k] for k in range(c))
            den += weights[y]
    return num / den


def test_part_cross_entropy_is_smoothed_ce_of_scaled_logits_over_every_part():
    gen = torch.Generator().manual_seed(3)
    logits = torch.rand(4, 3, 5, generator=gen) * 2 - 1
    labels = torch.tensor([0, 2, 1, 2])
    loss = part_cross_entropy(logits, labels)
    assert float(loss) == pytest.approx(
        slow_smoothed_ce(logits, labels, 16.0, 0.1, [1.0, 1.0, 1.0]), rel=1e-5
    )


def test_part_cross_entropy_with_class_weights_divides_by_the_targets_weight_sum():
    gen = torch.Generator().manual_seed(4)
    logits = torch.rand(4, 3, 2, generator=gen) * 2 - 1
    labels = torch.tensor([0, 0, 0, 1])
    weights = [0.174, 1.413, 1.413]
    loss = part_cross_entropy(logits, labels, class_weights=weights)
    assert float(loss) == pytest.approx(slow_smoothed_ce(logits, labels, 16.0, 0.1, weights), rel=1e-5)
    with pytest.raises(ValueError):
        part_cross_entropy(logits, labels, class_weights=[1.0, 2.0])


@pytest.mark.parametrize(
    ("counts", "table"),
    [
        ((373, 186, 186), (0.6, 1.2, 1.2)),  # split 112, counts in order negative, neutral, positive
        ((497, 124, 124), (0.333, 1.3335, 1.3335)),  # 114
        ((596, 74, 74), (0.174, 1.413, 1.413)),  # 118
        ((663, 41, 41), (0.09, 1.455, 1.455)),  # 1116
    ],
)
def test_inverse_frequency_weights_reproduce_the_reimplementation_table(counts, table):
    weights = inverse_frequency_weights(counts)
    assert weights.sum() == pytest.approx(3.0)
    np.testing.assert_allclose(weights, table, atol=2e-3)  # the table is rounded


def test_inverse_frequency_weights_refuse_an_empty_class():
    with pytest.raises(ValueError):
        inverse_frequency_weights([10, 0, 5])
