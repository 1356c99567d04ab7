"""DatasetCreateForm: name, type, filters, and a live count of the samples they match."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import field
from training_dashboard.state.adapters import AdapterRow, AdapterState
from training_dashboard.state.dataset_rows import RaterOption
from training_dashboard.state.datasets import DatasetsState


def _adapter_item(adapter: AdapterRow) -> rx.Component:
    return rx.select.item(adapter.name + " " + adapter.version, value=adapter.id.to_string())


def _rater_badge(rater: RaterOption) -> rx.Component:
    return rx.badge(
        rx.cond(rater.selected, rx.icon("check", size=12)), rater.name,
        variant=rx.cond(rater.selected, "solid", "outline"), size="2", cursor="pointer",
        on_click=DatasetsState.toggle_rater(rater.id),
        custom_attrs={"data-testid": "ds-rater", "role": "checkbox",
                      "aria-checked": rx.cond(rater.selected, "true", "false")},
    )


def _rater_field() -> rx.Component:
    s = DatasetsState
    return field("Raters", rx.cond(
        s.raters,
        rx.flex(rx.foreach(s.raters, _rater_badge), wrap="wrap", spacing="2",
                custom_attrs={"data-testid": "ds-raters"}),
        rx.text("No raters yet", size="2", color_scheme="gray"),
    ), hint="Only feedback from the selected raters; none selected: every rater (and unnamed feedback).")


def _heard_field() -> rx.Component:
    s = DatasetsState
    return field("Heard at least (% of each clip)", rx.input(
        type="number", min=0, max=100, step=5, value=s.min_heard, on_change=s.set_min_heard, placeholder="any",
        width="100%", custom_attrs={"data-testid": "ds-min-heard"},
    ), hint="Only judgements made after hearing this share of every clip involved (ratings and choices "
            "sent without listening data never match). Empty: no constraint.")


def _supervised_rater_fields() -> rx.Component:
    s = DatasetsState
    return rx.grid(
        field("Rated by at least N raters", rx.input(
            type="number", min=1, max=1000, step=1, value=s.min_raters, on_change=s.set_min_raters,
            placeholder="any", width="100%", custom_attrs={"data-testid": "ds-min-raters"},
        ), hint="Empty: no constraint."),
        field("Rows", rx.select.root(
            rx.select.trigger(width="100%", custom_attrs={"data-testid": "ds-aggregate"}),
            rx.select.content(
                rx.select.item("One row per rating", value="rating"),
                rx.select.item("One row per clip (mean rating)", value="clip"),
            ),
            value=s.aggregate, on_change=s.set_aggregate,
        ), hint=rx.text(rx.cond(
            s.aggregate == "clip",
            "Each clip once with the mean of its matching ratings; the minimum rating applies to the mean.",
            "Each rating is its own row; a clip rated by several raters appears several times.",
        ), size="1", color_scheme="gray", custom_attrs={"data-testid": "ds-aggregate-hint"})),
        columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
    )


def dataset_form() -> rx.Component:
    s = DatasetsState
    return rx.card(
        rx.vstack(
            rx.heading("New dataset", size="3"),
            field("Name (required)", rx.input(value=s.name, on_change=s.set_name, placeholder="warm-lofi-v1",
                                              width="100%", custom_attrs={"data-testid": "ds-name"})),
            field("Description", rx.text_area(value=s.description, on_change=s.set_description, rows="2",
                                              width="100%", custom_attrs={"data-testid": "ds-description"})),
            field("Type", rx.radio_group.root(
                rx.radio_group.item("Supervised (prompt → good clip)", value="supervised"),
                rx.radio_group.item("Preference (chosen vs rejected)", value="preference"),
                value=s.dataset_type, on_change=s.set_dataset_type, direction="column",
                custom_attrs={"data-testid": "ds-type"},
            )),
            rx.cond(s.dataset_type == "supervised", field(
                rx.fragment("Minimum rating: ", s.min_rating.to_string(), "★"), rx.slider(
                    min=1, max=5, step=1, value=[s.min_rating], on_change=s.set_min_rating, width="100%",
                    custom_attrs={"data-testid": "ds-min-rating"},
                ))),
            _rater_field(),
            _heard_field(),
            rx.cond(s.dataset_type == "supervised", _supervised_rater_fields()),
            rx.cond(s.dataset_type == "supervised", rx.grid(
                field("Required tags", rx.input(value=s.required_tags, on_change=s.set_required_tags,
                                                placeholder="melodic, calm", width="100%",
                                                custom_attrs={"data-testid": "ds-required-tags"})),
                field("Excluded tags", rx.input(value=s.excluded_tags, on_change=s.set_excluded_tags,
                                                placeholder="noisy", width="100%",
                                                custom_attrs={"data-testid": "ds-excluded-tags"})),
                columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
            )),
            rx.grid(
                field("From", rx.input(type="date", value=s.start_date, on_change=s.set_start_date, width="100%",
                                       custom_attrs={"data-testid": "ds-start-date"})),
                field("To", rx.input(type="date", value=s.end_date, on_change=s.set_end_date, width="100%",
                                     custom_attrs={"data-testid": "ds-end-date"})),
                columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
            ),
            field("Generated with", rx.select.root(
                rx.select.trigger(width="100%"),
                rx.select.content(
                    rx.select.item("Any model", value="any"),
                    rx.select.item("Base model only", value="base"),
                    rx.foreach(AdapterState.adapters, _adapter_item),
                ),
                value=s.adapter_choice, on_change=s.set_adapter_choice,
            )),
            rx.hstack(
                rx.cond(s.preview_loading, rx.spinner(size="1")),
                rx.text(s.preview_text, size="2", weight="medium", custom_attrs={"data-testid": "ds-preview"}),
                align="center", spacing="2", min_height="1.5em",
            ),
            rx.cond(s.validation_error, rx.callout(s.validation_error, color_scheme="red", size="1",
                                                   icon="triangle_alert",
                                                   custom_attrs={"data-testid": "ds-validation"})),
            rx.cond(s.form_error, rx.callout(s.form_error, color_scheme="red", size="1", icon="circle_alert",
                                             custom_attrs={"data-testid": "ds-form-error"})),
            rx.hstack(
                rx.button("Create dataset", on_click=s.create_dataset, disabled=~s.can_create, loading=s.creating,
                          custom_attrs={"data-testid": "ds-create"}),
                rx.button("Cancel", on_click=s.close_form, variant="soft", color_scheme="gray"),
                spacing="2",
            ),
            spacing="3", width="100%", align="stretch",
        ),
        width="100%", custom_attrs={"data-testid": "dataset-form"},
    )
