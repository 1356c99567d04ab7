"""Scale-out fixtures: a Redis broker on loopback, the app in broker mode, worker processes that
share nothing with it but the broker URL, the API URL and the worker token (two simulated
machines: each its own temp dir, no database URL in its environment)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.hardening.server import ROOT

TOKEN = "test-worker-token"


@pytest.fixture
def broker_url(redis_url: str) -> str:
    """A Redis database of its own per test (0–15, flushed), so queues never leak between tests."""
    import redis

    base = redis_url.rsplit("/", 1)[0]
    db = 1 + (uuid.uuid4().int % 15)
    redis.Redis.from_url(f"{base}/{db}").flushdb()
    return f"{base}/{db}"


def broker_env(broker_url: str, api_url: str, lease_s: float = 4.0) -> dict[str, str]:
    """What the app and every worker share (and nothing else)."""
    return {"TD_BROKER_URL": broker_url, "TD_API_URL": api_url, "TD_WORKER_TOKEN": TOKEN,
            "TD_WORKER_LEASE_S": str(lease_s)}


class WorkerProcess:
    """``python -m training_dashboard.worker`` as a simulated machine: its own dir, no database."""

    def __init__(self, root: Path, name: str, queues: str, env: dict[str, str]) -> None:
        self.name, self.queues = name, queues
        self.dir = root / f"worker-{name}"
        self.env = env
        self.log = root / f"worker-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TD_") or k == "TD_TORCH_THREADS"}
        env.update(self.env, TD_DATA_DIR=str(self.dir), TD_BASE_MODEL="tiny", HF_HUB_OFFLINE="1",
                   TD_TORCH_THREADS=os.environ.get("TD_TORCH_THREADS", "1"))
        assert "TD_DATABASE_URL" not in env
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "training_dashboard.worker", "--queues", self.queues,
                                          "--name", self.name], cwd=ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole worker (its process group): a machine that died."""
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""
