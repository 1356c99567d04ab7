"""The listening pages' shared pieces (/rate and /evaluate): the panel, the card and the player.

Their keyboard script (:mod:`training_dashboard.state.listening`) finds the players by element
id and the buttons by ``data-testid``.
"""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import stack_card


def player(src: rx.Var[str], element_id: str) -> rx.Component:
    """A full-width ``<audio>`` the page's keys can reach (space plays or pauses it)."""
    return rx.el.audio(src=src, controls=True, preload="auto", id=element_id, style={"width": "100%"},
                       custom_attrs={"data-testid": element_id})


def listening_card(*children: rx.Component, keys: str, testid: str, data: dict[str, rx.Var]) -> rx.Component:
    """The card of what is listened to now, ending with the line that explains its keys."""
    return stack_card(*children, rx.text(keys, size="1", color_scheme="gray"), spacing="3",
                      custom_attrs={"data-testid": testid, **data})


def listening_panel(heading: rx.Component, badge: rx.Component, status: rx.Component, error: rx.Var[str],
                    content: rx.Component, *, max_width: str) -> rx.Component:
    """The page's column: heading and progress badge, a status line, the last error, then the content."""
    return rx.vstack(
        rx.hstack(heading, badge, justify="between", align="center", width="100%", wrap="wrap"),
        status,
        rx.cond(error, rx.callout(error, icon="circle_alert", color_scheme="red", size="1")),
        content,
        spacing="3", width="100%", align="stretch", max_width=max_width,
    )
