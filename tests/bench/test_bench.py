"""Smoke tests of the workload generator and the benchmark runner at a tiny scale."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bench import run, seed


def _seed(tmp_path: Path) -> Path:
    data = tmp_path / "bench-data"
    assert seed.main(["--data-dir", str(data), "--scale", "0.001", "--datasets", "5", "--wav-ms", "10"]) == 0
    return data


def test_seed_is_consistent(tmp_path: Path) -> None:
    data = _seed(tmp_path)
    con = sqlite3.connect(data / "training_dashboard.db")
    counters = dict(con.execute("SELECT name, value FROM counter"))
    assert counters["rating.3"] == con.execute("SELECT COUNT(*) FROM rating WHERE rating = 3").fetchone()[0]
    assert counters["rated_samples"] == con.execute("SELECT COUNT(DISTINCT audio_id) FROM rating").fetchone()[0]
    # the denormalised columns agree with the clips they describe
    assert con.execute("SELECT COUNT(*) FROM rating r JOIN audio_sample s ON s.id = r.audio_id "
                       "WHERE r.prompt_id != s.prompt_id OR r.adapter_id IS NOT s.adapter_id").fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM audio_sample s WHERE rating_count != "
                       "(SELECT COUNT(*) FROM rating r WHERE r.audio_id = s.id)").fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM dataset").fetchone()[0] == 5
    # listening data on every rating: one row per rating, its heard fraction on the rating
    assert con.execute("SELECT COUNT(*) FROM rating r WHERE r.heard_fraction IS NULL OR r.decision_ms IS NULL OR "
                       "(SELECT COUNT(*) FROM listening l WHERE l.kind = 'rating' AND l.judgement_id = r.id "
                       "AND l.audio_id = r.audio_id AND abs(min(1.0, l.heard_s / 5.0) - r.heard_fraction) < 1e-12)"
                       " != 1").fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM preference p WHERE p.heard_fraction IS NULL OR "
                       "(SELECT COUNT(*) FROM listening l WHERE l.kind = 'preference' AND l.judgement_id = p.id "
                       "AND l.audio_id IN (p.chosen_id, p.rejected_id)) != 2").fetchone()[0] == 0
    assert seed.main(["--data-dir", str(data), "--scale", "0.001"]) == 2  # refuses to reseed without --force


@pytest.mark.slow
def test_run_smoke(tmp_path: Path) -> None:
    data = _seed(tmp_path)
    out = tmp_path / "result.json"
    code = run.main(["--data-dir", str(data), "--requests", "3", "--warmup", "1", "--clients", "2",
                     "--duration", "0.3", "--skip-exports", "--out", str(out)])
    result = json.loads(out.read_text())
    assert code == 0, [c for c in result["checks"] if not c["ok"]]
    assert "feedback_stats" in result["endpoints"] and "dataset_stats" in result["endpoints"]
    assert result["server"]["torch_loaded_at_idle"] is False
    assert any(t["name"] == "supervised snapshot" for t in result["targets"])
