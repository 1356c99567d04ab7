"""The sign-in and set-up pages' frame: a centred card, labelled fields the browser posts itself."""

from __future__ import annotations

import reflex as rx


def text_field(label: str, name: str, **props: object) -> rx.Component:
    """A labelled input whose value the browser posts (uncontrolled: no Reflex state holds it)."""
    return rx.vstack(
        rx.el.label(label, html_for=f"field-{name}", class_name="rt-Text rt-r-size-2 rt-r-weight-medium"),
        rx.input(name=name, id=f"field-{name}", size="3", width="100%", custom_attrs={"data-testid": f"{name}-input"},
                 **props),
        spacing="1", width="100%", align="stretch",
    )


def auth_card(title: str, intro: str, *children: rx.Component, error: rx.Var[str], testid: str) -> rx.Component:
    """The centred card of the sign-in and set-up pages."""
    return rx.center(
        rx.card(
            rx.vstack(
                rx.text("Training Dashboard", size="2", weight="bold", color_scheme="gray"),
                rx.heading(title, size="6", as_="h1"),
                rx.text(intro, size="2", color_scheme="gray"),
                rx.cond(error, rx.callout(error, icon="circle_alert", color_scheme="red", role="alert", width="100%",
                                          custom_attrs={"data-testid": f"{testid}-error"})),
                *children,
                spacing="3", width="100%", align="stretch",
            ),
            size="3", width="100%", max_width="26em", custom_attrs={"data-testid": testid},
        ),
        min_height="100vh", padding="1em",
    )
