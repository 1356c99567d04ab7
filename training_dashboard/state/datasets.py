"""Datasets: the list, the create form with its live preview, and the export dialog."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import date

import reflex as rx
from pydantic import ValidationError

from training_dashboard import schemas
from training_dashboard.client import ApiError
from training_dashboard.state.api import api_client, error_text, parse_tags
from training_dashboard.state.auth import AuthState
from training_dashboard.state.dataset_rows import DatasetRow, RaterOption, dataset_row
from training_dashboard.state.loading import load

PREVIEW_DEBOUNCE_S = 0.35
MIN_RATERS_HINT = "Rated by at least N raters: a whole number from 1 to 1000 (empty: no constraint)"
MIN_HEARD_HINT = "Heard at least: a percentage from 0 to 100 (empty: no constraint)"
NAME_HINT = "Names start with a letter or digit and use letters, digits, spaces, '_', '.' or '-'"


def min_heard_fraction(text: str) -> float | None:
    """The "heard at least N %" field as the filter's fraction (None: empty); ValueError when not 0-100."""
    text = text.strip().rstrip("%").strip()
    if not text:
        return None
    percent = schemas.parse_float(text, 0, 100)
    if percent is None:
        raise ValueError(MIN_HEARD_HINT)
    return round(percent / 100, 4)



TOKEN_NOTE = ("# The CLI registers the adapter through the API as you: set TD_API_TOKEN to a personal access\n"
              "# token first (create one on your Account page), e.g.  export TD_API_TOKEN=td_...\n")


def cli_command(train_command: str, auth_on: bool) -> str:
    """The command the export dialog shows and copies; with sign-in on it says which token to set."""
    if not auth_on or "TD_API_TOKEN" in train_command:
        return train_command
    return TOKEN_NOTE + train_command

class DatasetsState(rx.State):
    datasets: list[DatasetRow] = []
    loading: bool = False
    loaded: bool = False

    form_open: bool = False
    name: str = ""
    description: str = ""
    dataset_type: str = "supervised"
    min_rating: int = 4
    required_tags: str = ""
    excluded_tags: str = ""
    adapter_choice: str = "any"
    start_date: str = ""
    end_date: str = ""
    raters: list[RaterOption] = []
    rater_ids: list[int] = []
    min_raters: str = ""
    aggregate: str = "rating"
    min_heard: str = ""  # percent of each clip heard before the judgement; "" = no constraint
    preview_count: int = -1
    preview_loading: bool = False
    form_error: str = ""
    creating: bool = False
    _preview_seq: int = 0

    export_open: bool = False
    export_id: int = 0
    export_name: str = ""
    export_format: str = "jsonl"
    exporting: bool = False
    export_error: str = ""
    export_path: str = ""
    export_count: int = 0
    export_hash: str = ""
    export_command: str = ""

    delete_id: int = 0  # the dataset whose delete confirmation is open (0: none)
    delete_name: str = ""
    delete_error: str = ""  # the API's refusal, shown in the confirmation
    delete_offers_cancel: bool = False  # refused for its training runs: offer "Cancel the runs and delete"
    deleting: bool = False

    # -- derived -----------------------------------------------------------------------

    @rx.var
    def validation_error(self) -> str:
        """The first problem with the form that the user can fix (empty name excepted)."""
        if self.name.strip() and not re.match(schemas.NAME_RE, self.name.strip()):
            return NAME_HINT
        if len(self.name.strip()) > 100:
            return "Names are at most 100 characters"
        try:
            self._filter()
        except ValueError as exc:
            return _first_message(exc)
        return ""

    @rx.var
    def preview_text(self) -> str:
        if self.preview_loading:
            return "Counting matching samples…"
        if self.preview_count < 0:
            return ""
        noun = "sample" if self.preview_count == 1 else "samples"
        if self.dataset_type == "preference":
            noun = "preference pair" if self.preview_count == 1 else "preference pairs"
        elif self.aggregate == "clip":
            noun = "clip" if self.preview_count == 1 else "clips"
        return f"{self.preview_count} {noun} {'matches' if self.preview_count == 1 else 'match'} this filter"

    @rx.var
    def can_create(self) -> bool:
        return (bool(self.name.strip()) and not self.validation_error and not self.preview_loading
                and self.preview_count > 0 and not self.creating)

    def _filter(self) -> schemas.DatasetFilter:
        """The filter the form describes; ValueError (pydantic's) when it is inconsistent."""
        adapter: int | str | None = None
        min_raters: int | None = None
        if self.min_raters.strip():
            text = self.min_raters.strip()
            min_raters = schemas.parse_int(text, 1, 1000)
            if min_raters is None:
                raise ValueError(MIN_RATERS_HINT)
        min_heard = min_heard_fraction(self.min_heard)
        if self.adapter_choice == "base":
            adapter = "base"
        else:
            adapter = schemas.parse_int(self.adapter_choice)
        common = {
            "adapter_id": adapter, "rater_ids": self.rater_ids,
            "start_date": date.fromisoformat(self.start_date) if self.start_date else None,
            "end_date": date.fromisoformat(self.end_date) if self.end_date else None,
            "min_heard_fraction": min_heard,
        }
        if self.dataset_type == "preference":
            # the API refuses rating, tag, min_raters and aggregate filters for preference pairs
            return schemas.DatasetFilter(**common)
        return schemas.DatasetFilter(
            min_rating=self.min_rating, required_tags=parse_tags(self.required_tags),
            excluded_tags=parse_tags(self.excluded_tags), min_raters=min_raters,
            aggregate="clip" if self.aggregate == "clip" else "rating", **common,
        )

    # -- list --------------------------------------------------------------------------

    @rx.event(background=True)
    async def load_datasets(self):  # type: ignore[no-untyped-def]
        if error := await load(self, api_client, lambda api: api.list_datasets(limit=100), self._show_datasets):
            yield rx.toast.error(f"Could not load datasets: {error}")

    def _show_datasets(self, page: schemas.Page[schemas.DatasetPublic]) -> None:
        self.datasets = [dataset_row(d) for d in page.items]
        self.loaded = True

    # -- create form -------------------------------------------------------------------

    @rx.event
    def open_form(self):  # type: ignore[no-untyped-def]
        self.form_open, self.form_error = True, ""
        return [DatasetsState.load_raters, DatasetsState.refresh_preview]

    @rx.event(background=True)
    async def load_raters(self):  # type: ignore[no-untyped-def]
        """The raters the form offers (through the client); a failure leaves the list empty."""
        if error := await load(self, api_client, lambda api: api.list_raters(), self._show_raters, flag=None):
            yield rx.toast.error(f"Could not load raters: {error}")

    def _show_raters(self, listed: list[schemas.RaterPublic]) -> None:
        known = {r.id for r in listed}
        self.rater_ids = [i for i in self.rater_ids if i in known]
        self.raters = [RaterOption(id=r.id, name=r.name, selected=r.id in self.rater_ids) for r in listed]

    @rx.event
    def toggle_rater(self, rater_id: int):  # type: ignore[no-untyped-def]
        chosen = set(self.rater_ids) ^ {int(rater_id)}
        self.rater_ids = sorted(chosen)
        self.raters = [dataclasses.replace(r, selected=r.id in chosen) for r in self.raters]
        return DatasetsState.refresh_preview

    @rx.event
    def set_min_raters(self, value: str):  # type: ignore[no-untyped-def]
        self.min_raters = value
        return DatasetsState.refresh_preview

    @rx.event
    def set_min_heard(self, value: str):  # type: ignore[no-untyped-def]
        self.min_heard = value[:8]
        return DatasetsState.refresh_preview

    @rx.event
    def set_aggregate(self, value: str):  # type: ignore[no-untyped-def]
        self.aggregate = value if value in ("rating", "clip") else "rating"
        return DatasetsState.refresh_preview

    @rx.event
    def close_form(self) -> None:
        self.form_open = False

    @rx.event
    def set_form_open(self, value: bool):  # type: ignore[no-untyped-def]
        return DatasetsState.open_form if value else DatasetsState.close_form

    @rx.event
    def set_name(self, value: str) -> None:
        self.name, self.form_error = value, ""

    @rx.event
    def set_description(self, value: str) -> None:
        self.description = value

    @rx.event
    def set_dataset_type(self, value: str):  # type: ignore[no-untyped-def]
        self.dataset_type = value if value in ("supervised", "preference") else "supervised"
        return DatasetsState.refresh_preview

    @rx.event
    def set_min_rating(self, value: list[int | float]):  # type: ignore[no-untyped-def]
        self.min_rating = int(value[0]) if value else 4
        return DatasetsState.refresh_preview

    @rx.event
    def set_required_tags(self, value: str):  # type: ignore[no-untyped-def]
        self.required_tags = value
        return DatasetsState.refresh_preview

    @rx.event
    def set_excluded_tags(self, value: str):  # type: ignore[no-untyped-def]
        self.excluded_tags = value
        return DatasetsState.refresh_preview

    @rx.event
    def set_adapter_choice(self, value: str):  # type: ignore[no-untyped-def]
        self.adapter_choice = value
        return DatasetsState.refresh_preview

    @rx.event
    def set_start_date(self, value: str):  # type: ignore[no-untyped-def]
        self.start_date = value
        return DatasetsState.refresh_preview

    @rx.event
    def set_end_date(self, value: str):  # type: ignore[no-untyped-def]
        self.end_date = value
        return DatasetsState.refresh_preview

    @rx.event(background=True)
    async def refresh_preview(self):  # type: ignore[no-untyped-def]
        """Debounced: only the last of a burst of changes asks the API."""
        async with self:
            self._preview_seq += 1
            seq = self._preview_seq
            self.preview_loading = True
        await asyncio.sleep(PREVIEW_DEBOUNCE_S)
        async with self:
            if seq != self._preview_seq:
                return
            try:
                request = schemas.DatasetPreviewRequest(type=self.dataset_type, filter=self._filter())
            except ValueError:
                self.preview_count, self.preview_loading = -1, False
                return
        try:
            async with api_client(self) as api:
                count = (await api.preview_dataset(request)).count
            error = ""
        except Exception as exc:  # noqa: BLE001
            count, error = -1, error_text(exc)
        async with self:
            if seq == self._preview_seq:
                self.preview_count, self.preview_loading = count, False
                if error:
                    self.form_error = f"Preview failed: {error}"

    @rx.event
    async def create_dataset(self):  # type: ignore[no-untyped-def]
        if not self.can_create:
            return
        try:
            body = schemas.DatasetCreate(name=self.name.strip(), description=self.description.strip() or None,
                                         type=self.dataset_type, filter=self._filter())
        except ValueError as exc:
            self.form_error = _first_message(exc)
            return
        self.creating, self.form_error = True, ""
        yield
        try:
            async with api_client(self) as api:
                created = await api.create_dataset(body)
                page = await api.list_datasets(limit=100)
        except Exception as exc:  # noqa: BLE001
            self.form_error = error_text(exc)
            return
        finally:
            self.creating = False
        self.datasets = [dataset_row(d) for d in page.items]
        self.loaded = True
        self._reset_form()
        yield rx.toast.success(f"Dataset '{created.name}' created with {created.sample_count} samples")

    def _reset_form(self) -> None:
        self.form_open, self.name, self.description, self.dataset_type = False, "", "", "supervised"
        self.min_rating, self.required_tags, self.excluded_tags, self.adapter_choice = 4, "", "", "any"
        self.start_date, self.end_date, self.preview_count, self.form_error = "", "", -1, ""
        self.rater_ids, self.min_raters, self.aggregate, self.min_heard = [], "", "rating", ""
        self.raters = [dataclasses.replace(r, selected=False) for r in self.raters]

    # -- export ------------------------------------------------------------------------

    @rx.event
    def open_export(self, dataset_id: int) -> None:
        row = next((d for d in self.datasets if d.id == dataset_id), None)
        self.export_open, self.export_id = True, dataset_id
        self.export_name = row.name if row else f"#{dataset_id}"
        self.export_error, self.export_path, self.export_count = "", "", 0
        self.export_hash, self.export_command = "", ""

    @rx.event
    def set_export_open(self, value: bool) -> None:
        self.export_open = value

    @rx.event
    def set_export_format(self, value: str) -> None:
        self.export_format = value if value in ("jsonl", "huggingface") else "jsonl"

    @rx.event
    async def export_dataset(self):  # type: ignore[no-untyped-def]
        self.exporting, self.export_error = True, ""
        yield
        try:
            async with api_client(self) as api:
                result = await api.export_dataset(self.export_id, self.export_format)  # type: ignore[arg-type]
                page = await api.list_datasets(limit=100)
        except Exception as exc:  # noqa: BLE001
            self.export_error = error_text(exc)
            return
        finally:
            self.exporting = False
        self.export_path, self.export_count = result.export_path, result.sample_count
        auth = await self.get_state(AuthState)
        self.export_hash, self.export_command = result.manifest_sha256, cli_command(result.train_command,
                                                                                    auth.auth != "off")
        self.datasets = [dataset_row(d) for d in page.items]


    @rx.event
    def open_delete(self, dataset_id: int) -> None:
        row = next((d for d in self.datasets if d.id == dataset_id), None)
        self.delete_id, self.delete_name = dataset_id, row.name if row else f"#{dataset_id}"
        self.delete_error, self.delete_offers_cancel = "", False

    @rx.event
    def set_delete_open(self, value: bool) -> None:
        if not value and not self.deleting:
            self.delete_id, self.delete_error, self.delete_offers_cancel = 0, "", False

    @rx.event(background=True)
    async def delete_dataset(self, cancel_runs: bool = False):  # type: ignore[no-untyped-def]
        """Delete the dataset of the open confirmation. A refusal (409: training runs still use it)
        stays in the confirmation, which then offers to cancel those runs and delete."""
        async with self:
            if self.deleting or not self.delete_id:
                return
            dataset_id, name = self.delete_id, self.delete_name
            self.deleting, self.delete_error = True, ""
        try:
            async with api_client(self) as api:
                await api.delete_dataset(dataset_id, cancel_runs=bool(cancel_runs))
                page = await api.list_datasets(limit=100)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            async with self:
                self.delete_error = error_text(exc)
                self.delete_offers_cancel = isinstance(exc, ApiError) and exc.status == 409 \
                    and "training runs" in exc.message
                self.deleting = False
            return
        async with self:
            self.datasets, self.loaded = [dataset_row(d) for d in page.items], True
            self.delete_id, self.delete_offers_cancel, self.deleting = 0, False, False
        yield rx.toast.success(f"Dataset '{name}' deleted")


def _first_message(exc: ValueError) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        message = str(exc.errors()[0].get("msg", exc))
        return message.removeprefix("Value error, ")
    return str(exc)
