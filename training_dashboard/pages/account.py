"""`/account`: who you are signed in as, and your personal access tokens (own module, own JS chunk)."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import field, page_shell, panel_header, skeleton_rows, stack_card
from training_dashboard.components.token_table import secret_once, token_table
from training_dashboard.state.account import EXPIRY_CHOICES, AccountState
from training_dashboard.state.auth import AuthState, guard


def who_card() -> rx.Component:
    a = AuthState
    return stack_card(
        rx.heading("Your account", size="4"),
        rx.data_list.root(
            rx.data_list.item(rx.data_list.label("Name"), rx.data_list.value(a.name)),
            rx.data_list.item(rx.data_list.label("Username"), rx.data_list.value(rx.code(a.username))),
            rx.data_list.item(rx.data_list.label("Role"), rx.data_list.value(
                rx.badge(a.role, custom_attrs={"data-testid": "account-role"}))),
            size="2",
        ),
        rx.text(rx.match(a.role,
                         ("rater", "Raters listen and judge: the Rate page, blind evaluations, rating clips."),
                         ("trainer", "Trainers also generate, build datasets, train, evaluate and register "
                                     "adapters."),
                         ("admin", "Admins also activate adapters, manage users and tokens, and read the audit "
                                   "log."),
                         ""), size="2", color_scheme="gray"),
        testid="account-who",
    )


def tokens_card() -> rx.Component:
    s = AccountState
    return stack_card(
        panel_header("Personal access tokens"),
        rx.text("For the training CLI and your scripts: each token acts as you, with your role, until it expires "
                "or you revoke it. Set it as ", rx.code("TD_API_TOKEN"), ".", size="2", color_scheme="gray"),
        rx.cond(s.created_secret, secret_once(s.created_secret, s.created_name, s.dismiss_secret)),
        rx.flex(
            rx.box(field("Name", rx.input(value=s.new_name, on_change=s.set_new_name, placeholder="e.g. laptop CLI",
                                          max_length=100, custom_attrs={"data-testid": "token-name"})),
                   flex="1", min_width="12em"),
            rx.box(field("Expires after", rx.select.root(
                rx.select.trigger(custom_attrs={"data-testid": "token-expiry"}),
                rx.select.content(*(rx.select.item(label, value=value) for value, label in EXPIRY_CHOICES)),
                value=s.new_expiry, on_change=s.set_new_expiry,
            )), min_width="10em"),
            rx.button("Create token", on_click=s.create_token, loading=s.creating, disabled=~s.name_ok,
                      custom_attrs={"data-testid": "token-create"}),
            gap="3", align="end", wrap="wrap", width="100%",
        ),
        rx.cond(s.error, rx.callout(s.error, color_scheme="red", size="1", icon="circle_alert")),
        rx.cond(~s.loaded, skeleton_rows(1), token_table(s.tokens, AccountState.revoke_token, testid="my-tokens")),
        testid="account-tokens",
    )


@rx.page(route="/account", title="Account · Training Dashboard", on_load=guard("/account", AccountState.load_page))
def account() -> rx.Component:
    return page_shell(
        rx.vstack(who_card(), rx.cond(
            AuthState.auth_off,
            rx.callout("Sign-in is off (TD_AUTH=off): every request here acts as the local admin, and the CLI "
                       "needs no token.", icon="info", width="100%"),
            tokens_card()), spacing="4", width="100%", max_width="60em"),
        current="Account",
    )
