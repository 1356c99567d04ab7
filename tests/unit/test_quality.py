"""The data-quality statistics against published and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training_dashboard.services.quality import (
    bucket,
    contradicts,
    coverage_deltas,
    distances_to_others,
    intransitive_triads,
    ordinal_alpha,
    outlier_threshold,
    value_counts,
)

NAN = math.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 observers x 12 units
# example with missing values: alpha = 0.743 nominal, 0.815 ordinal, 0.849 interval.
KRIPPENDORFF_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def _rows(matrix):
    units, raters, values = [], [], []
    for rater, row in enumerate(matrix):
        for unit, value in enumerate(row):
            if not math.isnan(value):
                units.append(unit)
                raters.append(rater)
                values.append(int(value))
    return np.array(units), np.array(raters), np.array(values)


def test_ordinal_alpha_matches_krippendorffs_published_example():
    units, _, values = _rows(KRIPPENDORFF_C)
    assert round(ordinal_alpha(value_counts(units, values)), 3) == 0.815


def test_ordinal_alpha_edge_cases():
    perfect = value_counts(np.array([0, 0, 1, 1, 2, 2]), np.array([1, 1, 3, 3, 5, 5]))
    assert ordinal_alpha(perfect) == pytest.approx(1.0)
    assert ordinal_alpha(value_counts(np.array([0, 1]), np.array([4, 2]))) is None  # no unit with two values
    assert ordinal_alpha(value_counts(np.array([0, 0, 1, 1]), np.array([3, 3, 3, 3]))) is None  # one value only
    assert ordinal_alpha(np.zeros((0, 5), dtype=np.int64)) is None
    # Systematic disagreement is worse than chance.
    opposed = value_counts(np.array([0, 0, 1, 1, 2, 2]), np.array([1, 5, 5, 1, 1, 5]))
    assert ordinal_alpha(opposed) < 0


def test_value_counts_layout():
    counts = value_counts(np.array([7, 3, 7, 7]), np.array([5, 1, 5, 2]))
    assert counts.tolist() == [[1, 0, 0, 0, 0], [0, 1, 0, 0, 2]]  # units in id order, stars 1..5


def test_distances_to_others_by_hand():
    units, raters, values = _rows(KRIPPENDORFF_C)
    got = distances_to_others(units, raters, values)
    expected = {}
    for r in range(4):
        dists = []
        for u in range(12):
            mine = KRIPPENDORFF_C[r][u]
            others = [KRIPPENDORFF_C[o][u] for o in range(4) if o != r and not math.isnan(KRIPPENDORFF_C[o][u])]
            if not math.isnan(mine) and others:
                dists.append(abs(mine - sum(others) / len(others)))
        expected[r] = (len(dists), sum(dists) / len(dists))
    assert got.keys() == expected.keys()
    for r, (n, d) in expected.items():
        assert got[r][0] == n and got[r][1] == pytest.approx(d)
    assert distances_to_others(np.array([1]), np.array([1]), np.array([3])) == {}


def test_outlier_threshold():
    assert outlier_threshold([0.2, 0.3]) is None  # too few raters to compare
    t = outlier_threshold([0.3, 0.35, 0.4, 0.3, 2.5])
    assert 0.35 < t < 2.5
    assert outlier_threshold([0.4, 0.4, 0.4]) == pytest.approx(0.9)  # at least half a star above the median


@pytest.mark.parametrize(("chosen", "rejected", "expected"), [
    (5, 3, False), (3, 4, False), (2, 4, True), (1, 5, True), (None, 4, None), (4, None, None), (3, 3, False),
])
def test_contradicts(chosen, rejected, expected):
    assert contradicts(chosen, rejected) is expected


def test_intransitive_triads():
    assert intransitive_triads([(1, 2), (2, 3), (3, 1)]) == 1
    assert intransitive_triads([(1, 2), (2, 3), (1, 3)]) == 0
    assert intransitive_triads([(1, 2), (2, 3), (3, 1), (1, 2), (2, 3)]) == 1  # repeats count once
    # Two cycles sharing an edge: 1>2>3>1 and 1>2>4>1.
    assert intransitive_triads([(1, 2), (2, 3), (3, 1), (2, 4), (4, 1)]) == 2
    # Both orientations of one triple are two cycles.
    assert intransitive_triads([(1, 2), (2, 3), (3, 1), (2, 1), (3, 2), (1, 3)]) == 2
    assert intransitive_triads([]) == 0


def test_buckets_and_coverage_keys():
    assert bucket("  Jazz ") == "jazz" and bucket("") is None and bucket(None) is None and bucket("  ") is None
    assert coverage_deltas(" Lo-Fi", None, None, ["warm", "bright", "warm"], 4) == [
        ("adapter", "base", 4), ("style", "lo-fi", 4), ("tag", "bright", 4), ("tag", "warm", 4)]
    assert coverage_deltas(None, "Calm", 3, [], 2) == [("adapter", "3", 2), ("mood", "calm", 2)]
