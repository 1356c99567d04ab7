"""The listen gate's setting (strict parsing, the app refuses a bad one), its rule per clip, and
the median read from the per-percent counts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from training_dashboard.config import Settings, parse_min_listen
from training_dashboard.services.listening import ListenGate, heard_percent
from training_dashboard.services.listening_stats import median_percent


@pytest.mark.parametrize(("spec", "parsed"), [
    (None, (None, None)), ("", (None, None)), ("off", (None, None)), ("3s", (3.0, None)), ("50%", (None, 0.5)),
    ("3s|50%", (3.0, 0.5)), ("50%|3s", (3.0, 0.5)), (" 2.5S ", (2.5, None)), ("100%", (None, 1.0)),
])
def test_accepted_specs(spec, parsed):
    assert parse_min_listen(spec) == parsed


@pytest.mark.parametrize("spec", ["3", "3 s", "s", "%", "-1s", "0s", "0%", "101%", "3s|4s", "50%|60%", "3s|50%|1s",
                                  "3s,50%", "1e3s", "３s", "86401s", "3s|"])
def test_refused_specs(spec):
    with pytest.raises(ValueError, match="TD_MIN_LISTEN"):
        parse_min_listen(spec)


def test_settings_refuse_a_bad_gate_and_normalise_a_good_one(monkeypatch):
    monkeypatch.setenv("TD_MIN_LISTEN", "half")
    with pytest.raises(ValidationError, match="TD_MIN_LISTEN='half' is not a listen gate"):
        Settings()
    monkeypatch.setenv("TD_MIN_LISTEN", "50%|3s")
    assert Settings().min_listen == "3s|50%" and Settings().listen_gate == (3.0, 0.5)
    monkeypatch.delenv("TD_MIN_LISTEN")
    assert Settings().min_listen is None and Settings().listen_gate == (None, None)


def test_the_gate_takes_the_shorter_rule_and_never_more_than_the_clip():
    assert ListenGate("3s|50%", 3.0, 0.5).required(10.0) == 3.0
    assert ListenGate("3s|50%", 3.0, 0.5).required(4.0) == 2.0
    assert ListenGate("3s", 3.0, None).required(1.5) == 1.5
    assert ListenGate("50%", None, 0.5).required(1.5) == 0.75
    assert not ListenGate().on and ListenGate().required(5.0) == 0.0


def test_median_from_percent_counts():
    assert median_percent({}) is None
    assert median_percent({40: 1}) == 0.4
    assert median_percent({10: 2, 100: 1}) == 0.1
    assert median_percent({10: 1, 20: 1}) == 0.15
    assert median_percent({0: 3, 100: 3}) == 0.5
    assert median_percent({90: 1, 100: 3}) == 1.0
    assert [heard_percent(f) for f in (0.0, 0.29, 0.999, 1.0, 0.1)] == [0, 29, 99, 100, 10]
