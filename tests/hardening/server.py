"""Start the real API as its own process (uvicorn), and kill it like a crash would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.factories import ADMIN_PASSWORD, ADMIN_USER, SERVER_TOKENS

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    """``python -m training_dashboard.api`` on a free loopback port."""

    def __init__(self, data_dir: Path, *, worker: bool = False, env: dict[str, str] | None = None,
                 obey_file_modes: bool = False) -> None:
        """``obey_file_modes``: when run as root, start the server without root's power to read
        any file, so a mode-000 file or directory gives it "permission denied" as it would a
        normal user (root that keeps CAP_DAC_OVERRIDE reads everything)."""
        self.data_dir, self.worker, self.extra_env = data_dir, worker, env or {}
        self.obey_file_modes = obey_file_modes
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"
        self.token: str | None = None

    def start(self, timeout: float = 60) -> ApiServer:
        env = {**os.environ, "TD_DATA_DIR": str(self.data_dir), "TD_BASE_MODEL": "tiny", "HF_HUB_OFFLINE": "1",
               "TD_ADMIN_USER": ADMIN_USER, "TD_ADMIN_PASSWORD": ADMIN_PASSWORD, **self.extra_env}
        env.pop("TD_API_TOKEN", None)  # the client's token, not the server's
        args = [sys.executable, "-m", "training_dashboard.api", "--port", str(self.port)]
        if not self.worker:
            args.append("--no-worker")
        if self.obey_file_modes and os.geteuid() == 0:
            # Out of the bounding set, so the exec'd root process loses them (util-linux setpriv).
            args = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *args]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"API server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    self.token = self._personal_token(env.get("TD_AUTH", "on"))
                    if self.token:
                        SERVER_TOKENS[f"127.0.0.1:{self.port}"] = self.token
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"API server did not start: {self.log.read_text()[-3000:]}")

    def _personal_token(self, auth: str) -> str | None:
        """Sign in as the admin and make a personal access token (None with TD_AUTH=off)."""
        if auth == "off":
            return None
        with httpx.Client(base_url=self.url, timeout=30) as http:
            http.post("/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).raise_for_status()
            answer = http.post("/tokens", json={"name": "tests"}, headers={"Origin": self.url.rsplit("/api", 1)[0]})
            return answer.raise_for_status().json()["token"]

    @property
    def headers(self) -> dict[str, str]:
        """The admin's credentials for requests to this server."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing — a crash."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
