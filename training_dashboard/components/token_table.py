"""Personal access tokens as a table (yours on /account, everyone's on /admin), and the secret shown once."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from training_dashboard.state.account import TokenRow

_STATUS = (("active", "green"), ("expired", "gray"), ("revoked", "red"))


def token_table(tokens: rx.Var[list[TokenRow]], revoke: Callable[[rx.Var[int]], rx.event.EventSpec], *,
                owner: bool = False, testid: str) -> rx.Component:
    """``revoke(token_id)`` is the event the Revoke button sends (shown on active tokens only)."""
    headers = [*(["Owner"] if owner else []), "Name", "Starts with", "Created", "Expires", "Last used", "Status", ""]

    def row(t: TokenRow) -> rx.Component:
        return rx.table.row(
            *([rx.table.cell(t.owner)] if owner else []),
            rx.table.row_header_cell(t.name),
            rx.table.cell(rx.code(t.prefix, size="1")),
            rx.table.cell(t.created),
            rx.table.cell(t.expires),
            rx.table.cell(t.last_used, custom_attrs={"data-testid": "token-last-used"}),
            rx.table.cell(rx.badge(t.status, color_scheme=rx.match(t.status, *_STATUS, "gray"))),
            rx.table.cell(rx.cond(t.status == "active", rx.button(
                "Revoke", size="1", variant="soft", color_scheme="red", on_click=revoke(t.id),
                custom_attrs={"data-testid": "token-revoke", "aria-label": "Revoke token " + t.name}))),
            custom_attrs={"data-testid": "token-row", "data-token-id": t.id},
        )

    return rx.cond(
        tokens.length() > 0,
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*(rx.table.column_header_cell(h) for h in headers))),
            rx.table.body(rx.foreach(tokens, row)),
            size="1", width="100%", custom_attrs={"data-testid": testid},
        ), overflow_x="auto", width="100%"),
        rx.text("No tokens yet.", size="2", color_scheme="gray", custom_attrs={"data-testid": f"{testid}-empty"}),
    )


def secret_once(secret: rx.Var[str], name: rx.Var[str], dismiss: rx.event.EventHandler) -> rx.Component:
    """The new token's secret: shown this once (only its hash is stored), with a copy button."""
    return rx.callout.root(
        rx.callout.icon(rx.icon("key-round")),
        rx.vstack(
            rx.text(rx.text.strong("Token “", name, "” created."), " Copy it now: it is shown only this once.",
                    size="2"),
            rx.hstack(
                rx.code(secret, size="2", variant="outline", style={"word_break": "break-all"},
                        custom_attrs={"data-testid": "token-secret"}),
                rx.button(rx.icon("copy", size=14), "Copy", size="1",
                          on_click=[rx.set_clipboard(secret), rx.toast.success("Token copied")],
                          custom_attrs={"data-testid": "token-copy"}),
                align="center", wrap="wrap", spacing="2", width="100%",
            ),
            rx.text("Use it as ", rx.code("TD_API_TOKEN"), " for the CLI and scripts (sent as ",
                    rx.code("Authorization: Bearer …"), "); it acts with your role.", size="1"),
            rx.button("Done, I have copied it", size="1", variant="soft", on_click=dismiss,
                      custom_attrs={"data-testid": "token-done"}),
            spacing="2", align="start", width="100%",
        ),
        color_scheme="green", width="100%", custom_attrs={"data-testid": "token-created"},
    )
