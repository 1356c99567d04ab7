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
    s = RaterState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Who is listening?"),
            rx.dialog.description("Your ratings and choices are stored under this name, so agreement between "
                                  "listeners can be measured. You can switch at any time from the top bar.",
                                  size="2"),
            rx.vstack(
                rx.cond(s.raters.length() > 0,
                        rx.flex(rx.foreach(s.raters, _option), wrap="wrap", gap="2"),
                        rx.text("Nobody yet: add your name.", size="2", color_scheme="gray")),
                rx.form(
                    rx.hstack(
                        rx.input(value=s.new_name, on_change=s.set_new_name, placeholder="Your name",
                                 max_length=100, width="100%", custom_attrs={"data-testid": "rater-name"}),
                        rx.button("Add", type="submit", disabled=~s.can_add,
                                  custom_attrs={"data-testid": "rater-add"}),
                        width="100%",
                    ),
                    on_submit=lambda _: s.add_rater(), width="100%",
                ),
                rx.cond(s.name_problem, rx.text(s.name_problem, size="1", color_scheme="red",
                                                custom_attrs={"data-testid": "rater-problem"})),
                spacing="3", width="100%", padding_top="0.5em",
            ),
            custom_attrs={"data-testid": "rater-picker"},
        ),
        open=rx.State.is_hydrated & ((s.current_id == 0) | s.switching),
        on_open_change=s.set_open,
    )


def rater_switch() -> rx.Component:
    s = RaterState
    return rx.button(
        rx.cond(s.current_id != 0, rx.text("Listening as ", rx.text.strong(s.rater_name)), "Who is listening?"),
        on_click=s.open_picker, on_mount=s.load_raters, variant="ghost", size="1",
        custom_attrs={"data-testid": "rater-switch"},
    )
