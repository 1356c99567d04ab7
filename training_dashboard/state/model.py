"""The base model's state as the studio shows it: loading, failed (why, and what to do) or ready."""

from __future__ import annotations

import asyncio

import reflex as rx

from training_dashboard import schemas
from training_dashboard.client import ApiClient
from training_dashboard.state.api import api_client
from training_dashboard.state.loading import load

POLL_S = 2.0
MAX_POLLS = 300  # ~10 minutes: a first download of musicgen-small can take that long


def model_text(model: schemas.ModelStatus, worker: bool) -> str:
    """One sentence a person can act on."""
    name = model.base_model
    if model.status == "ready":
        return f"Base model {name} is ready" + (f" on {model.device}" if model.device else "")
    if model.status == "failed":
        reason = (model.error or "no reason given").rstrip(". ")
        return (f"The base model {name} could not be loaded, so nothing can be generated: {reason}. "
                "Fix TD_BASE_MODEL (or the model files), then restart the app.")
    if not worker:
        return f"Base model {name}: generation runs in a separate worker process; jobs wait in the queue for it."
    return f"Loading the base model {name}… Generate works meanwhile: jobs wait in the queue until it is ready."


NO_GENERATE_WORKER = ("No generation worker connected: start one with "
                      "python -m training_dashboard.worker --queues generate")


def broker_model_text(health: schemas.Health) -> str:
    """Broker mode: what the generation workers the app hears from can do, in one sentence."""
    model = health.model
    if model.status == "ready":
        ready = [w for w in health.workers
                 if "generate" in w.queues and w.base_model == model.base_model and w.model_status == "ready"]
        kinds = "; ".join(sorted({", ".join(p for p in (w.base_model, w.device) if p) for w in ready}))
        return f"{len(ready)} generation worker{'s' if len(ready) != 1 else ''} ready ({kinds})"
    if model.status == "loading":
        return (f"A generation worker is loading the base model {model.base_model}… Generate works meanwhile: "
                "jobs wait in the queue until it is ready.")
    if model.status == "failed":
        reason = (model.error or "no reason given").rstrip(". ")
        return f"No generation worker can generate with the base model {model.base_model}: {reason}."
    return NO_GENERATE_WORKER + ". Jobs wait in the queue until one is."


class ModelState(rx.State):
    base_model: str = ""
    # "" until the first answer; then not_loaded / loading / ready / failed, or "unreachable"
    status: str = ""
    text: str = ""
    watching: bool = False

    @rx.var
    def failed(self) -> bool:
        return self.status == "failed"

    def _apply(self, health: schemas.Health) -> None:
        self.base_model, self.status = health.model.base_model, health.model.status
        self.text = broker_model_text(health) if health.mode == "broker" else model_text(health.model, health.worker)

    @rx.event(background=True)
    async def watch_model(self):  # type: ignore[no-untyped-def]
        """Ask /api/health until the model is ready or failed (bounded), so the page says so at once."""
        await load(self, api_client, self._watch, failed=self._unreachable, flag="watching")

    async def _watch(self, api: ApiClient) -> None:
        for _ in range(MAX_POLLS):
            health = await api.health()
            async with self:
                self._apply(health)
            if health.model.status in ("ready", "failed") or not (health.worker or health.mode == "broker"):
                break  # in broker mode keep asking: a worker may connect later
            await asyncio.sleep(POLL_S)

    def _unreachable(self, error: str) -> None:
        self.status, self.text = "unreachable", f"Model state unknown: {error}"
