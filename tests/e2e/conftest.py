"""Browser tests: the real app (`reflex run --env prod`, tiny model, temporary data dir, a free
port) driven by Chromium through Playwright.

Sign-in is on, as by default: the app starts with an admin (``TD_ADMIN_USER`` / ``TD_ADMIN_PASSWORD``),
the suite signs in once through the real /login page in Chromium and every browser context starts
from that saved state (``storage_state``); tests that sign in or out themselves open their own
contexts. Helpers that call the API directly send the admin's personal access token
(:meth:`Server.http`), created through the API after sign-in.

Chromium: ``TD_CHROMIUM`` or ``/usr/bin/chromium`` (Debian's package) when present, else
Playwright's own download (``python -m playwright install chromium``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from bench.server import stop_process_group

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = float(os.environ.get("TD_E2E_STARTUP_TIMEOUT", "600"))  # first run: npm install + build
READINESS_THRESHOLD = 3
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


ADMIN_USER = "admin"


@dataclasses.dataclass
class Server:
    url: str
    data_dir: Path
    log: Path
    admin_password: str = ""
    token: str = ""  # the admin's personal access token, for tests that call the API directly
    admin_user: str = ADMIN_USER
    auth_off: bool = False  # TD_AUTH=off
    backend: str = ""  # dev mode: the backend's own address (the UI's port serves no /api)

    @property
    def api(self) -> str:
        return (self.backend or self.url) + "/api"

    def http(self, token: str | None = None, timeout: float = 30) -> httpx.Client:
        """A client for the API as the admin (or the owner of ``token``): ``with server.http() as http:``."""
        secret = token or self.token
        auth = {"Authorization": f"Bearer {secret}"} if secret and not self.auth_off else {}
        return httpx.Client(base_url=self.api + "/", headers=auth, timeout=timeout)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.http() as http:
            return http.get(path.lstrip("/"), **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.http() as http:
            return http.post(path.lstrip("/"), **kwargs)


@contextlib.contextmanager
def api_sign_in(server: Server, username: str, password: str) -> Iterator[httpx.Client]:
    """An API client signed in with a password (session cookie, and the app's Origin for writes).

    For setting things up (tokens for other users); the browser itself always signs in on /login.
    """
    with httpx.Client(base_url=server.api + "/", headers={"Origin": server.url}, timeout=30) as http:
        http.post("auth/login", json={"username": username, "password": password}).raise_for_status()
        yield http


def create_token(server: Server, username: str, password: str, name: str = "e2e") -> str:
    """A personal access token of ``username`` (signed in with their password through the API)."""
    with api_sign_in(server, username, password) as http:
        return http.post("tokens", json={"name": name, "expires_in_days": 1}).raise_for_status().json()["token"]


def create_user(server: Server, username: str, role: str = "rater", display_name: str | None = None) -> str:
    """A user created by the admin through the API; returns their password."""
    password = secrets.token_urlsafe(16)
    server.post("users", json={"username": username, "role": role, "password": password,
                               "display_name": display_name}).raise_for_status()
    return password


def sign_in(page: Any, server: Server, username: str, password: str, path: str = "/") -> None:
    """Sign in through the real /login page, as a person does, and land on ``path``."""
    page.goto(f"{server.url}/login?next={path}")
    page.get_by_test_id("username-input").fill(username)
    page.get_by_test_id("password-input").fill(password)
    page.get_by_test_id("login-submit").click()  # enabled once the page has read ?next=
    page.wait_for_url(lambda url: re.sub(r"/(?=\?|$)", "", url) == re.sub(r"/(?=\?|$)", "", server.url + path))
    # Signed in as the header shows it: the landing page's own check is done (a test's next page load
    # would otherwise queue behind that page's loaders).
    expect(page.get_by_test_id("user-name")).to_have_text(re.compile(r"\S"), timeout=30_000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app_env(data_dir: Path, port: int, admin_password: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TD_", "REFLEX_"))}
    bin_dir = str(Path(sys.executable).parent)
    env.update({
        "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
        "REFLEX_USE_NPM": "1", "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
        "TD_DATA_DIR": str(data_dir), "TD_BASE_MODEL": "tiny", "TD_API_URL": f"http://127.0.0.1:{port}/api",
        "TD_READINESS_THRESHOLD": str(READINESS_THRESHOLD), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1", "TD_ADMIN_USER": ADMIN_USER, "TD_ADMIN_PASSWORD": admin_password,
    })
    return env


def _wait_until_up(proc: subprocess.Popen[bytes], server: Server) -> None:
    """Until /api/health says the model is ready and /training is served; on the way, the admin's token."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"reflex run exited with {proc.returncode}:\n{server.log.read_text()[-4000:]}")
        try:
            if not server.token and httpx.get(server.api + "/health", timeout=2).status_code == 200:
                # TD_AUTH=off: every request is the local admin, no token to make
                server.token = "-" if server.auth_off else create_token(server, server.admin_user,
                                                                         server.admin_password, "e2e-suite")
            health = server.get("health", timeout=2) if server.token else None
            if (health is not None and health.status_code == 200 and health.json()["model"]["status"] == "ready"
                    and httpx.get(server.url + "/training", timeout=2, follow_redirects=True).status_code == 200):
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"the app did not come up within {STARTUP_TIMEOUT_S:.0f} s:\n{server.log.read_text()[-4000:]}")


@contextlib.contextmanager
def start_app(data_dir: Path, extra_env: dict[str, str] | None = None, port: int | None = None,
              dev: bool = False) -> Iterator[Server]:
    """``reflex run --env prod`` on a loopback port (free, unless given) with the tiny model; stopped on exit.
    ``dev``: ``reflex run`` as ``./scripts/run.sh`` starts it, the UI (a dev server) on ``port`` at
    ``localhost`` and the backend on a port of its own (``Server.backend``).

    Waits until /api/health says the model is ready and /training is served.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"reflex-{data_dir.name}.log"
    port = port or free_port()
    backend_port = free_port() if dev else port
    reflex = shutil.which("reflex", path=str(Path(sys.executable).parent)) or "reflex"
    admin_password = secrets.token_urlsafe(18)
    env = {**_app_env(data_dir, backend_port, admin_password), **(extra_env or {})}
    mode = [] if dev else ["--env", "prod", "--single-port"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [reflex, "run", *mode, "--frontend-port", str(port), "--backend-port", str(backend_port),
             "--backend-host", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the launcher and every child end together
        )
    server = Server(url=f"http://{'localhost' if dev else '127.0.0.1'}:{port}", data_dir=data_dir, log=log,
                    admin_password=admin_password, auth_off=env.get("TD_AUTH") == "off",
                    backend=f"http://127.0.0.1:{backend_port}" if dev else "")
    try:
        _wait_until_up(proc, server)
        yield server
    finally:
        stop_process_group(proc)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Server]:
    """The app the browser suite drives, with its UI state in Redis (``REFLEX_REDIS_URL``).

    One backend process (``GRANIAN_WORKERS=1``): with a Redis URL Reflex would start 2×cores+1
    of them, and in embedded mode each would run its own generation worker on the same database.
    """
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    with start_app(data_dir, {"REFLEX_REDIS_URL": redis_url, "GRANIAN_WORKERS": "1"}) as app:
        yield app


def _chromium() -> str | None:
    for candidate in (os.environ.get("TD_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    args = {**browser_type_launch_args, "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]}
    if path := _chromium():
        args["executable_path"] = path
    return args


CONTEXT_ARGS: dict[str, Any] = {"viewport": {"width": 1280, "height": 900},
                                "permissions": ["clipboard-read", "clipboard-write"]}


@pytest.fixture(scope="session")
def signed_in_state(browser: Any, server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The admin signed in once through the real /login page; the browser state (the session cookie)
    saved for every other context of the suite."""
    context = browser.new_context(**CONTEXT_ARGS)
    try:
        sign_in(context.new_page(), server, server.admin_user, server.admin_password, "/")
        path = tmp_path_factory.mktemp("browser-state") / "admin.json"
        context.storage_state(path=path)
    finally:
        context.close()
    return path


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], signed_in_state: Path) -> dict[str, Any]:
    return {**browser_context_args, **CONTEXT_ARGS, "storage_state": str(signed_in_state)}


def make_tiny_adapter(data_dir: Path, name: str, seed: int = 0) -> Path:
    """A real PEFT LoRA for the app's tiny model (non-zero LoRA-B), wrapped the way training wraps it.

    The app builds the tiny model under its data dir at start-up; call this once it is ready.
    """
    import torch
    from peft import get_peft_model
    from transformers import MusicgenForConditionalGeneration

    from training_dashboard.engine.tiny import ensure_tiny_model
    from training_dashboard.training.lora import lora_config

    model = MusicgenForConditionalGeneration.from_pretrained(str(ensure_tiny_model(data_dir)))
    peft_model = get_peft_model(model, lora_config(rank=4, alpha=8, dropout=0.0))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param_name, param in peft_model.named_parameters():
            if "lora_B" in param_name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    peft_model.peft_config["default"].base_model_name_or_path = "tiny"
    path = data_dir / "adapters" / name
    peft_model.save_pretrained(str(path), save_embedding_layers=False)
    return path
