"""The base model's state as the studio shows it: loading, failed (why, and what to do) or ready."""

from __future__ import annotations

import asyncio

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client, error_text

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
        self.text = model_text(health.model, health.worker)

    @rx.event(background=True)
    async def watch_model(self):  # type: ignore[no-untyped-def]
        """Ask /api/health until the model is ready or failed (bounded), so the page says so at once."""
        async with self:
            if self.watching:
                return
            self.watching = True
        try:
            async with api_client() as api:
                for _ in range(MAX_POLLS):
                    health = await api.health()
                    async with self:
                        self._apply(health)
                    if health.model.status in ("ready", "failed") or not health.worker:
                        break
                    await asyncio.sleep(POLL_S)
        except Exception as exc:  # noqa: BLE001
            async with self:
                self.status, self.text = "unreachable", f"Model state unknown: {error_text(exc)}"
        finally:
            async with self:
                self.watching = False
