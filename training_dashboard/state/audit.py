"""/admin's audit log: newest first, filtered by actor, action and date, a page at a time."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client
from training_dashboard.state.loading import load

PAGE_SIZE = 50
# The actions the filter offers (the API also takes any exact action or a prefix ending in ".").
ACTIONS = ("login.", "login.failed", "user.", "token.", "adapter.", "setup.")


@dataclasses.dataclass
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: str
    client: str


def audit_row(event: schemas.AuditEventPublic) -> AuditRow:
    return AuditRow(id=event.id, at=event.at.strftime("%Y-%m-%d %H:%M:%S"), actor=event.actor_name or "—",
                    action=event.action, target=event.target or "", detail=event.detail or "",
                    client=event.client_addr or "")


def day_bounds(since: str, until: str) -> tuple[datetime | None, datetime | None]:
    """Dates from the filter's date inputs (``YYYY-MM-DD``, UTC) as the API's bounds: from the start
    of ``since`` to the end of ``until``; an empty or malformed one is no bound."""

    def parse(value: str) -> date | None:
        try:
            return date.fromisoformat(value.strip()) if value.strip() else None
        except ValueError:
            return None

    start, end = parse(since), parse(until)
    return (datetime.combine(start, time(), UTC) if start else None,
            datetime.combine(end + timedelta(days=1), time(), UTC) if end else None)


class AuditState(rx.State):
    rows: list[AuditRow] = []
    total: int = 0
    page: int = 1
    actor: str = ""
    action: str = ""
    since: str = ""
    until: str = ""
    loading: bool = False
    loaded: bool = False
    error: str = ""

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def page_text(self) -> str:
        if not self.total:
            return "No events match"
        first = (self.page - 1) * PAGE_SIZE + 1
        return f"{first}–{min(self.page * PAGE_SIZE, self.total)} of {self.total:,} events"

    @rx.event(background=True)
    async def load_audit(self):  # type: ignore[no-untyped-def]
        async with self:
            page, actor, action = self.page, self.actor.strip() or None, self.action.strip() or None
            since, until = day_bounds(self.since, self.until)
        await load(self, api_client, lambda api: api.list_audit(actor=actor, action=action, since=since, until=until,
                                                                page=page, limit=PAGE_SIZE),
                   self._show, failed=self._failed)

    def _show(self, found: schemas.Page[schemas.AuditEventPublic]) -> None:
        self.rows, self.total = [audit_row(e) for e in found.items], found.total
        self.error, self.loaded = "", True

    def _failed(self, error: str) -> None:
        self.error, self.loaded = f"Could not load the audit log: {error}", True

    @rx.event
    def set_actor(self, value: str) -> None:
        self.actor = value[:64]

    @rx.event
    def set_action(self, value: str) -> None:
        self.action = "" if value == "any" else value[:32]

    @rx.event
    def set_since(self, value: str) -> None:
        self.since = value[:10]

    @rx.event
    def set_until(self, value: str) -> None:
        self.until = value[:10]

    @rx.event
    def apply_filters(self):  # type: ignore[no-untyped-def]
        self.page = 1
        return AuditState.load_audit

    @rx.event
    def filter_key(self, key: str):  # type: ignore[no-untyped-def]
        """Enter in a filter field applies the filters."""
        return AuditState.apply_filters if key == "Enter" else None

    @rx.event
    def clear_filters(self):  # type: ignore[no-untyped-def]
        self.actor, self.action, self.since, self.until, self.page = "", "", "", "", 1
        return AuditState.load_audit

    @rx.event
    def go_page(self, delta: int):  # type: ignore[no-untyped-def]
        page = min(max(1, self.page + int(delta)), self.pages)
        if page == self.page:
            return None
        self.page = page
        return AuditState.load_audit
