from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from training_dashboard.config import Settings


def test_defaults_work_without_configuration(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key in ("TD_DATA_DIR", "TD_DATABASE_URL", "TD_BASE_MODEL", "TD_ADAPTER_ROOTS", "TD_HOST"):
        monkeypatch.delenv(key, raising=False)
    s = Settings()
    assert s.resolved_data_dir == tmp_path / "data"
    assert s.db_url == f"sqlite:///{tmp_path / 'data' / 'training_dashboard.db'}"
    assert s.base_model == "facebook/musicgen-small" and s.readiness_threshold == 50 and s.host == "127.0.0.1"
    assert s.resolved_adapter_roots == [tmp_path / "data" / "adapters"]


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("TD_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("TD_ADAPTER_ROOTS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    monkeypatch.setenv("TD_READINESS_THRESHOLD", "7")
    monkeypatch.setenv("TD_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/x")
    s = Settings()
    assert s.resolved_adapter_roots == [tmp_path / "a", tmp_path / "b"]
    assert s.readiness_threshold == 7 and s.db_url.startswith("postgresql")


def test_api_starts_without_importing_torch(tmp_path):
    code = (
        "import sys; from training_dashboard.config import Settings; from training_dashboard.api.app import create_app;"
        f"create_app(Settings(data_dir={str(tmp_path)!r}, worker=False));"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[2])
    assert out.stdout.split() == ["False", "False"]


def test_dev_hot_reload_ignores_the_data_dir():
    """The worker writes the database constantly; watched, it would restart `reflex run` forever."""
    root = Path(__file__).parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TD_", "REFLEX_HOT"))}
    code = "import os, rxconfig; print(os.environ['REFLEX_HOT_RELOAD_EXCLUDE_PATHS'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, env=env)
    assert str(root / "data") in out.stdout.strip().split(":")
