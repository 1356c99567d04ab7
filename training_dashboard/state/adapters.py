"""Adapters: the registry as the UI shows it (training page) and the studio's adapter choice."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import reflex as rx

from training_dashboard import schemas
from training_dashboard.client import ApiClient, ApiError
from training_dashboard.state.api import api_client, error_text, short_date
from training_dashboard.state.loading import load

STATUS_FILTERS = ("all", "active", "inactive")


@dataclasses.dataclass
class AdapterRow:
    id: int
    name: str
    version: str
    description: str
    base_model: str
    is_active: bool
    compatible: bool
    dataset: str
    training_config: str
    report: str
    created: str
    usage: str
    verdict: str = "none"  # latest completed evaluation vs the base model: none | better | worse | inconclusive
    verdict_text: str = ""
    forced_reason: str = ""


def adapter_row(adapter: schemas.AdapterPublic, usage: schemas.AdapterUsage | None = None) -> AdapterRow:
    dataset = f"{adapter.dataset_name or 'dataset'} (#{adapter.dataset_id})" if adapter.dataset_id else ""
    return AdapterRow(
        id=adapter.id, name=adapter.name, version=adapter.version, description=adapter.description or "",
        base_model=adapter.base_model, is_active=adapter.is_active, compatible=adapter.compatible, dataset=dataset,
        training_config=_pretty(adapter.training_config), report=_pretty(adapter.report),
        created=short_date(adapter.created_at), usage=usage_text(usage),
        verdict=adapter.evaluation.verdict, verdict_text=verdict_text(adapter.evaluation),
        forced_reason=adapter.forced_activation_reason or "",
    )


def verdict_text(v: schemas.AdapterVerdict) -> str:
    """The verdict in words, e.g. "better than base: win rate 75% (95% CI 60-86%), 45 votes"."""
    if v.verdict == "none":
        return "Not evaluated against the base model yet"
    rate = f"win rate {v.win_rate * 100:.0f}%" if v.win_rate is not None else "no decisive votes"
    interval = (f" (95% CI {v.ci_low * 100:.0f}–{v.ci_high * 100:.0f}%)"
                if v.ci_low is not None and v.ci_high is not None else "")
    word = {"better": "better than base", "worse": "worse than base"}.get(v.verdict, "inconclusive vs base")
    return f"{word}: {rate}{interval}, {v.votes} votes (evaluation #{v.evaluation_id})"


def usage_text(usage: schemas.AdapterUsage | None) -> str:
    if usage is None:
        return ""
    parts = [f"{usage.samples_generated} clips", f"{usage.ratings} ratings"]
    if usage.average_rating is not None:
        parts.append(f"avg {usage.average_rating:.1f}")
    if usage.preference_win_rate is not None:
        parts.append(f"wins {usage.preference_wins}/{usage.preference_wins + usage.preference_losses}")
    return " · ".join(parts)


def filter_adapters(rows: list[AdapterRow], status: str) -> list[AdapterRow]:
    if status == "active":
        return [r for r in rows if r.is_active]
    if status == "inactive":
        return [r for r in rows if not r.is_active]
    return list(rows)


Listing = tuple[schemas.Health, list[tuple[schemas.AdapterPublic, schemas.AdapterDetail]]]


async def _fetch_adapters(api: ApiClient) -> Listing:
    """The base model served, and every adapter with its usage (one detail call each)."""
    health, page = await asyncio.gather(api.health(), api.list_adapters("all", limit=100))
    details = await asyncio.gather(*(api.get_adapter(a.id) for a in page.items))
    return health, list(zip(page.items, details, strict=True))


def _pretty(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=1, sort_keys=True) if value else ""


class AdapterState(rx.State):
    """Every registered adapter, the list filter, and the base model the engine serves."""

    adapters: list[AdapterRow] = []
    status_filter: str = "all"
    base_model: str = ""
    loading: bool = False
    loaded: bool = False
    busy_id: int = 0
    # The evaluation gate refused an activation (409): ask for a reason to force it.
    gate_for: int = 0
    gate_message: str = ""
    gate_reason: str = ""
    forcing: bool = False

    @rx.var
    def visible_adapters(self) -> list[AdapterRow]:
        return filter_adapters(self.adapters, self.status_filter)

    @rx.var
    def active_adapters(self) -> list[AdapterRow]:
        """What the studio may generate with: active and made for the loaded base model."""
        return [r for r in self.adapters if r.is_active and r.compatible]

    @rx.var
    def base_label(self) -> str:
        return f"Base model ({self.base_model})" if self.base_model else "Base model"

    @rx.event
    def set_status_filter(self, status: str | list[str]) -> None:
        status = status[0] if isinstance(status, list) and status else status
        self.status_filter = status if status in STATUS_FILTERS else "all"

    @rx.event(background=True)
    async def load_adapters(self):  # type: ignore[no-untyped-def]
        if error := await load(self, api_client, _fetch_adapters, self._show):
            yield rx.toast.error(f"Could not load adapters: {error}")

    def _show(self, answer: Listing) -> None:
        health, adapters = answer
        self.base_model = health.model.base_model
        self.adapters = [adapter_row(a, d.usage) for a, d in adapters]
        self.loaded = True

    @rx.event(background=True)
    async def toggle_adapter(self, adapter_id: int, active: bool):  # type: ignore[no-untyped-def]
        async with self:
            previous = self._set_active(adapter_id, active)  # shows at once, here and in the studio
            self.busy_id = adapter_id
        try:
            async with api_client(self) as api:
                detail = await (api.activate_adapter(adapter_id) if active else api.deactivate_adapter(adapter_id))
            async with self:
                self.adapters = [adapter_row(detail, detail.usage) if r.id == adapter_id else r
                                 for r in self.adapters]
            yield rx.toast.success(f"{detail.name} {detail.version} {'activated' if active else 'deactivated'}")
        except Exception as exc:  # noqa: BLE001
            async with self:
                if previous is not None:
                    self._set_active(adapter_id, previous)
                if active and isinstance(exc, ApiError) and exc.status == 409:
                    self.gate_for, self.gate_message, self.gate_reason = adapter_id, exc.message, ""
                    return
            yield rx.toast.error(f"Could not change the adapter: {error_text(exc)}")
        finally:
            async with self:
                self.busy_id = 0

    def _set_active(self, adapter_id: int, active: bool) -> bool | None:
        previous = None
        rows = []
        for row in self.adapters:
            if row.id == adapter_id:
                previous = row.is_active
                row = dataclasses.replace(row, is_active=active)
            rows.append(row)
        self.adapters = rows
        return previous

    @rx.var
    def gate_reason_ok(self) -> bool:
        return 0 < len(self.gate_reason.strip()) <= schemas.MAX_REASON_CHARS

    @rx.event
    def set_gate_reason(self, value: str) -> None:
        self.gate_reason = value[: schemas.MAX_REASON_CHARS + 1]

    @rx.event
    def close_gate(self, open_: bool = False) -> None:
        if not open_:
            self.gate_for, self.gate_message, self.gate_reason = 0, "", ""

    @rx.event(background=True)
    async def force_activate(self):  # type: ignore[no-untyped-def]
        """Activate despite the evaluation gate; the reason is kept and shown on the adapter."""
        async with self:
            if not self.gate_for or not self.gate_reason_ok or self.forcing:
                return
            adapter_id, reason = self.gate_for, self.gate_reason.strip()
            self.forcing = True
        try:
            async with api_client(self) as api:
                detail = await api.activate_adapter(adapter_id, force=True, reason=reason)
            async with self:
                self.adapters = [adapter_row(detail, detail.usage) if r.id == adapter_id else r
                                 for r in self.adapters]
                self.gate_for, self.gate_message, self.gate_reason = 0, "", ""
            yield rx.toast.success(f"{detail.name} {detail.version} activated (forced)")
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Could not activate: {error_text(exc)}")
        finally:
            async with self:
                self.forcing = False
