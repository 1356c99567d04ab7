"""The studio's shared prompt templates: apply one to the editor (asking for its ``{placeholders}``
first), and, for trainers, save the editor as one, edit or delete one."""

from __future__ import annotations

import dataclasses

import reflex as rx
from pydantic import ValidationError

from training_dashboard import schemas
from training_dashboard.client import ApiError
from training_dashboard.state.api import api_client
from training_dashboard.state.library import SHOW_EDITOR_JS, brief, brief_error
from training_dashboard.state.loading import load
from training_dashboard.state.rate import attributes_text
from training_dashboard.state.studio import StudioState, editor_attributes

NAME_TAKEN = "A template with this name exists — pick another name"


@dataclasses.dataclass
class TemplateItem:
    id: int
    name: str
    text: str
    attributes: str
    placeholders: list[str]
    builtin: bool
    author: str  # "built in" / "by tom"


def template_item(template: schemas.TemplatePublic) -> TemplateItem:
    return TemplateItem(id=template.id, name=template.name, text=template.text,
                        attributes=attributes_text(template.attributes), placeholders=list(template.placeholders),
                        builtin=template.builtin,
                        author="built in" if template.builtin else f"by {template.created_by or 'someone'}")


def template_fields(template: schemas.TemplatePublic, text: str) -> dict[str, str]:
    """The editor's fields a template fills: its (filled-in) text and its attributes."""
    attrs = template.attributes
    return {"text": text, "style": attrs.style or "", "tempo": str(attrs.tempo) if attrs.tempo else "",
            "instruments": ", ".join(attrs.instruments), "mood": attrs.mood or ""}


def problem_text(exc: BaseException) -> str:
    """What the save dialog says about a refused template."""
    if isinstance(exc, ValidationError):  # checked here before sending, by the same rules as the API's
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "attributes")
        message = str(first.get("msg", exc)).removeprefix("Value error, ")
        return f"{where.capitalize()}: {message}" if where else message
    if isinstance(exc, ApiError) and exc.status == 409:
        return NAME_TAKEN
    return brief_error(exc)


class TemplateState(rx.State):
    templates: list[TemplateItem] = []
    loading: bool = False
    loaded: bool = False
    error: str = ""

    # applying a template with placeholders: the dialog that asks for each value
    fill_open: bool = False
    fill_name: str = ""
    fill_names: list[str] = []
    fill_values: list[str] = []
    _fill_id: int = 0

    # "Save as template" (edit_id 0) and "Edit" (a template's id)
    edit_open: bool = False
    edit_id: int = 0
    edit_name: str = ""
    edit_text: str = ""
    edit_take_attributes: bool = True
    edit_error: str = ""
    saving: bool = False

    delete_id: int = 0
    delete_name: str = ""

    _templates: dict[int, schemas.TemplatePublic] = {}

    @rx.var
    def can_fill(self) -> bool:
        return bool(self.fill_values) and all(v.strip() for v in self.fill_values)

    @rx.var
    def fill_preview(self) -> str:
        template = self._templates.get(self._fill_id)
        if template is None:
            return ""
        return schemas.fill_placeholders(template.text, {n: v for n, v in zip(self.fill_names, self.fill_values,
                                                                             strict=False) if v.strip()})

    @rx.var
    def can_save(self) -> bool:
        return bool(self.edit_name.strip() and self.edit_text.strip()) and not self.saving

    @rx.var
    def edit_placeholders(self) -> str:
        names = schemas.placeholders(self.edit_text)
        return ", ".join("{" + n + "}" for n in names)

    @rx.event(background=True)
    async def load_templates(self):  # type: ignore[no-untyped-def]
        await load(self, api_client, lambda api: api.list_templates(), self._show, failed=self._failed)

    def _show(self, page: schemas.Page[schemas.TemplatePublic]) -> None:
        self._templates = {t.id: t for t in page.items}
        self.templates = [template_item(t) for t in sorted(page.items, key=lambda t: t.name.casefold())]
        self.loaded, self.error = True, ""

    def _failed(self, error: str) -> None:
        self.error = brief(error)  # shown in the tab, with a Retry

    @rx.event
    async def apply(self, template_id: int):  # type: ignore[no-untyped-def]
        """Fill the editor with a template; with placeholders, ask for their values first."""
        template = self._templates.get(template_id)
        if template is None:
            return None
        names = template.placeholders or schemas.placeholders(template.text)
        if names:
            self._fill_id, self.fill_name = template_id, template.name
            self.fill_names, self.fill_values, self.fill_open = list(names), [""] * len(names), True
            return None
        return await self._fill_editor(template, template.text)

    async def _fill_editor(self, template: schemas.TemplatePublic, text: str):  # type: ignore[no-untyped-def]
        studio = await self.get_state(StudioState)
        studio._load_fields(template_fields(template, text))
        return [rx.toast.info(f"Template '{template.name}' applied: press Generate to hear it"),
                rx.call_script(SHOW_EDITOR_JS)]

    @rx.event
    def set_fill_value(self, index: int, value: str) -> None:
        if 0 <= index < len(self.fill_values):
            self.fill_values[index] = value

    @rx.event
    async def apply_filled(self):  # type: ignore[no-untyped-def]
        template = self._templates.get(self._fill_id)
        if template is None or not self.can_fill:
            return None
        values = {n: v.strip() for n, v in zip(self.fill_names, self.fill_values, strict=True)}
        self.fill_open = False
        return await self._fill_editor(template, schemas.fill_placeholders(template.text, values))

    @rx.event
    def set_fill_open(self, value: bool) -> None:
        self.fill_open = value

    # -- save, edit, delete (trainers; the API refuses anyone else) --------------------------------

    @rx.event
    async def open_save(self):  # type: ignore[no-untyped-def]
        studio = await self.get_state(StudioState)
        self.edit_id, self.edit_name, self.edit_text = 0, "", studio.text
        self.edit_take_attributes, self.edit_error, self.edit_open = True, "", True

    @rx.event
    def open_edit(self, template_id: int) -> None:
        template = self._templates.get(template_id)
        if template is None:
            return
        self.edit_id, self.edit_name, self.edit_text = template_id, template.name, template.text
        self.edit_take_attributes, self.edit_error, self.edit_open = False, "", True

    @rx.event
    def set_edit_open(self, value: bool) -> None:
        self.edit_open = value

    @rx.event
    def set_edit_name(self, value: str) -> None:
        self.edit_name, self.edit_error = value, ""

    @rx.event
    def set_edit_text(self, value: str) -> None:
        self.edit_text, self.edit_error = value, ""

    @rx.event
    def set_edit_take_attributes(self, value: bool) -> None:
        self.edit_take_attributes = bool(value)

    @rx.event
    async def save(self):  # type: ignore[no-untyped-def]
        """Create (``edit_id`` 0) or update the template the dialog shows; a refusal stays in the dialog."""
        if not self.can_save:
            return
        self.saving, self.edit_error = True, ""
        yield
        try:
            studio = await self.get_state(StudioState)
            attributes = editor_attributes(studio.style, studio.tempo, studio.instruments, studio.mood)
            async with api_client(self) as api:
                if self.edit_id:
                    saved = await api.update_template(self.edit_id, schemas.TemplatePatch(
                        name=self.edit_name, text=self.edit_text,
                        **({"attributes": attributes} if self.edit_take_attributes else {})))
                else:
                    saved = await api.create_template(schemas.TemplateCreate(
                        name=self.edit_name, text=self.edit_text, attributes=attributes))
                page = await api.list_templates()
        except Exception as exc:  # noqa: BLE001 - every refusal is shown where it can be mended
            self.edit_error = problem_text(exc)
            return
        finally:
            self.saving = False
        self._show(page)
        self.edit_open = False
        yield rx.toast.success(f"Template '{saved.name}' {'saved' if self.edit_id else 'created'}")

    @rx.event
    def ask_delete(self, template_id: int) -> None:
        template = self._templates.get(template_id)
        if template is not None:
            self.delete_id, self.delete_name = template_id, template.name

    @rx.event
    def cancel_delete(self, _open: bool = False) -> None:
        self.delete_id, self.delete_name = 0, ""

    @rx.event
    async def delete(self):  # type: ignore[no-untyped-def]
        template_id, name = self.delete_id, self.delete_name
        self.delete_id, self.delete_name = 0, ""
        if not template_id:
            return None
        try:
            async with api_client(self) as api:
                await api.delete_template(template_id)
                page = await api.list_templates()
        except Exception as exc:  # noqa: BLE001
            return rx.toast.error(f"Template '{name}' not deleted: {brief_error(exc)}")
        self._show(page)
        return rx.toast.success(f"Template '{name}' deleted")
