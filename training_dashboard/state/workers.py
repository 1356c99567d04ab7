"""Broker mode: the worker machines the app hears from (from /api/health), for the Runs tab."""

from __future__ import annotations

import dataclasses

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client
from training_dashboard.state.loading import load

STATUS_COLORS = {"ready": "green", "loading": "blue", "failed": "red"}


@dataclasses.dataclass
class WorkerRow:
    name: str
    queues: str
    status: str
    color: str
    error: str
    doing: str
    last_seen: str


def seen_text(seconds: float) -> str:
    if seconds < 1:
        return "just now"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    return f"{seconds / 60:.0f} min ago"


def worker_row(worker: schemas.WorkerInfo) -> WorkerRow:
    """One worker as the list shows it: what it serves, whether its model is up, what it is doing."""
    if "generate" in worker.queues:
        model = ", ".join(p for p in (worker.base_model, worker.device) if p)
        status, status_text = worker.model_status, f"{worker.model_status} ({model})"
    else:  # a training-only worker loads the model per run, in a child process
        status, status_text = "ready", "trains" + (f" ({worker.device})" if worker.device else "")
    return WorkerRow(name=worker.name, queues=", ".join(worker.queues), status=status_text,
                     color=STATUS_COLORS.get(status, "gray"), error=worker.error or "",
                     doing=worker.current or "idle", last_seen=seen_text(worker.last_seen_s))


class WorkersState(rx.State):
    mode: str = ""  # "" until the first answer, then embedded / broker
    workers: list[WorkerRow] = []
    problem: str = ""
    loading: bool = False

    @rx.var
    def broker(self) -> bool:
        return self.mode == "broker"

    @rx.event(background=True)
    async def load_workers(self):  # type: ignore[no-untyped-def]
        await load(self, api_client, lambda api: api.health(), self._show, failed=self._failed)

    def _show(self, health: schemas.Health) -> None:
        self.mode, self.problem = health.mode, ""
        self.workers = [worker_row(w) for w in sorted(health.workers, key=lambda w: w.name)]

    def _failed(self, error: str) -> None:
        self.problem = f"Could not load the workers: {error}"
