"""The worker's client for ``/api/worker/*``: the worker token on every call, patient retries.

Synchronous (a worker is a plain process). A call that cannot reach the app, or gets a 5xx
or a 429, is retried with backoff for up to ``patience_s`` (an app restart while workers are
busy must lose nothing); a 4xx is an answer and raised at once as :class:`ApiRefused`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

log = logging.getLogger(__name__)


class ApiRefused(Exception):
    """The app answered with a 4xx: ``status`` and its ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


class ApiUnavailable(Exception):
    """The app could not be reached (or kept failing) for longer than the worker's patience."""


class WorkerApi:
    """HTTP client for the worker-only endpoints.

    Args:
        api_url: the app's API root, e.g. ``http://10.0.0.5:8000/api`` (``TD_API_URL``).
        token: ``TD_WORKER_TOKEN``.
        patience_s: how long a call keeps retrying while the app is unreachable.
        timeout_s: per-request timeout (uploads and downloads get more).
    """

    def __init__(self, api_url: str, token: str, patience_s: float = 300.0, timeout_s: float = 30.0) -> None:
        self.base = api_url.rstrip("/") + "/worker"
        self.patience_s = patience_s
        self.http = httpx.Client(timeout=httpx.Timeout(timeout_s, read=max(timeout_s, 300.0)),
                                 headers={"Authorization": f"Bearer {token}"}, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send ``method`` to ``/api/worker{path}``; retry while the app is away; raise on a 4xx."""
        deadline = time.monotonic() + self.patience_s
        delay = 0.2
        while True:
            try:
                response = self.http.request(method, self.base + path, **kwargs)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                if response.status_code < 500 and response.status_code != 429:
                    raise ApiRefused(response.status_code, detail(response))
                problem = f"HTTP {response.status_code}: {detail(response)}"
            if time.monotonic() + delay > deadline:
                raise ApiUnavailable(f"{method} {path}: the app did not answer for {self.patience_s:.0f} s "
                                     f"({problem})")
            log.warning("%s %s: %s; retrying in %.1f s", method, path, problem, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()


def detail(response: httpx.Response) -> str:
    """The ``detail`` of an error response (or the start of its body)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)[:500]
