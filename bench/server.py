"""The API under test: a real ``python -m training_dashboard.api`` subprocess on loopback,
and a thread that samples its resident memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """End a process started with ``start_new_session=True`` and every child it started:
    SIGTERM to the group, then SIGKILL if it has not exited within 20 s."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def launch(argv: list[str], env: dict[str, str], log_path: Path, cwd: Path, health_url: str, what: str,
           timeout: float, **popen: object) -> tuple[subprocess.Popen[bytes], psutil.Process]:
    """Start ``argv`` (output to ``log_path``) and wait until ``health_url`` answers 200.

    Raises:
        RuntimeError: the process exited, or did not answer within ``timeout`` seconds (it is stopped).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, **popen)  # type: ignore[call-overload]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(health_url, timeout=2).status_code == 200:
                return proc, psutil.Process(proc.pid)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    if popen.get("start_new_session"):
        stop_process_group(proc)
    else:
        proc.kill()
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s; see {log_path}")


def terminate(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM a still-running process, then SIGKILL it if it has not ended within 15 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def postmaster(database_url: str | None) -> psutil.Process | None:
    """The process listening on a loopback PostgreSQL URL's port (to read its CPU time)."""
    if not database_url or not database_url.startswith("postgresql"):
        return None
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.host not in (HOST, "localhost"):
        return None
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == (url.port or 5432) and conn.pid:
                return psutil.Process(conn.pid)
    except psutil.Error:
        return None
    return None


BENCH_USER, BENCH_PASSWORD = "bench", "bench-password-not-secret"


def personal_token(api: str, username: str, password: str, name: str = "bench") -> str:
    """Sign in and create a personal access token (as the CLI's user would on the Account page)."""
    with httpx.Client(base_url=api, timeout=60) as http:
        http.post("/auth/login", json={"username": username, "password": password}).raise_for_status()
        origin = api.split("/api", 1)[0]
        answer = http.post("/tokens", json={"name": name, "expires_in_days": 30}, headers={"Origin": origin})
        answer.raise_for_status()
        return answer.json()["token"]


def rater_tokens(api: str, admin_token: str, rater_ids: list[int]) -> dict[int, str]:
    """A personal token for each rater (sign-in takes a rating's rater from its token): their user's, made
    through the admin API; a rater seeded without a user gets one (same rater row, linked by name)."""
    import re

    auth = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=api, timeout=60, headers=auth) as http:
        users = {u["rater_id"]: u["id"] for u in http.get("/users").raise_for_status().json()}
        names = {r["id"]: r["name"] for r in http.get("/raters").raise_for_status().json()}
        tokens = {}
        for rater_id in rater_ids:
            if rater_id not in users:
                username = re.sub(r"[^a-z0-9._-]+", "-", names[rater_id].lower()).strip("-.")[:50] or "rater"
                made = http.post("/users", json={"username": f"{username}-{rater_id}", "display_name": names[rater_id]})
                users[rater_id] = made.raise_for_status().json()["id"]
            answer = http.post("/tokens", params={"user_id": users[rater_id]}, json={"name": "bench"})
            tokens[rater_id] = answer.raise_for_status().json()["token"]
    return tokens


class Server:
    """Starts the API the way it is served alone (uvicorn, one process, no worker)."""

    def __init__(self, data_dir: Path, database_url: str | None, log_path: Path, app_root: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.data_dir, self.database_url, self.log_path = data_dir, database_url, log_path
        self.extra_env = env or {}
        self.token: str | None = None
        self.app_root = (app_root or Path(__file__).resolve().parent.parent).resolve()
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None
        self.db_ps = postmaster(database_url)
        self.startup_s = 0.0

    def start(self, timeout: float = 180.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TD_")}
        env.update(TD_DATA_DIR=str(self.data_dir), TD_WORKER="false", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   TD_ADMIN_USER=BENCH_USER, TD_ADMIN_PASSWORD=BENCH_PASSWORD, **self.extra_env)
        if self.database_url:
            env["TD_DATABASE_URL"] = self.database_url
        env["PYTHONPATH"] = str(self.app_root)
        t0 = time.perf_counter()
        self.proc, self.ps = launch(
            [sys.executable, "-m", "training_dashboard.api", "--no-worker", "--host", HOST, "--port", str(self.port)],
            env, self.log_path, self.app_root, f"{self.base}/api/health", "the API", timeout)
        self.startup_s = time.perf_counter() - t0
        if env.get("TD_AUTH", "on") != "off":  # the bench is a client like the CLI: a personal token from now on
            os.environ["TD_API_TOKEN"] = self.token = personal_token(f"{self.base}/api", BENCH_USER, BENCH_PASSWORD)

    def rss(self) -> int:
        """Resident bytes of the server and any children it started."""
        assert self.ps is not None
        try:
            procs = [self.ps, *self.ps.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs)
        except psutil.Error:
            return 0

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far (independent of machine load)."""
        assert self.ps is not None
        try:
            return sum(sum(p.cpu_times()[:2]) for p in (self.ps, *self.ps.children(recursive=True)))
        except psutil.Error:
            return 0.0

    def db_cpu_seconds(self) -> float | None:
        """CPU time of the PostgreSQL server on loopback (postmaster, its backends and the
        workers it has reaped); None for SQLite, whose work is in the API process."""
        if self.db_ps is None:
            return None
        try:
            t = self.db_ps.cpu_times()
            total = t.user + t.system + t.children_user + t.children_system
            for child in self.db_ps.children(recursive=True):
                try:
                    total += sum(child.cpu_times()[:2])
                except psutil.Error:  # exited between listing and reading: counted by the parent soon
                    pass
            return total
        except psutil.Error:
            return None

    def torch_loaded(self) -> bool:
        """Whether a torch shared library is mapped into the server (i.e. torch was imported)."""
        assert self.ps is not None
        return any("torch" in Path(m.path).name or "/torch/" in m.path for m in self.ps.memory_maps())

    def stop(self) -> None:
        terminate(self.proc)


@dataclass
class Window:
    peak: int = 0
    samples: int = 0


@dataclass
class RssSampler:
    """Samples the server's RSS every ``interval`` s; tracks the overall and per-window peak."""

    server: Server
    interval: float = 0.02
    peak: int = 0
    _windows: list[Window] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.server.rss()
            self.peak = max(self.peak, rss)
            for w in list(self._windows):
                w.peak, w.samples = max(w.peak, rss), w.samples + 1
            self._stop.wait(self.interval)

    @contextmanager
    def window(self):  # type: ignore[no-untyped-def]
        w = Window(peak=self.server.rss())
        self._windows.append(w)
        try:
            yield w
        finally:
            self._windows.remove(w)
            w.peak = max(w.peak, self.server.rss())
