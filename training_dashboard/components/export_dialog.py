"""DatasetExportDialog: pick a format, export, then copy the training command."""

from __future__ import annotations

import reflex as rx

from training_dashboard.state.auth import AuthState
from training_dashboard.state.datasets import DatasetsState
from training_dashboard.state.run_form import RunFormState


def _result_row(label: str, value: rx.Var, testid: str) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label),
                             rx.data_list.value(rx.code(value, custom_attrs={"data-testid": testid},
                                                        style={"word_break": "break-all"})))


def export_dialog() -> rx.Component:
    s = DatasetsState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Export ", s.export_name),
            rx.dialog.description("Write the dataset's frozen snapshot to disk in a format the trainer reads.",
                                  size="2"),
            rx.vstack(
                rx.radio_group.root(
                    rx.radio_group.item("JSONL", value="jsonl"),
                    rx.radio_group.item("Hugging Face dataset", value="huggingface"),
                    value=s.export_format, on_change=s.set_export_format, direction="row",
                    custom_attrs={"data-testid": "export-format"},
                ),
                rx.button("Export", on_click=s.export_dataset, loading=s.exporting,
                          custom_attrs={"data-testid": "export-run"}),
                rx.cond(s.export_error, rx.callout(s.export_error, color_scheme="red", size="1")),
                rx.cond(
                    s.export_command,
                    rx.vstack(
                        rx.data_list.root(
                            _result_row("Path", s.export_path, "export-path"),
                            _result_row("Samples", s.export_count.to_string(), "export-count"),
                            _result_row("Manifest SHA-256", s.export_hash, "export-hash"),
                            orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
                        ),
                        rx.text("Train with:", size="2", weight="medium"),
                        rx.cond(~AuthState.auth_off, rx.text(
                            "The CLI registers its adapter through the API as you: set ", rx.code("TD_API_TOKEN"),
                            " to a personal access token from ", rx.link("your account", href="/account"), ".",
                            size="1", color_scheme="gray", custom_attrs={"data-testid": "export-token-note"})),
                        rx.box(rx.code(s.export_command, custom_attrs={"data-testid": "export-command"},
                                       style={"white_space": "pre-wrap", "word_break": "break-all"}),
                               width="100%"),
                        rx.hstack(
                            rx.button("Copy command", variant="soft",
                                      on_click=[rx.set_clipboard(s.export_command), rx.toast.success("Command copied")],
                                      custom_attrs={"data-testid": "export-copy"}),
                            rx.button("Run it here", on_click=[s.set_export_open(False),
                                                               RunFormState.open_train_form(s.export_id)],
                                      custom_attrs={"data-testid": "export-run-here"}),
                            spacing="2",
                        ),
                        spacing="2", width="100%", align="stretch",
                    ),
                ),
                spacing="3", width="100%", align="stretch", padding_top="1em",
            ),
            rx.flex(rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")), justify="end",
                    padding_top="1em"),
            max_width="640px",
        ),
        open=s.export_open, on_open_change=s.set_export_open,
    )
