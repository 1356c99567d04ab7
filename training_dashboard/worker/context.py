"""What one worker process knows about itself: settings, API client, what it is working on.

The heartbeat thread reports it to the app every few seconds (``POST /api/worker/heartbeat``);
that report also renews the lease of every job and run listed in ``jobs`` / ``runs``, so a
slow step never makes the app think the worker died.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from training_dashboard.config import Settings
from training_dashboard.worker.api import ApiRefused, ApiUnavailable, WorkerApi

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    """One worker process (one queue)."""

    settings: Settings
    api: WorkerApi
    name: str
    queues: tuple[str, ...]
    stopping: threading.Event = field(default_factory=threading.Event)  # warm shutdown: checkpoint and hand back
    model_status: str = "not_loaded"  # not_loaded | loading | ready | failed (generation workers)
    device: str | None = None
    error: str | None = None
    runtime: Any = None  # engine.runtime.MusicGenRuntime once loaded (generation workers)
    jobs: dict[int, int] = field(default_factory=dict)  # job id -> attempt being worked on
    runs: dict[int, int] = field(default_factory=dict)  # run id -> attempt being worked on
    lock: threading.Lock = field(default_factory=threading.Lock)

    def payload(self) -> dict[str, Any]:
        with self.lock:
            return {"name": self.name, "queues": list(self.queues), "base_model": self.settings.base_model,
                    "device": self.device, "model_status": self.model_status, "error": self.error,
                    "jobs": [[k, v] for k, v in self.jobs.items()], "runs": [[k, v] for k, v in self.runs.items()]}

    def beat(self) -> None:
        """Report this worker once (no retries: the next beat comes soon)."""
        try:
            self.api.http.post(self.api.base + "/heartbeat", json=self.payload(), timeout=10.0,
                               headers={"X-TD-Worker": self.name})
        except Exception as exc:  # noqa: BLE001 - an app restart must not kill the worker
            log.debug("heartbeat failed: %s", exc)

    def start_heartbeat(self) -> threading.Thread:
        interval = max(0.5, min(5.0, self.settings.worker_lease_s / 3))

        def loop() -> None:
            while not self.stopping.wait(interval):
                self.beat()

        self.beat()
        thread = threading.Thread(target=loop, name="td-worker-heartbeat", daemon=True)
        thread.start()
        return thread


def default_name(queue: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{queue}"


_CONTEXT: WorkerContext | None = None


def set_context(ctx: WorkerContext) -> None:
    global _CONTEXT
    _CONTEXT = ctx


def get_context() -> WorkerContext:
    if _CONTEXT is None:
        raise RuntimeError("no worker context: start workers with python -m training_dashboard.worker")
    return _CONTEXT


__all__ = ["ApiRefused", "ApiUnavailable", "WorkerContext", "default_name", "get_context", "set_context"]
