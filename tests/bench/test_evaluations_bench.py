"""Smoke test of bench/evaluations_bench.py at a tiny scale (figures are printed, not asserted)."""

from __future__ import annotations

import re

import pytest

from bench import evaluations_bench


@pytest.mark.slow
def test_evaluations_bench_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluations_bench.main(["--adapters", "5", "--evaluations", "20", "--pairs", "5", "--requests", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"GET /api/adapters\?limit=100\s+2\s", out)
    assert re.search(r"POST /api/evaluations/\{id\}/votes\s+5\s", out)
    assert "evaluation completed: 5 votes" in out
