"""The frame every page shares: a header with navigation, and a centred column."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from training_dashboard.components.native_form import native_form
from training_dashboard.components.rate_picker import rater_picker, rater_switch
from training_dashboard.state.auth import AuthState
from training_dashboard.state.training import TrainingState

# Back to the tab last shown: the address and the tab agree from the first frame. Each link is shown
# to the roles that can use its page (None: everyone signed in).
NAV = (("Studio", "/", None), ("Rate", "/rate", None),
       ("Training", "/training?tab=" + TrainingState.tab, AuthState.is_trainer),
       ("Admin", "/admin", AuthState.is_admin))


def nav_link(label: str, href: str | rx.Var[str], current: bool) -> rx.Component:
    return rx.link(
        label, href=href, weight="bold" if current else "regular", color_scheme="iris" if current else "gray",
        underline="none", aria_current="page" if current else None, data_testid=f"nav-{label.lower()}",
        padding_x="0.5em",
    )


def _nav_item(label: str, href: str | rx.Var[str], shown: rx.Var[bool] | None, current: str) -> rx.Component:
    link = nav_link(label, href, label == current)
    return link if shown is None else rx.cond(shown, link)


def user_menu() -> rx.Component:
    """Who is signed in (a link to their account), their role, and Sign out (a real form post: the
    API clears the HttpOnly cookie and sends the browser to /login)."""
    s = AuthState
    return rx.cond(
        s.signed_in & ~s.auth_off,
        rx.hstack(
            rx.link(rx.icon("circle-user", size=16), s.name, href="/account", size="2", color_scheme="gray",
                    underline="none", display="inline-flex", align_items="center", gap="0.3em",
                    custom_attrs={"data-testid": "user-name", "title": "Your account and access tokens"}),
            rx.badge(s.role, variant="soft", color_scheme=rx.match(s.role, ("admin", "crimson"), ("trainer", "iris"),
                                                                   "gray"),
                     custom_attrs={"data-testid": "user-role"}),
            native_form(rx.button("Sign out", type="submit", variant="soft", color_scheme="gray", size="1",
                                  custom_attrs={"data-testid": "sign-out"}),
                        action="/api/auth/logout", testid="sign-out-form", display="inline-flex"),
            # A divider from the links where they share a line; none where a narrow screen wraps it below them.
            spacing="2", align="center", padding_left=rx.breakpoints(initial="0", sm="0.75em"),
            border_left=rx.breakpoints(initial="none", sm="1px solid var(--gray-a5)"),
        ),
    )


ROLE_VARS = {"trainer": AuthState.is_trainer, "admin": AuthState.is_admin}


def page_shell(*children: rx.Component, current: str, role: str | None = None, what: str = "This page",
               wide: bool = False) -> rx.Component:
    """The frame of a signed-in page. With ``role`` (trainer / admin) the content shows only to that
    role and above; anyone else reads why (the API refuses them anyway). ``wide``: up to 1440 px
    instead of 1136 (the studio's three columns)."""
    s = AuthState
    header = rx.flex(
        rx.heading("Training Dashboard", size="4", as_="div"),
        rx.flex(*(_nav_item(label, href, shown, current) for label, href, shown in NAV),
                rx.cond(s.auth_off, rater_switch()), user_menu(), as_="nav", gap="2", align="center", wrap="wrap"),
        justify="between", align="center", wrap="wrap", gap="2", padding_y="0.75em",
        border_bottom="1px solid var(--gray-a5)",
    )
    return rx.container(
        header,
        rx.cond(s.auth_off, rater_picker()),
        rx.box(*children, padding_y="1em", width="100%") if role is None else rx.box(
            rx.cond(ROLE_VARS[role], rx.fragment(*children),
                    rx.cond(s.signed_in, role_required(role, what), skeleton_rows(2))),
            padding_y="1em", width="100%"),
        size="4", padding_x=rx.breakpoints(initial="0.75em", sm="1.5em"),
        style={"--container-4": "1440px"} if wide else {},
    )


def role_required(role: str, what: str) -> rx.Component:
    """What a page says to someone whose role is too low for it (the API refuses them anyway)."""
    return rx.callout(
        rx.text(what, " needs the ", rx.text.strong(role), " role; you are signed in as ",
                rx.text.strong(AuthState.name), " (", AuthState.role, "). Ask an admin if you need it."),
        icon="lock", color_scheme="amber", width="100%", custom_attrs={"data-testid": "role-required"},
    )


def empty_state(title: str, text: str, *actions: rx.Component, testid: str) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="3"), rx.text(text, color_scheme="gray", size="2"), *actions,
                  align="start", spacing="2"),
        data_testid=testid, width="100%",
    )


def stack_card(*children: rx.Component, spacing: str = "2", testid: str | None = None,
               custom_attrs: dict[str, object] | None = None, **card_props: object) -> rx.Component:
    """A full-width card holding one full-width column: the shape of most cards in the app."""
    attrs = {**({"data-testid": testid} if testid else {}), **(custom_attrs or {})}
    return rx.card(rx.vstack(*children, spacing=spacing, width="100%", align="stretch"), width="100%",
                   custom_attrs=attrs, **card_props)


def panel_header(title: str, *actions: rx.Component, size: str = "4", **props: object) -> rx.Component:
    """A panel's title on the left, its actions on the right."""
    return rx.flex(rx.heading(title, size=size), *actions, justify="between", align="center", width="100%", **props)


def error_retry(what: str, error: rx.Var[str], on_retry: rx.EventHandler, testid: str) -> rx.Component:
    """A failed load: "<what>: <error>" and a Retry button (shown only while ``error`` is set)."""
    return rx.cond(error, rx.callout(
        rx.flex(rx.text(what, ": ", error, class_name="td-wrap"),
                rx.button("Retry", size="1", variant="soft", on_click=on_retry, type="button"),
                spacing="2", align="center", wrap="wrap"),
        color_scheme="red", size="1", icon="circle_alert", custom_attrs={"data-testid": testid}))


def loading_table(loaded: rx.Var[bool], headers: list[str], rows: rx.Var, row: Callable[[Any], rx.Component],
                  testid: str) -> rx.Component:
    """A table of ``rows`` drawn by ``row``, skeleton rows until ``loaded``, scrolling sideways when narrow."""
    return rx.cond(~loaded, skeleton_rows(2), rx.box(rx.table.root(
        rx.table.header(rx.table.row(*(rx.table.column_header_cell(h) for h in headers))),
        rx.table.body(rx.foreach(rows, row)),
        size="1", width="100%", custom_attrs={"data-testid": testid},
    ), overflow_x="auto", width="100%"))


def skeleton_rows(count: int = 3) -> rx.Component:
    return rx.vstack(*(rx.skeleton(height="4em", width="100%", loading=True) for _ in range(count)),
                     width="100%", spacing="2", data_testid="skeleton")


def field(label: str, control: rx.Component, hint: rx.Component | str | None = None) -> rx.Component:
    parts = [rx.text(label, as_="label", size="2", weight="medium"), control]
    if hint is not None:
        parts.append(rx.text(hint, size="1", color_scheme="gray") if isinstance(hint, str) else hint)
    return rx.vstack(*parts, spacing="1", width="100%", align="stretch")
