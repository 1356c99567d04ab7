"""DatasetList and the Datasets tab: list, empty state, create form, export and delete dialogs."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.dataset_form import dataset_form
from training_dashboard.components.export_dialog import export_dialog
from training_dashboard.components.layout import empty_state, panel_header, skeleton_rows
from training_dashboard.components.run_form import run_form
from training_dashboard.state.dataset_rows import DatasetRow
from training_dashboard.state.datasets import DatasetsState
from training_dashboard.state.run_form import RunFormState


def _line(*children: rx.Component | rx.Var | str, size: str, gray: bool = True,
          testid: str | None = None) -> rx.Component:
    attrs = {"data-accent-color": "gray"} if gray else {}
    if testid:
        attrs["data-testid"] = testid
    return rx.el.p(*children, class_name=f"rt-Text rt-r-size-{size}", custom_attrs=attrs)


def dataset_item(ds: DatasetRow) -> rx.Component:
    """One dataset as a card. Plain elements wearing Radix Themes' own classes: the same look, without
    the per-component props processing of Radix's React components, which dominated the browser's
    time to show a list of 50 datasets on a cold /training load (bench/frontend.py)."""
    return rx.el.div(
        rx.el.div(
            rx.el.div(
                rx.el.div(
                    rx.el.p(ds.name, class_name="rt-Text rt-r-weight-bold",
                            custom_attrs={"data-testid": "ds-row-name"}),
                    rx.el.span(ds.type, class_name="rt-reset rt-Badge rt-r-size-1 rt-variant-soft"),
                    class_name="rt-Flex rt-r-fd-row rt-r-ai-center rt-r-fw-wrap rt-r-gap-2",
                ),
                _line(ds.sample_count.to_string(), " samples · created ", ds.created, size="2", gray=False,
                      testid="ds-row-count"),
                _line(ds.filter_text, size="1"),
                rx.cond(ds.description, _line(ds.description, size="1")),
                rx.el.p(ds.export_status, class_name="rt-Text rt-r-size-1",
                        custom_attrs={"data-accent-color": rx.cond(ds.exported, "green", "gray"),
                                      "data-testid": "ds-row-export"}),
                rx.cond(ds.exported, rx.el.code(ds.export_path, class_name="rt-reset rt-Code rt-r-size-1 "
                                                "rt-variant-soft td-break")),
                class_name="rt-Flex rt-r-fd-column rt-r-ai-start rt-r-gap-1 td-grow",
            ),
            rx.el.div(
                rx.el.button("Export", on_click=DatasetsState.open_export(ds.id), type="button",
                             class_name="rt-reset rt-BaseButton rt-r-size-2 rt-variant-soft rt-Button",
                             custom_attrs={"data-accent-color": "", "data-testid": "ds-row-export-button"}),
                rx.el.button("Train", on_click=RunFormState.open_train_form(ds.id), type="button",
                             disabled=ds.sample_count == 0,
                             class_name="rt-reset rt-BaseButton rt-r-size-2 rt-variant-solid rt-Button",
                             custom_attrs={"data-accent-color": "", "data-testid": "ds-row-train"}),
                rx.el.button("Delete", on_click=DatasetsState.open_delete(ds.id), type="button",
                             class_name="rt-reset rt-BaseButton rt-r-size-2 rt-variant-ghost rt-Button",
                             custom_attrs={"data-accent-color": "red", "data-testid": "ds-row-delete"}),
                class_name="rt-Flex rt-r-ai-center rt-r-gap-2",
            ),
            class_name="rt-Flex rt-r-ai-start rt-r-jc-space-between rt-r-fw-wrap rt-r-gap-3",
        ),
        class_name="rt-reset rt-BaseCard rt-Card rt-r-size-1 rt-variant-surface td-fill",
        custom_attrs={"data-testid": "dataset-row"},
    )


def delete_dialog() -> rx.Component:
    """Confirm a dataset's delete; a refusal (training runs still use it) is shown here, with the
    choice to cancel those runs and delete."""
    s = DatasetsState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Delete dataset '", s.delete_name, "'?"),
            rx.dialog.description("Its snapshot and exports are removed. Runs keep their history; adapters "
                                  "trained on it must be deleted first.", size="2"),
            rx.vstack(
                rx.cond(s.delete_error, rx.callout(s.delete_error, color_scheme="red", size="1",
                                                   custom_attrs={"data-testid": "ds-delete-error"})),
                rx.hstack(
                    rx.dialog.close(rx.button("Keep it", variant="soft", color_scheme="gray")),
                    rx.cond(
                        s.delete_offers_cancel,
                        rx.button("Cancel the runs and delete", color_scheme="red", loading=s.deleting,
                                  on_click=s.delete_dataset(True),
                                  custom_attrs={"data-testid": "ds-delete-cancel-runs"}),
                        rx.button("Delete", color_scheme="red", loading=s.deleting, on_click=s.delete_dataset(False),
                                  custom_attrs={"data-testid": "ds-delete-confirm"}),
                    ),
                    spacing="2", justify="end", width="100%",
                ),
                spacing="3", width="100%", align="stretch", padding_top="1em",
            ),
            max_width="32em",
        ),
        open=s.delete_id > 0, on_open_change=s.set_delete_open,
    )


def dataset_panel() -> rx.Component:
    s = DatasetsState
    return rx.vstack(
        panel_header("Datasets", rx.cond(~s.form_open, rx.button("New dataset", on_click=s.open_form,
                                                                custom_attrs={"data-testid": "ds-new"}))),
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
        delete_dialog(),
        run_form(),
        spacing="3", width="100%", align="stretch",
    )
