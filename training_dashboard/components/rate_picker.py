"""The "Who is listening?" picker (a dialog on first visit) and the switch in the nav."""

from __future__ import annotations

import reflex as rx

from training_dashboard.state.rater import RaterOption, RaterState


def _option(rater: RaterOption) -> rx.Component:
    return rx.button(
        rater.name, rx.text(rater.ratings.to_string(), " rated", size="1", color_scheme="gray"),
        on_click=RaterState.choose(rater.id, rater.name), variant="soft", size="2",
        custom_attrs={"data-testid": "rater-option"},
    )


def rater_picker() -> rx.Component:
    """Shown under the header until someone is chosen (and when switching). Inline, not modal:
    the rest of the page stays usable, and anonymous feedback keeps working."""
    s = RaterState
    return rx.cond(
        rx.State.is_hydrated & ((s.current_id == 0) | s.switching),
        rx.card(
            rx.vstack(
                rx.hstack(rx.heading("Who is listening?", size="3"), rx.spacer(),
                          rx.cond(s.current_id != 0, rx.button("Close", size="1", variant="ghost",
                                                               on_click=s.close_picker)),
                          width="100%", align="center"),
                rx.text("Ratings and choices are stored under this name, so agreement between listeners can be "
                        "measured. Switch at any time from the top bar.", size="2", color_scheme="gray"),
                rx.cond(s.raters.length() > 0, rx.flex(rx.foreach(s.raters, _option), wrap="wrap", spacing="2")),
                rx.hstack(
                    rx.input(value=s.new_name, on_change=s.set_new_name, on_key_down=s.name_key,
                             placeholder="Add your name", max_length=100, width="100%",
                             custom_attrs={"data-testid": "rater-name"}),
                    rx.button("Add", on_click=s.add_rater, disabled=~s.can_add,
                              custom_attrs={"data-testid": "rater-add"}),
                    width="100%", max_width="28em",
                ),
                rx.cond(s.name_problem, rx.text(s.name_problem, size="1", color_scheme="red",
                                                custom_attrs={"data-testid": "rater-problem"})),
                spacing="2", width="100%",
            ),
            width="100%", margin_top="0.75em", custom_attrs={"data-testid": "rater-picker"},
        ),
    )


def rater_switch() -> rx.Component:
    s = RaterState
    return rx.button(
        rx.cond(s.current_id != 0, rx.text("Listening as ", rx.text.strong(s.rater_name)), "Who is listening?"),
        on_click=s.open_picker, on_mount=s.load_raters, variant="ghost", size="1",
        custom_attrs={"data-testid": "rater-switch"},
    )
