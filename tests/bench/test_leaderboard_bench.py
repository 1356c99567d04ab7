"""Smoke test of bench/leaderboard_bench.py at a tiny scale (figures are printed, not asserted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import leaderboard_bench


@pytest.mark.slow
def test_leaderboard_bench_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert leaderboard_bench.main(["--pairs", "3000", "--requests", "3", "--cold", "2"]) == 0
    out = capsys.readouterr().out
    data_dir = Path(re.search(r"generating 3,000 pairs in (\S+)", out).group(1))  # type: ignore[union-attr]
    assert not data_dir.exists()  # the temp data dir is removed
    assert re.search(r"warm \(counts unchanged\)\s+3\s", out) and re.search(r"cold \(refit every request\)\s+2\s", out)
    assert "adapter #6 (deleted)" in out  # listed with include_deleted, its games in the fit
    ranking = [line for line in out.splitlines() if re.match(r"\s+\d+\s{2}\S", line)]
    assert len(ranking) == 7  # base, 5 registered adapters, 1 deleted: every one of them played
