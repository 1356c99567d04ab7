"""Training runs: the list, one run watched live (charts, log tail), compare. The launch form is
:mod:`training_dashboard.state.run_form`."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client, error_text, short_date
from training_dashboard.state.loading import call, load

POLL_S = 1.0  # a logged step reaches the charts within ~1 s plus the worker's 0.25 s
MAX_CHART_POINTS = 500
LOG_TAIL_BYTES = 16_384
LOG_KEEP_CHARS = 20_000
COMPARE_COLORS = ("#3e63dd", "#e5484d", "#30a46c", "#f76b15")
STATUS_COLORS = {"queued": "gray", "running": "blue", "completed": "green", "failed": "red", "cancelled": "orange"}


@dataclasses.dataclass
class RunRow:
    id: int
    name: str
    status: str
    color: str
    progress: int
    step_text: str
    eta_text: str
    dataset: str
    adapter_id: int
    created: str
    error: str
    command: str
    output_dir: str
    can_cancel: bool
    can_resume: bool
    can_delete: bool


@dataclasses.dataclass
class ConfigRow:
    key: str
    value: str


@dataclasses.dataclass
class CompareRow:
    key: str
    cells: list[str]
    differs: bool


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"ETA {hours}h {minutes:02d}m" if hours else f"ETA {minutes}m {secs:02d}s" if minutes else f"ETA {secs}s"


def run_row(run: schemas.RunPublic) -> RunRow:
    total = run.total_steps
    return RunRow(
        id=run.id, name=run.name, status=run.status, color=STATUS_COLORS.get(run.status, "gray"),
        progress=int(round(100 * run.progress)),
        step_text=f"step {run.step} / {total}" if total else f"step {run.step}",
        eta_text=eta_text(run.eta_seconds) if run.status == "running" else "", dataset=run.dataset_name,
        adapter_id=run.adapter_id or 0, created=short_date(run.created_at), error=run.error or "",
        command=run.command, output_dir=run.output_dir, can_cancel=run.status in ("queued", "running"),
        can_resume=run.status in ("cancelled", "failed"), can_delete=run.status in ("completed", "failed", "cancelled"),
    )


def config_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def merge_points(points: dict[int, dict[str, float]], series: dict[str, list[tuple[int, float]]],
                 names: tuple[str, ...]) -> None:
    """Fold API series into ``{step: {name: value}}`` (a later value for a step replaces the earlier one)."""
    for name in names:
        for step, value in series.get(name, []):
            points.setdefault(int(step), {"step": int(step)})[name] = value


def chart_rows(points: dict[int, dict[str, float]], names: tuple[str, ...]) -> list[dict[str, float]]:
    return [{k: v for k, v in points[s].items() if k == "step" or k in names} for s in sorted(points)
            if any(n in points[s] for n in names)]


class RunsState(rx.State):
    runs: list[RunRow] = []
    loaded: bool = False
    loading: bool = False

    selected_id: int = 0
    view: list[RunRow] = []  # the watched run (zero or one row)
    config_rows: list[ConfigRow] = []
    loss_points: list[dict[str, float]] = []
    lr_points: list[dict[str, float]] = []
    log_text: str = ""
    _points: dict[int, dict[str, float]] = {}
    _last_step: int = 0
    _log_offset: int = 0
    _poll_seq: int = 0

    compare_ids: list[int] = []
    compare_open: bool = False
    compare_names: list[str] = ["", "", "", ""]
    compare_points: list[dict[str, float]] = []
    compare_rows: list[CompareRow] = []

    # -- list --------------------------------------------------------------------------

    @rx.event(background=True)
    async def load_runs(self):  # type: ignore[no-untyped-def]
        if error := await load(self, api_client, lambda api: api.list_runs(limit=50), self._show_runs):
            yield rx.toast.error(f"Could not load runs: {error}")

    def _show_runs(self, page: schemas.Page[schemas.RunPublic]) -> None:
        self.runs = [run_row(r) for r in page.items]
        self.loaded = True

    # -- one run, watched --------------------------------------------------------------

    @rx.event
    def open_run(self, run_id: int):  # type: ignore[no-untyped-def]
        self.selected_id, self.compare_open = run_id, False
        self._points, self._last_step, self._log_offset = {}, 0, 0
        self.loss_points, self.lr_points, self.log_text, self.config_rows, self.view = [], [], "", [], []
        return RunsState.watch_run

    @rx.event
    def close_run(self) -> None:
        self.selected_id, self.view = 0, []
        self._poll_seq += 1

    @rx.event(background=True)
    async def watch_run(self):  # type: ignore[no-untyped-def]
        """Poll the watched run until it ends (or another one is opened): charts and log grow in place."""
        async with self:
            self._poll_seq += 1
            seq, run_id = self._poll_seq, self.selected_id
        for _ in range(100_000):
            async with self:
                if seq != self._poll_seq or run_id != self.selected_id:
                    return
                since, offset, first = self._last_step, self._log_offset, not self.view
            try:
                async with api_client(self) as api:
                    run = await api.get_run(run_id)
                    metrics = await api.run_metrics(run_id, since_step=since, max_points=MAX_CHART_POINTS)
                    logs = await api.run_logs(run_id, tail=LOG_TAIL_BYTES) if first else \
                        await api.run_logs(run_id, offset=offset)
            except Exception as exc:  # noqa: BLE001
                async with self:
                    if seq == self._poll_seq:
                        self.log_text = self.log_text or f"Could not load the run: {error_text(exc)}"
                return
            async with self:
                if seq != self._poll_seq:
                    return
                self._apply(run, metrics, logs)
            if run.status in ("completed", "failed", "cancelled") and logs.complete:
                return
            await asyncio.sleep(POLL_S)

    def _apply(self, run: schemas.RunPublic, metrics: schemas.RunMetrics, logs: schemas.RunLogs) -> None:
        row = run_row(run)
        self.view = [row]
        self.runs = [row if r.id == row.id else r for r in self.runs]
        if not any(r.id == row.id for r in self.runs):
            self.runs = [row, *self.runs]
        self.config_rows = [ConfigRow(key=k, value=config_value(v)) for k, v in run.config.items()]
        merge_points(self._points, metrics.series, ("loss", "eval_loss", "learning_rate"))
        self._last_step = max(self._last_step, metrics.last_step)
        self.loss_points = chart_rows(self._points, ("loss", "eval_loss"))
        self.lr_points = chart_rows(self._points, ("learning_rate",))
        self.log_text = (self.log_text + logs.text)[-LOG_KEEP_CHARS:]
        self._log_offset = logs.next_offset

    @rx.event
    async def cancel_run(self, run_id: int):  # type: ignore[no-untyped-def]
        if error := await call(self, api_client, lambda api: api.cancel_run(run_id), self._replace_run):
            yield rx.toast.error(f"Cancel failed: {error}")
            return
        yield rx.toast.info("Cancelling: the run stops after its current step and keeps its checkpoint")

    @rx.event
    async def resume_run(self, run_id: int):  # type: ignore[no-untyped-def]
        if error := await call(self, api_client, lambda api: api.resume_run(run_id), self._replace_run):
            yield rx.toast.error(f"Resume failed: {error}")
            return
        yield RunsState.open_run(run_id)

    def _replace_run(self, run: schemas.RunPublic) -> None:
        self.runs = [run_row(run) if r.id == run.id else r for r in self.runs]

    @rx.event
    async def delete_run(self, run_id: int):  # type: ignore[no-untyped-def]
        if error := await call(self, api_client, lambda api: api.delete_run(run_id)):
            yield rx.toast.error(f"Delete failed: {error}")
            return
        self.runs = [r for r in self.runs if r.id != run_id]
        self.compare_ids = [i for i in self.compare_ids if i != run_id]
        if self.selected_id == run_id:
            self.selected_id, self.view = 0, []

    # -- compare -----------------------------------------------------------------------

    @rx.event
    def toggle_compare(self, run_id: int, checked: bool):  # type: ignore[no-untyped-def]
        ids = [i for i in self.compare_ids if i != run_id]
        if checked:
            if len(ids) >= 4:
                return rx.toast.warning("Compare up to 4 runs")
            ids.append(run_id)
        self.compare_ids = ids

    @rx.event
    async def show_compare(self):  # type: ignore[no-untyped-def]
        if not 2 <= len(self.compare_ids) <= 4:
            yield rx.toast.warning("Pick 2 to 4 runs to compare")
            return
        try:
            async with api_client(self) as api:
                runs = [await api.get_run(i) for i in self.compare_ids]
                metrics = [await api.run_metrics(i, max_points=300) for i in self.compare_ids]
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Compare failed: {error_text(exc)}")
            return
        points: dict[int, dict[str, float]] = {}
        for slot, m in enumerate(metrics):
            for step, value in m.series.get("loss", []):
                points.setdefault(int(step), {"step": int(step)})[f"r{slot}"] = value
        self.compare_points = [points[s] for s in sorted(points)]
        self.compare_names = ([f"#{r.id} {r.name}" for r in runs] + ["", "", "", ""])[:4]
        keys = sorted({k for r in runs for k in r.config})
        rows = [CompareRow(key=k, cells=[config_value(r.config.get(k, "—")) for r in runs], differs=False)
                for k in ("dataset", *keys)]
        rows[0].cells = [r.dataset_name for r in runs]
        for row in rows:
            row.differs = len(set(row.cells)) > 1
        self.compare_rows = rows
        self.compare_open, self.selected_id, self.view = True, 0, []
        self._poll_seq += 1

    @rx.event
    def close_compare(self) -> None:
        self.compare_open = False
