"""`/admin` (admins only): users, everyone's access tokens, the audit log (own module, own JS chunk)."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.audit_log import audit_panel
from training_dashboard.components.layout import page_shell, stack_card
from training_dashboard.components.token_table import token_table
from training_dashboard.components.user_table import users_panel
from training_dashboard.state.admin import AdminState
from training_dashboard.state.audit import AuditState
from training_dashboard.state.auth import guard


def tokens_panel() -> rx.Component:
    return stack_card(
        rx.heading("Access tokens", size="4"),
        rx.text("Everyone's personal access tokens. Revoking one stops it at once; its owner can create another "
                "on their account page.", size="2", color_scheme="gray"),
        token_table(AdminState.tokens, AdminState.revoke_token, owner=True, testid="all-tokens"),
        testid="admin-tokens", spacing="3",
    )


def _tab(value: str, label: str) -> rx.Component:
    return rx.tabs.trigger(label, value=value, custom_attrs={"data-testid": f"admin-tab-{value}"})


@rx.page(route="/admin", title="Admin · Training Dashboard",
         on_load=guard("/admin", AdminState.load_users, AuditState.load_audit, role="admin"))
def admin() -> rx.Component:
    return page_shell(
        rx.tabs.root(
            rx.tabs.list(_tab("users", "Users"), _tab("tokens", "Access tokens"), _tab("audit", "Audit log")),
            rx.tabs.content(users_panel(), value="users", padding_top="1em"),
            # Radix mounts a panel's children only while it shows: the tokens load each time it is opened.
            rx.tabs.content(rx.fragment(tokens_panel(), on_mount=AdminState.load_tokens), value="tokens",
                            padding_top="1em"),
            rx.tabs.content(audit_panel(), value="audit", padding_top="1em"),
            default_value="users", width="100%",
        ),
        current="Admin", role="admin", what="The admin page (users, tokens, audit log)",
    )
