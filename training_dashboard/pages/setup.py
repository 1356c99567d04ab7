"""`/setup?token=...`: the console's one-time link that creates the first admin (and signs them in)."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.auth_card import auth_card, text_field
from training_dashboard.components.native_form import hidden, native_form
from training_dashboard.state.login import SetupState


@rx.page(route="/setup", title="Set up · Training Dashboard", on_load=SetupState.load_page)
def setup() -> rx.Component:
    return auth_card(
        "Create the first admin",
        "This one-time link (valid 30 minutes) creates the account that manages everyone else's.",
        rx.cond(~SetupState.done, native_form(
            rx.vstack(
                hidden("token", SetupState.token),
                text_field("Username", "username", auto_complete="username", required=True, auto_focus=True,
                           auto_capitalize="none", spell_check=False, max_length=64, pattern="[a-z0-9._\\-]{1,64}",
                           title="lower-case letters, digits, '.', '_' or '-'"),
                text_field("Display name (optional)", "display_name", auto_complete="name", max_length=100),
                text_field("Password (at least 12 characters)", "password", type="password",
                           auto_complete="new-password", required=True, min_length=12, max_length=1024),
                rx.button("Create admin and sign in", type="submit", size="3", width="100%",
                          loading=~SetupState.ready, disabled=~SetupState.ready,
                          custom_attrs={"data-testid": "setup-submit"}),
                spacing="3", width="100%", align="stretch",
            ),
            action="/api/auth/setup/form", testid="setup-form", width="100%",
        )),
        rx.link("Already set up? Sign in", href="/login", size="2"),
        error=SetupState.error, testid="setup",
    )
