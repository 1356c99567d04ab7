"""`/login`: username and password in a plain HTML form the browser posts to the API itself.

Its own module (own JS chunk): the first page a signed-out visitor loads stays small.
"""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.auth_card import auth_card, text_field
from training_dashboard.components.native_form import hidden, native_form
from training_dashboard.state.login import LoginState


def _sso() -> rx.Component:
    return rx.cond(LoginState.sso, rx.vstack(
        rx.flex(rx.separator(size="4"), rx.text("or", size="1", color_scheme="gray"), rx.separator(size="4"),
                align="center", spacing="2", width="100%"),
        # reload_document: a real navigation to the API (rx.el.a is React Router's Link, which would route
        # /api/auth/oidc/login inside the single-page app and show its 404 page).
        rx.button(rx.el.a("Sign in with single sign-on", href=LoginState.sso_href, reload_document=True),
                  as_child=True, variant="outline", size="3", width="100%", custom_attrs={"data-testid": "sso-login"}),
        spacing="3", width="100%",
    ))


@rx.page(route="/login", title="Sign in · Training Dashboard", on_load=LoginState.load_page)
def login() -> rx.Component:
    return auth_card(
        "Sign in", "Use the username and password an admin gave you.",
        native_form(
            rx.vstack(
                hidden("next", LoginState.next_path),
                text_field("Username", "username", auto_complete="username", required=True, auto_focus=True,
                           auto_capitalize="none", spell_check=False, max_length=200),
                text_field("Password", "password", type="password", auto_complete="current-password", required=True,
                           max_length=1024),
                rx.button("Sign in", type="submit", size="3", width="100%",
                          loading=~LoginState.ready, disabled=~LoginState.ready,
                          custom_attrs={"data-testid": "login-submit"}),
                spacing="3", width="100%", align="stretch",
            ),
            action="/api/auth/login/form", testid="login-form", width="100%",
        ),
        _sso(),
        rx.cond(LoginState.setup_needed, rx.callout(
            "No account exists yet: open the one-time setup link the app printed on its console when it started "
            "(or start it with TD_ADMIN_USER and TD_ADMIN_PASSWORD).", icon="info", size="1",
            custom_attrs={"data-testid": "login-setup-hint"})),
        error=LoginState.error, testid="login",
    )
