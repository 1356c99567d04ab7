"""One run, watched live: status, progress, loss and learning-rate charts, log tail, config, actions."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.run_charts import loss_chart, lr_chart
from training_dashboard.state.adapters import AdapterState
from training_dashboard.state.runs import ConfigRow, RunRow, RunsState
from training_dashboard.state.training import TrainingState, show_tab


def status_badge(run: RunRow) -> rx.Component:
    return rx.badge(run.status, color_scheme=run.color, variant="soft", custom_attrs={"data-testid": "run-status"})


def adapter_link(run: RunRow) -> rx.Component:
    # Same page: the tab is switched in the browser (the address alone would not re-show it).
    return rx.cond(run.adapter_id > 0, rx.link(
        "adapter #", run.adapter_id.to_string(), href="/training?tab=adapters", size="2",
        on_click=[rx.prevent_default, show_tab("adapters"), TrainingState.set_tab("adapters"),
                  AdapterState.load_adapters],  # the adapter is new since the list was loaded
        custom_attrs={"data-testid": "run-adapter-link"}))


def run_actions(run: RunRow) -> rx.Component:
    return rx.hstack(
        rx.cond(run.can_cancel, rx.button("Cancel", color_scheme="red", variant="soft", size="1",
                                          on_click=RunsState.cancel_run(run.id),
                                          custom_attrs={"data-testid": "run-cancel"})),
        rx.cond(run.can_resume, rx.button("Resume", variant="soft", size="1", on_click=RunsState.resume_run(run.id),
                                          custom_attrs={"data-testid": "run-resume"})),
        spacing="2",
    )


def _config_item(row: ConfigRow) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(row.key, min_width="10em"), rx.data_list.value(rx.code(row.value)))


def _view(run: RunRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.hstack(rx.heading(run.name, size="4"), status_badge(run), adapter_link(run), spacing="2",
                          align="center", wrap="wrap"),
                rx.hstack(run_actions(run), rx.button("Close", variant="ghost", size="1", on_click=RunsState.close_run),
                          spacing="2"),
                justify="between", align="center", wrap="wrap", spacing="2", width="100%",
            ),
            rx.hstack(rx.progress(value=run.progress, width="12em"),
                      rx.text(run.step_text, size="2", custom_attrs={"data-testid": "run-step"}),
                      rx.text(run.eta_text, size="2", color_scheme="gray"), align="center", spacing="3", wrap="wrap"),
            rx.cond(run.error, rx.callout(rx.text(run.error, style={"white_space": "pre-wrap"}), color_scheme="red",
                                          size="1", width="100%", custom_attrs={"data-testid": "run-error"})),
            rx.text("Loss", size="2", weight="medium"),
            loss_chart(),
            rx.text("Learning rate", size="2", weight="medium"),
            lr_chart(),
            rx.text("Log", size="2", weight="medium"),
            # column-reverse keeps the box scrolled to its newest line as lines arrive
            rx.box(rx.el.pre(RunsState.log_text, style={"margin": 0, "font_size": "12px", "white_space": "pre-wrap"}),
                   display="flex", flex_direction="column-reverse", max_height="16em", overflow_y="auto",
                   width="100%", padding="0.5em", background="var(--gray-a2)", border_radius="6px",
                   custom_attrs={"data-testid": "run-log"}),
            rx.el.details(
                rx.el.summary(rx.text("Resolved config and command", size="2", as_="span")),
                rx.data_list.root(rx.foreach(RunsState.config_rows, _config_item), size="1"),
                rx.code(run.command, size="1", style={"word_break": "break-all", "display": "block"},
                        custom_attrs={"data-testid": "run-command"}),
                rx.text("Output: ", run.output_dir, size="1", color_scheme="gray"),
            ),
            spacing="2", width="100%", align="stretch",
        ),
        width="100%", custom_attrs={"data-testid": "run-view"},
    )


def run_view() -> rx.Component:
    return rx.foreach(RunsState.view, _view)
