"""The data-quality statistics against published and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training_dashboard.services.coverage import bucket, coverage_deltas
from training_dashboard.services.quality import (
    alpha_from_coincidences,
    contradicts,
    intransitive_triads,
    new_cycles,
    ordinal_alpha,
    outlier_threshold,
    pair_figures,
    unit_coincidences,
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


def _cells(counts):
    cells = {}
    for row in counts.tolist():
        m = sum(row)
        if m >= 2:
            cells[(m, 0, 0)] = cells.get((m, 0, 0), 0) + 1
            for (c, k), n in unit_coincidences(row).items():
                cells[(m, c, k)] = cells.get((m, c, k), 0) + n
    return cells


def test_exact_alpha_from_coincidences_matches_the_published_value_and_the_package():
    units, _, values = _rows(KRIPPENDORFF_C)
    counts = value_counts(units, values)
    exact = alpha_from_coincidences(_cells(counts))
    assert round(exact, 3) == 0.815
    assert exact == pytest.approx(ordinal_alpha(counts), abs=1e-12)
    rng = np.random.default_rng(7)
    for _ in range(20):  # random reliability data: our exact route agrees with the package
        n_units = int(rng.integers(2, 40))
        sizes = rng.integers(1, 6, n_units)
        units = np.repeat(np.arange(n_units), sizes)
        values = np.clip(rng.integers(1, 6, n_units)[units] + rng.integers(-1, 2, len(units)), 1, 5)
        counts = value_counts(units, values)
        ours, theirs = alpha_from_coincidences(_cells(counts)), ordinal_alpha(counts)
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert ours == pytest.approx(theirs, abs=1e-9)
    assert alpha_from_coincidences({}) is None
    assert alpha_from_coincidences(_cells(value_counts(np.array([0, 0]), np.array([3, 3])))) is None


def test_unit_coincidences():
    assert unit_coincidences([2, 0, 0, 0, 1]) == {(1, 1): 2, (1, 5): 2, (5, 1): 2}
    assert unit_coincidences([1, 0, 0, 0, 0]) == {}


def test_pair_figures_by_hand():
    units, raters, values = _rows(KRIPPENDORFF_C)
    got = pair_figures(units.tolist(), raters.tolist(), values.tolist())
    for r in range(4):
        pairs = dist = shared = 0
        for u in range(12):
            mine = KRIPPENDORFF_C[r][u]
            others = [KRIPPENDORFF_C[o][u] for o in range(4) if o != r and not math.isnan(KRIPPENDORFF_C[o][u])]
            if not math.isnan(mine) and others:
                shared += 1
                pairs += len(others)
                dist += sum(abs(mine - x) for x in others)
        assert got[r] == {"shared_clips": shared, "pair_count": pairs, "pair_distance": dist}
    assert pair_figures([1], [1], [3]) == {}


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


def test_new_cycles_sum_to_the_triads():
    edges: set = set()
    total = 0
    for edge in [(1, 2), (2, 3), (3, 1), (1, 2), (2, 4), (4, 1), (3, 2), (1, 3), (2, 1)]:
        total += new_cycles(edges, *edge)
        edges.add(edge)
    assert total == intransitive_triads(edges)
    assert new_cycles({(1, 2)}, 1, 2) == 0 and new_cycles(set(), 1, 1) == 0


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
