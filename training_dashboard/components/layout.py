"""The frame every page shares: a header with navigation, and a centred column."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.rate_picker import rater_picker, rater_switch
from training_dashboard.state.training import TrainingState

# Back to the tab last shown: the address and the tab agree from the first frame.
NAV = (("Studio", "/"), ("Rate", "/rate"), ("Training", "/training?tab=" + TrainingState.tab))


def nav_link(label: str, href: str | rx.Var[str], current: bool) -> rx.Component:
    return rx.link(
        label, href=href, weight="bold" if current else "regular", color_scheme="iris" if current else "gray",
        underline="none", aria_current="page" if current else None, data_testid=f"nav-{label.lower()}",
        padding_x="0.5em",
    )


def page_shell(*children: rx.Component, current: str) -> rx.Component:
    header = rx.flex(
        rx.heading("Training Dashboard", size="4", as_="div"),
        rx.flex(*(nav_link(label, href, label == current) for label, href in NAV), rater_switch(), as_="nav",
                gap="2", align="center"),
        justify="between", align="center", wrap="wrap", gap="2", padding_y="0.75em",
        border_bottom="1px solid var(--gray-a5)",
    )
    return rx.container(
        header,
        rater_picker(),
        rx.box(*children, padding_y="1em", width="100%"),
        size="4", padding_x=rx.breakpoints(initial="0.75em", sm="1.5em"),
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


def skeleton_rows(count: int = 3) -> rx.Component:
    return rx.vstack(*(rx.skeleton(height="4em", width="100%", loading=True) for _ in range(count)),
                     width="100%", spacing="2", data_testid="skeleton")


def field(label: str, control: rx.Component, hint: rx.Component | str | None = None) -> rx.Component:
    parts = [rx.text(label, as_="label", size="2", weight="medium"), control]
    if hint is not None:
        parts.append(rx.text(hint, size="1", color_scheme="gray") if isinstance(hint, str) else hint)
    return rx.vstack(*parts, spacing="1", width="100%", align="stretch")
