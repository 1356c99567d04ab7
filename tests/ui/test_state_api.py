from __future__ import annotations

import pytest

from training_dashboard.config import get_settings
from training_dashboard.state.api import api_base_url


def test_api_base_url_follows_the_backend_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TD_API_URL", raising=False)
    monkeypatch.setenv("REFLEX_BACKEND_PORT", "8123")
    assert api_base_url() == "http://127.0.0.1:8123/api"


def test_td_api_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("TD_API_URL", "http://10.0.0.5:9000/api")
    monkeypatch.setenv("REFLEX_BACKEND_PORT", "8123")
    try:
        assert api_base_url() == "http://10.0.0.5:9000/api"
    finally:
        get_settings.cache_clear()
