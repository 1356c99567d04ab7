"""The library panel's Templates tab: apply a shared template to the editor (its ``{placeholders}``
asked for in a small dialog); trainers save the editor as a template, edit and delete them."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import error_retry, field, skeleton_rows
from training_dashboard.state.auth import AuthState
from training_dashboard.state.studio import StudioState
from training_dashboard.state.templates import TemplateItem, TemplateState

GRAY = {"data-accent-color": "gray"}


def _template(item: TemplateItem) -> rx.Component:
    s = TemplateState
    return rx.el.div(
        rx.el.div(
            rx.el.p(item.name, class_name="rt-Text rt-r-size-2 rt-r-weight-bold td-grow td-wrap",
                    custom_attrs={"data-testid": "template-name"}),
            rx.el.span(item.author, class_name="rt-reset rt-Badge rt-r-size-1 rt-variant-soft", custom_attrs=GRAY),
            class_name="rt-Flex rt-r-ai-center rt-r-gap-2",
        ),
        rx.el.p(item.text, class_name="rt-Text rt-r-size-2 td-clamp", custom_attrs={"title": item.text}),
        rx.cond(item.attributes, rx.el.p(item.attributes, class_name="rt-Text rt-r-size-1 td-wrap", custom_attrs=GRAY)),
        rx.flex(
            rx.button("Apply", size="1", variant="soft", on_click=s.apply(item.id), type="button",
                      custom_attrs={"data-testid": "template-apply"}),
            rx.cond(item.placeholders.length() > 0,
                    rx.text("asks for ", item.placeholders.join(", "), size="1", color_scheme="gray")),
            rx.spacer(),
            rx.cond(AuthState.is_trainer, rx.fragment(
                rx.icon_button(rx.icon("pencil", size=14), size="1", variant="ghost", on_click=s.open_edit(item.id),
                               aria_label="Edit template", title="Rename or edit", type="button",
                               custom_attrs={"data-testid": "template-edit"}),
                rx.icon_button(rx.icon("trash-2", size=14), size="1", variant="ghost", color_scheme="red",
                               on_click=s.ask_delete(item.id), aria_label="Delete template", title="Delete",
                               type="button", custom_attrs={"data-testid": "template-delete"}),
            )),
            spacing="2", align="center", wrap="wrap", width="100%",
        ),
        class_name="td-template", custom_attrs={"data-testid": "template-item"},
    )


def template_list() -> rx.Component:
    s = TemplateState
    return rx.vstack(
        rx.cond(AuthState.is_trainer, rx.box(rx.button(
            rx.icon("bookmark-plus", size=14), "Save editor as template", size="1", variant="soft", type="button",
            on_click=s.open_save, disabled=StudioState.text.strip() == "",
            title="The editor's text (with any {placeholders}) and attributes, shared with the team",
            custom_attrs={"data-testid": "template-save-open"}))),
        error_retry("Templates not loaded", s.error, s.load_templates, "templates-error"),
        rx.cond(
            s.templates.length() > 0,
            rx.el.div(rx.foreach(s.templates, _template), class_name="td-hits",
                      custom_attrs={"data-testid": "template-list"}),
            rx.cond(s.loaded,
                    rx.text("No templates — save the editor as one", size="2", color_scheme="gray",
                            custom_attrs={"data-testid": "templates-empty"}),
                    rx.cond(s.error == "", skeleton_rows(2))),
        ),
        spacing="2", width="100%", align="stretch",
    )


def _fill_input(name: rx.Var[str], index: rx.Var[int]) -> rx.Component:
    return rx.vstack(
        rx.text(name, as_="label", size="2", weight="medium", html_for="template-value-" + index.to_string()),
        rx.input(value=TemplateState.fill_values[index], on_change=lambda v: TemplateState.set_fill_value(index, v),
                 id="template-value-" + index.to_string(), placeholder=name, width="100%", debounce_timeout=150,
                 custom_attrs={"data-testid": "template-value", "data-name": name}),
        spacing="1", width="100%", align="stretch",
    )


def _cancel_and(confirm: rx.Component) -> rx.Component:
    """A dialog's closing row: Cancel, then the dialog's own button."""
    return rx.flex(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")), confirm,
                   spacing="2", justify="end", width="100%")


def fill_dialog() -> rx.Component:
    s = TemplateState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Fill in '", s.fill_name, "'"),
            rx.dialog.description("The template asks for these values; they go into its text.", size="2"),
            rx.vstack(
                rx.foreach(s.fill_names, _fill_input),
                rx.text(s.fill_preview, size="2", color_scheme="gray", class_name="td-wrap",
                        custom_attrs={"data-testid": "template-preview"}),
                _cancel_and(rx.button("Apply", on_click=s.apply_filled, disabled=~s.can_fill, type="button",
                                      custom_attrs={"data-testid": "template-fill-apply"})),
                spacing="3", width="100%", align="stretch", margin_top="0.75em",
            ),
            max_width="28em", custom_attrs={"data-testid": "template-fill-dialog"},
        ),
        open=s.fill_open, on_open_change=s.set_fill_open,
    )


def edit_dialog() -> rx.Component:
    s = TemplateState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(s.edit_id, "Edit template", "Save as template")),
            rx.dialog.description(
                rx.cond(s.edit_id, "Rename it or change its text; the team sees the change.",
                        "Shared with the team. Write {name} where the text should ask for a value."), size="2"),
            rx.vstack(
                field("Name", rx.input(value=s.edit_name, on_change=s.set_edit_name, width="100%", max_length=80,
                                       placeholder="lo-fi beat", custom_attrs={"data-testid": "template-name-input"})),
                field("Text", rx.text_area(value=s.edit_text, on_change=s.set_edit_text, rows="4", width="100%",
                                           custom_attrs={"data-testid": "template-text-input"}),
                      rx.cond(s.edit_placeholders != "", rx.text("Asks for ", s.edit_placeholders, size="1",
                                                                 color_scheme="gray"),
                              rx.text("No placeholders: applied as it is", size="1", color_scheme="gray"))),
                rx.cond(s.edit_id, rx.checkbox("Take the editor's style, tempo, instruments and mood",
                                               checked=s.edit_take_attributes, on_change=s.set_edit_take_attributes,
                                               size="1"),
                        rx.text("With the editor's style, tempo, instruments and mood.", size="1",
                                color_scheme="gray")),
                rx.cond(s.edit_error, rx.callout(s.edit_error, color_scheme="red", size="1", icon="circle_alert",
                                                 custom_attrs={"data-testid": "template-save-error"})),
                _cancel_and(rx.button("Save", on_click=s.save, disabled=~s.can_save, loading=s.saving,
                                      type="button", custom_attrs={"data-testid": "template-save"})),
                spacing="3", width="100%", align="stretch", margin_top="0.75em",
            ),
            max_width="32em", custom_attrs={"data-testid": "template-edit-dialog"},
        ),
        open=s.edit_open, on_open_change=s.set_edit_open,
    )


def delete_dialog() -> rx.Component:
    s = TemplateState
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete template '", s.delete_name, "'?"),
            rx.alert_dialog.description("It is gone for the whole team. Prompts made from it stay.", size="2"),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                rx.alert_dialog.action(rx.button("Delete", color_scheme="red", on_click=s.delete, type="button",
                                                 custom_attrs={"data-testid": "template-delete-confirm"})),
                spacing="2", justify="end", margin_top="1em"),
            max_width="26em",
        ),
        open=s.delete_id != 0, on_open_change=s.cancel_delete,
    )


def template_dialogs() -> rx.Component:
    return rx.fragment(fill_dialog(), edit_dialog(), delete_dialog())
