"""/admin's audit log: filters (actor, action, dates), the table newest first, and a pager."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import field, loading_table, panel_header, stack_card
from training_dashboard.state.audit import ACTIONS, AuditRow, AuditState


def _row(e: AuditRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(e.at, size="1", white_space="nowrap")),
        rx.table.cell(e.actor),
        rx.table.cell(rx.code(e.action, size="1")),
        rx.table.cell(e.target),
        rx.table.cell(rx.text(e.detail, size="1")),
        rx.table.cell(rx.text(e.client, size="1", color_scheme="gray")),
        custom_attrs={"data-testid": "audit-row"},
    )


def _filters() -> rx.Component:
    s = AuditState
    return rx.flex(
        rx.box(field("Actor", rx.input(value=s.actor, on_change=s.set_actor, on_key_down=s.filter_key,
                                       placeholder="username", max_length=64,
                                       custom_attrs={"data-testid": "audit-actor"})), min_width="9em", flex="1"),
        rx.box(field("Action", rx.select.root(
            rx.select.trigger(placeholder="any", custom_attrs={"data-testid": "audit-action"}),
            rx.select.content(rx.select.item("any", value="any"),
                              *(rx.select.item(a + ("*" if a.endswith(".") else ""), value=a) for a in ACTIONS)),
            value=rx.cond(s.action, s.action, "any"), on_change=s.set_action)), min_width="9em"),
        rx.box(field("From (UTC)", rx.input(type="date", value=s.since, on_change=s.set_since,
                                            custom_attrs={"data-testid": "audit-since"})), min_width="9em"),
        rx.box(field("To (UTC)", rx.input(type="date", value=s.until, on_change=s.set_until,
                                          custom_attrs={"data-testid": "audit-until"})), min_width="9em"),
        rx.button("Apply", on_click=s.apply_filters, loading=s.loading, custom_attrs={"data-testid": "audit-apply"}),
        rx.button("Clear", on_click=s.clear_filters, variant="soft", color_scheme="gray"),
        spacing="3", align="end", wrap="wrap", width="100%",
    )


def audit_panel() -> rx.Component:
    s = AuditState
    headers = ("Time (UTC)", "Actor", "Action", "Target", "Detail", "Client")
    return stack_card(
        panel_header("Audit log", rx.text(s.page_text, size="2", color_scheme="gray",
                                          custom_attrs={"data-testid": "audit-count"})),
        rx.text("Sign-ins (failed ones too), user and role changes, tokens, activations (forced ones with their "
                "reason) and deletions. Nothing here can be edited or removed.", size="2", color_scheme="gray"),
        _filters(),
        rx.cond(s.error, rx.callout(s.error, color_scheme="red", size="1", icon="circle_alert")),
        loading_table(s.loaded, headers, s.rows, _row, "audit-table"),
        rx.hstack(
            rx.button("Newer", size="1", variant="soft", on_click=s.go_page(-1), disabled=s.page <= 1,
                      custom_attrs={"data-testid": "audit-newer"}),
            rx.text("Page ", s.page.to_string(), " of ", s.pages.to_string(), size="2"),
            rx.button("Older", size="1", variant="soft", on_click=s.go_page(1), disabled=s.page >= s.pages,
                      custom_attrs={"data-testid": "audit-older"}),
            align="center", spacing="3", justify="end", width="100%",
        ),
        testid="admin-audit", spacing="3",
    )
