"""The listening pages' shared pieces (/rate and /evaluate): the panel, the card and the player.

Their keyboard script (:mod:`training_dashboard.state.listening`) finds the players by element
id and the buttons by ``data-testid``. Every player reports what was heard to its page's listen
gate (:mod:`training_dashboard.state.listen_gate`).
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.media import Audio

from training_dashboard.components.layout import stack_card
from training_dashboard.state.listen_gate import player_report

REPORT_EVERY_MS = 400  # while playing; a pause or the end reports at once


class TrackedAudio(Audio):
    """``<audio>`` with the media events the listen gate follows (React's names for them)."""

    on_time_update: rx.EventHandler[player_report]
    on_pause: rx.EventHandler[player_report]
    on_loaded_metadata: rx.EventHandler[player_report]


def tracked_audio(src: rx.Var[str], element_id: rx.Var[str] | str, track: rx.EventHandler, *,
                  testid: str, preload: str = "auto") -> rx.Component:
    """A full-width player whose figures reach ``track`` (a page state's ``ListenGate.track``)."""
    return TrackedAudio.create(
        src=src, controls=True, preload=preload, id=element_id, style={"width": "100%"},
        on_time_update=track.throttle(REPORT_EVERY_MS), on_pause=track, on_loaded_metadata=track,
        custom_attrs={"data-testid": testid},
    )


def player(src: rx.Var[str], element_id: str, track: rx.EventHandler) -> rx.Component:
    """A full-width ``<audio>`` the page's keys can reach (space plays or pauses it)."""
    return tracked_audio(src, element_id, track, testid=element_id)


def listen_hint(hint: rx.Var[str], testid: str) -> rx.Component:
    """What is left to hear before the judgement can be sent (nothing once it can)."""
    return rx.cond(hint, rx.text(rx.icon("headphones", size=14), hint, size="2", color_scheme="amber",
                                 display="flex", align_items="center", gap="0.4em",
                                 custom_attrs={"data-testid": testid}))


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
