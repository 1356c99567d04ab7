"""The star that makes a prompt a favourite of the person signed in: on search results, History
entries and the editor. One handler (``LibraryState.star``) keeps every place in step."""

from __future__ import annotations

import reflex as rx

from training_dashboard.state.library import LibraryState


def favourite_star(prompt_id: rx.Var[int], favourite: rx.Var[bool], testid: str, size: str = "1") -> rx.Component:
    """An icon button that stars (or unstars) ``prompt_id``; it never triggers the row it sits in."""
    return rx.icon_button(
        rx.icon("star", size=16 if size == "1" else 18, style={"fill": rx.cond(favourite, "currentColor", "none")}),
        on_click=LibraryState.star(prompt_id, ~favourite).stop_propagation,
        variant="ghost", size=size, color_scheme=rx.cond(favourite, "amber", "gray"), type="button",
        aria_label=rx.cond(favourite, "Unstar prompt", "Star prompt"), aria_pressed=favourite,
        title=rx.cond(favourite, "A favourite: click to unstar", "Star: add to your favourites"),
        custom_attrs={"data-testid": testid, "data-favourite": rx.cond(favourite, "true", "false")},
    )
