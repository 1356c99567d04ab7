"""The launch form: a preset, a name and the advanced options, checked against the CLI's ranges
(from ``GET /api/runs/options``) as they are typed; the API validates again with the CLI's code."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client, error_text
from training_dashboard.state.runs import RunsState, config_value, run_row
from training_dashboard.state.training import TrainingState, show_tab_from_backend


@dataclasses.dataclass
class OptionField:
    name: str
    flag: str
    help: str
    value: str
    error: str


@dataclasses.dataclass
class PresetChoice:
    name: str
    description: str


def validate_option(option: schemas.RunOption, text: str) -> str:
    """The CLI's range check, for the form (the API checks again with the CLI's own code)."""
    text = text.strip()
    if option.kind == "list":
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in option.choices]
        if not items:
            return f"{option.flag} needs at least one of {', '.join(option.choices)}"
        return f"unknown module(s) {', '.join(bad)}; choose from {', '.join(option.choices)}" if bad else ""
    try:
        number = float(text)
    except ValueError:
        return f"{option.flag} must be {'an integer' if option.kind == 'int' else 'a number'}"
    if option.kind == "int" and not number.is_integer():
        return f"{option.flag} must be an integer"
    if (option.minimum is not None and number < option.minimum) or (
            option.maximum is not None and number > option.maximum):
        return f"{option.flag} must be between {option.minimum:g} and {option.maximum:g}"
    return ""


class RunFormState(rx.State):
    form_open: bool = False
    form_dataset_id: int = 0
    form_dataset: str = ""
    form_task: str = "sft"
    form_preset: str = "quick"
    form_name: str = ""
    form_error: str = ""
    form_busy: bool = False
    presets: list[PresetChoice] = []
    fields: list[OptionField] = []
    _options: list[dict[str, Any]] = []
    _defaults: dict[str, str] = {}
    _presets: dict[str, dict[str, Any]] = {}

    @rx.var
    def form_problem(self) -> str:
        if self.form_name.strip() and not all(c.isalnum() or c in " ._-" for c in self.form_name.strip()):
            return "Names use letters, digits, spaces, '.', '_' and '-' only"
        return next((f"{f.name}: {f.error}" for f in self.fields if f.error), "")

    @rx.event
    async def open_train_form(self, dataset_id: int):  # type: ignore[no-untyped-def]
        self.form_error, self.form_busy = "", False
        try:
            async with api_client(self) as api:
                dataset = await api.get_dataset(dataset_id)
                options = await api.run_options()
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Cannot start a run: {error_text(exc)}")
            return
        self.form_dataset_id, self.form_dataset = dataset.id, dataset.name
        self.form_task = "sft" if dataset.type == "supervised" else "dpo"
        self.form_name = ""
        self._options = [o.model_dump() for o in options.options if self.form_task in o.tasks]
        self._defaults = {o.name: config_value(o.default) for o in options.options}
        self.presets = [PresetChoice(name=p.name, description=p.description) for p in options.presets]
        self._presets = {p.name: p.config for p in options.presets}
        self._fill(self.form_preset)
        self.form_open = True

    def _fill(self, preset: str) -> None:
        values = {**self._defaults, **{k: config_value(v) for k, v in self._presets.get(preset, {}).items()}}
        self.fields = [OptionField(name=o["name"], flag=o["flag"], help=o["help"], value=values.get(o["name"], ""),
                                   error="") for o in self._options]

    @rx.event
    def set_form_open(self, value: bool) -> None:
        self.form_open = value

    @rx.event
    def set_form_preset(self, value: str) -> None:
        self.form_preset = value if value in ("quick", "standard", "thorough") else "standard"
        self._fill(self.form_preset)

    @rx.event
    def set_form_name(self, value: str) -> None:
        self.form_name = value

    @rx.event
    def set_field(self, name: str, value: str) -> None:
        option = next((o for o in self._options if o["name"] == name), None)
        if option is None:
            return
        error = validate_option(schemas.RunOption.model_validate(option), value)
        self.fields = [dataclasses.replace(f, value=value, error=error) if f.name == name else f for f in self.fields]

    @rx.event
    async def submit_run(self):  # type: ignore[no-untyped-def]
        if self.form_problem or self.form_busy:
            return
        preset = {k: config_value(v) for k, v in self._presets.get(self.form_preset, {}).items()}
        config: dict[str, Any] = {}
        for f in self.fields:  # send only what differs from the preset, typed like the CLI parses it
            if f.value.strip() == preset.get(f.name, self._defaults.get(f.name, "")):
                continue
            kind = next(o["kind"] for o in self._options if o["name"] == f.name)
            config[f.name] = [t.strip() for t in f.value.split(",") if t.strip()] if kind == "list" else \
                int(float(f.value)) if kind == "int" else float(f.value)
        try:
            body = schemas.RunCreate(dataset_id=self.form_dataset_id, task=self.form_task,  # type: ignore[arg-type]
                                     preset=self.form_preset, config=config,  # type: ignore[arg-type]
                                     name=self.form_name.strip() or None)
        except ValueError as exc:
            self.form_error = str(exc).splitlines()[-1]
            return
        self.form_busy, self.form_error = True, ""
        yield
        try:
            async with api_client(self) as api:
                run = await api.create_run(body)
        except Exception as exc:  # noqa: BLE001
            self.form_error = error_text(exc)
            return
        finally:
            self.form_busy = False
        self.form_open = False
        runs = await self.get_state(RunsState)
        runs.runs = [run_row(run), *[r for r in runs.runs if r.id != run.id]]

        yield show_tab_from_backend("runs")
        yield TrainingState.set_tab("runs")
        yield RunsState.open_run(run.id)
        yield rx.toast.success(f"Run '{run.name}' queued")
