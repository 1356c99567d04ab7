"""The launch form: a preset (each explained in one line), a name, and the advanced options,
checked against the CLI's ranges as they are typed."""

from __future__ import annotations

import reflex as rx

from training_dashboard.state.run_form import OptionField, PresetChoice, RunFormState


def _preset(p: PresetChoice) -> rx.Component:
    return rx.radio_group.item(
        rx.vstack(rx.text(p.name, weight="bold", size="2"), rx.text(p.description, size="1", color_scheme="gray"),
                  spacing="0", align="start"),
        value=p.name, custom_attrs={"data-testid": "run-preset-" + p.name},
    )


def _field(f: OptionField) -> rx.Component:
    return rx.vstack(
        rx.text(f.name, " ", rx.code(f.flag, size="1"), size="1", weight="medium"),
        rx.input(value=f.value, on_change=lambda v: RunFormState.set_field(f.name, v), size="1",
                 color_scheme=rx.cond(f.error, "red", "gray"), custom_attrs={"data-testid": "run-opt-" + f.name}),
        rx.text(rx.cond(f.error, f.error, f.help), size="1", color_scheme=rx.cond(f.error, "red", "gray")),
        spacing="1", align="stretch", width="100%",
    )


def run_form() -> rx.Component:
    s = RunFormState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Train on ", s.form_dataset),
            rx.dialog.description(rx.cond(s.form_task == "sft", "Supervised fine-tuning (SFT)",
                                          "Preference optimisation (DPO)"), " of a LoRA adapter; it runs on the "
                                  "worker and appears on the Runs tab.", size="2"),
            rx.vstack(
                rx.radio_group.root(rx.foreach(s.presets, _preset), value=s.form_preset, on_change=s.set_form_preset,
                                    custom_attrs={"data-testid": "run-preset"}),
                rx.input(placeholder="Run name (default: <dataset>-<task>)", value=s.form_name,
                         on_change=s.set_form_name, custom_attrs={"data-testid": "run-name-input"}),
                rx.el.details(
                    rx.el.summary(rx.text("Advanced options", size="2", as_="span")),
                    rx.grid(rx.foreach(s.fields, _field), columns=rx.breakpoints(initial="1", sm="2"), spacing="3",
                            padding_top="0.5em"),
                ),
                rx.cond(s.form_problem, rx.callout(s.form_problem, color_scheme="amber", size="1")),
                rx.cond(s.form_error, rx.callout(s.form_error, color_scheme="red", size="1",
                                                 custom_attrs={"data-testid": "run-form-error"})),
                spacing="3", width="100%", align="stretch", padding_top="1em",
            ),
            rx.flex(
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                rx.button("Start training", on_click=s.submit_run, loading=s.form_busy, disabled=s.form_problem != "",
                          custom_attrs={"data-testid": "run-start"}),
                justify="end", spacing="2", padding_top="1em",
            ),
            max_width="720px",
        ),
        open=s.form_open, on_open_change=s.set_form_open,
    )
