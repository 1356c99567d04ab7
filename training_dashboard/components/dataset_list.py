"""DatasetList and the Datasets tab: list, empty state, create form, export dialog."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.dataset_form import dataset_form
from training_dashboard.components.export_dialog import export_dialog
from training_dashboard.components.layout import empty_state, skeleton_rows
from training_dashboard.components.run_form import run_form
from training_dashboard.state.datasets import DatasetRow, DatasetsState
from training_dashboard.state.run_form import RunFormState


def dataset_item(ds: DatasetRow) -> rx.Component:
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.hstack(rx.text(ds.name, weight="bold", custom_attrs={"data-testid": "ds-row-name"}),
                          rx.badge(ds.type, variant="soft"), spacing="2", align="center", wrap="wrap"),
                rx.text(ds.sample_count.to_string(), " samples · created ", ds.created, size="2",
                        custom_attrs={"data-testid": "ds-row-count"}),
                rx.text(ds.filter_text, size="1", color_scheme="gray"),
                rx.cond(ds.description, rx.text(ds.description, size="1", color_scheme="gray")),
                rx.text(ds.export_status, size="1", color_scheme=rx.cond(ds.exported, "green", "gray"),
                        custom_attrs={"data-testid": "ds-row-export"}),
                rx.cond(ds.exported, rx.code(ds.export_path, size="1", style={"word_break": "break-all"})),
                spacing="1", align="start", min_width="0", flex="1",
            ),
            rx.hstack(
                rx.button("Export", on_click=DatasetsState.open_export(ds.id), variant="soft",
                          custom_attrs={"data-testid": "ds-row-export-button"}),
                rx.button("Train", on_click=RunFormState.open_train_form(ds.id), disabled=ds.sample_count == 0,
                          custom_attrs={"data-testid": "ds-row-train"}),
                spacing="2",
            ),
            gap="3", align="start", justify="between", wrap="wrap",
        ),
        width="100%", custom_attrs={"data-testid": "dataset-row"},
    )


def dataset_panel() -> rx.Component:
    s = DatasetsState
    return rx.vstack(
        rx.flex(
            rx.heading("Datasets", size="4"),
            rx.cond(~s.form_open, rx.button("New dataset", on_click=s.open_form,
                                            custom_attrs={"data-testid": "ds-new"})),
            justify="between", align="center", width="100%",
        ),
        rx.cond(s.form_open, dataset_form()),
        rx.cond(
            ~s.loaded,
            skeleton_rows(),
            rx.cond(
                s.datasets.length() > 0,
                rx.vstack(rx.foreach(s.datasets, dataset_item), spacing="2", width="100%"),
                rx.cond(~s.form_open, empty_state(
                    "No datasets yet",
                    "A dataset is a frozen snapshot of rated clips (or A/B preferences) chosen by a filter — for "
                    "example every clip rated 4★ or better. Export it and train a LoRA adapter on it.",
                    rx.button("Create your first dataset", on_click=s.open_form),
                    testid="datasets-empty",
                )),
            ),
        ),
        export_dialog(),
        run_form(),
        spacing="3", width="100%", align="stretch",
    )
