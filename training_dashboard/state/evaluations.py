"""Evaluations on the Adapters tab: start one ("Evaluate"), follow its progress, read its verdict."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from training_dashboard import schemas
from training_dashboard.client import ApiClient
from training_dashboard.state.adapters import AdapterState
from training_dashboard.state.api import api_client, error_text
from training_dashboard.state.evaluation_texts import attentive_of, p_text, pct, plan_texts, win_rate_value
from training_dashboard.state.loading import load

POLL_SECONDS = 2.0
POLL_ROUNDS = 450  # about 15 minutes of following open evaluations, then the Refresh button
PLAN_DEBOUNCE_S = 0.3


@dataclasses.dataclass
class EvaluationRow:
    id: int
    candidate_id: int
    title: str
    status: str
    is_open: bool
    progress: str
    clips_pct: int
    verdict: str  # better | worse | inconclusive, "" until completed
    result: str
    interval: str
    has_interval: bool
    href: str
    attentive: str = ""  # the verdict from attentive votes only, once completed
    attentive_verdict: str = ""
    # The win rate's interval drawn as a bar with whiskers on a 0-100 % axis (components.leaderboard).
    bar_left: float = 0.0
    bar_width: float = 0.0
    point: float = 0.0


@dataclasses.dataclass
class BaselineOption:
    value: str  # "base" or an adapter id
    label: str


def evaluation_row(e: schemas.EvaluationPublic, attentive: list[str] | None = None) -> EvaluationRow:
    """What the card shows: progress while open, the result (win rate, interval, p) once votes exist,
    and beside it the result of attentive votes only (``attentive``: from :func:`attentive_of`)."""
    clips_total = 2 * e.pairs_total
    decided = e.candidate_wins + e.baseline_wins
    progress = f"clips {e.clips_ready}/{clips_total} · votes {e.votes}"
    if e.votes_per_pair > 1:
        progress += f" ({e.votes_per_pair} per pair)"
    if e.pairs_failed:
        progress += f" · {e.pairs_failed} pair(s) failed to generate"
    final = e.status == "completed"
    rate, low, high = (e.win_rate, e.ci_low, e.ci_high) if final else (None, None, None)
    row = EvaluationRow(
        id=e.id, candidate_id=e.candidate_id, title=f"{e.candidate_label} vs {e.baseline_label}", status=e.status,
        is_open=e.status in ("generating", "voting"), progress=progress,
        clips_pct=round(100 * e.clips_ready / clips_total) if clips_total else 0,
        verdict=e.verdict or "" if final else "",
        result=(f"win rate {pct(rate)} over {decided} decisive vote(s), {e.ties} tie(s) · {p_text(e.p_value)}"
                if final else ""),
        interval=f"95% CI {pct(low)}–{pct(high)}" if low is not None else "",
        has_interval=low is not None and high is not None and rate is not None, href=f"/evaluate/{e.id}",
    )
    if final and attentive:
        row.attentive, row.attentive_verdict = attentive[0], attentive[1]
    if row.has_interval:
        row.bar_left, row.point = round(100 * low, 1), round(100 * rate, 1)  # type: ignore[operator]
        row.bar_width = round(max(100 * (high - low), 0.5), 1)  # type: ignore[operator]
    return row


def num_prompts_problem(text: str) -> str:
    if schemas.parse_int(text.strip(), 5, 200) is None:
        return "Between 5 and 200 prompts"
    return ""


def clip_seconds_problem(text: str) -> str:
    value = schemas.parse_float(text, 0, float("inf"))
    if value is None:
        return "A number of seconds"
    return "" if 0.5 <= value <= 30 else "Between 0.5 and 30 seconds"


class EvaluationState(rx.State):
    rows: list[EvaluationRow] = []
    loaded: bool = False
    loading: bool = False
    error: str = ""
    polling: bool = False
    _attentive: dict[int, list[str]] = {}  # evaluation id -> attentive_of's [text, verdict]
    # the Evaluate dialog
    dialog_for: int = 0
    dialog_title: str = ""
    baseline: str = "base"
    baseline_options: list[BaselineOption] = []
    num_prompts: str = "20"
    clip_seconds: str = "5"
    starting: bool = False
    expected_win_rate: str = "0.65"
    plan_can: str = ""  # "With 40 pairs you can detect a win rate of 0.72 or more (80 % power)."
    plan_needs: str = ""  # "you need 120 pairs."
    plan_note: str = ""  # the test and the tie rate assumed
    _plan_seq: int = 0

    @rx.var
    def prompts_problem(self) -> str:
        return num_prompts_problem(self.num_prompts)

    @rx.var
    def seconds_problem(self) -> str:
        return clip_seconds_problem(self.clip_seconds)

    @rx.var
    def win_rate_problem(self) -> str:
        return "" if win_rate_value(self.expected_win_rate) is not None else "A win rate above 0.5 and below 1"

    @rx.var
    def can_start(self) -> bool:
        return not self.prompts_problem and not self.seconds_problem and not self.starting

    @rx.event
    def open_evaluate(self, adapter_id: int, title: str, options: list[dict]):  # type: ignore[type-arg,no-untyped-def]
        self.dialog_for, self.dialog_title, self.baseline = adapter_id, title, "base"
        self.baseline_options = [BaselineOption(value="base", label="Base model")] + [
            BaselineOption(value=str(o["id"]), label=f"{o['name']} {o['version']}")
            for o in options if o["id"] != adapter_id and o["compatible"]
        ]
        return EvaluationState.plan

    @rx.event
    def close_evaluate(self, open_: bool = False) -> None:
        if not open_:
            self.dialog_for = 0

    @rx.event
    def set_baseline(self, value: str) -> None:
        if value in {o.value for o in self.baseline_options}:
            self.baseline = value

    @rx.event
    def set_num_prompts(self, value: str):  # type: ignore[no-untyped-def]
        self.num_prompts = value[:4]
        return EvaluationState.plan

    @rx.event
    def set_expected_win_rate(self, value: str):  # type: ignore[no-untyped-def]
        self.expected_win_rate = value[:8]
        return EvaluationState.plan

    @rx.event(background=True)
    async def plan(self):  # type: ignore[no-untyped-def]
        """The planner lines for the pairs and win rate in the dialog (the latest request wins)."""
        async with self:
            self._plan_seq += 1
            seq, pairs = self._plan_seq, schemas.parse_int(self.num_prompts.strip(), 5, 200)
            expected = win_rate_value(self.expected_win_rate)
            if pairs is None:
                self.plan_can, self.plan_needs, self.plan_note = "", "", ""
                return
        await asyncio.sleep(PLAN_DEBOUNCE_S)
        try:
            async with api_client(self) as api:
                texts = plan_texts(await api.plan_evaluation(pairs, expected))
        except Exception as exc:  # noqa: BLE001
            texts = (f"Could not plan: {error_text(exc)}", "", "")
        async with self:
            if seq == self._plan_seq:
                self.plan_can, self.plan_needs, self.plan_note = texts

    @rx.event
    def set_clip_seconds(self, value: str) -> None:
        self.clip_seconds = value[:6]

    @rx.event(background=True)
    async def start_evaluation(self):  # type: ignore[no-untyped-def]
        async with self:
            if not self.can_start or not self.dialog_for:
                return
            body = schemas.EvaluationCreate(candidate_id=self.dialog_for,
                                            baseline_id=None if self.baseline == "base" else int(self.baseline),
                                            num_prompts=int(self.num_prompts.strip()),
                                            duration=float(self.clip_seconds.strip()))
            self.starting = True
        try:
            async with api_client(self) as api:
                created = await api.create_evaluation(body)
            async with self:
                self.rows = [evaluation_row(created), *[r for r in self.rows if r.id != created.id]]
                self.dialog_for = 0
            yield rx.toast.success(f"Evaluation #{created.id} started: {created.pairs_total} prompts being generated")
            yield EvaluationState.follow
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Could not start the evaluation: {error_text(exc)}")
        finally:
            async with self:
                self.starting = False

    @rx.event(background=True)
    async def load_evaluations(self):  # type: ignore[no-untyped-def]
        if await load(self, api_client, self._fetch, self._show, failed=self._failed):
            return
        async with self:
            follow = any(r.is_open for r in self.rows) and not self.polling
        if follow:
            yield EvaluationState.follow

    async def _fetch(self, api: ApiClient) -> tuple[schemas.Page[schemas.EvaluationPublic], dict[int, list[str]]]:
        page = await api.list_evaluations(limit=20)
        return page, await attentive_of(api, page, set(self._attentive))

    def _rows(self, answer: tuple[schemas.Page[schemas.EvaluationPublic], dict[int, list[str]]]) -> list[EvaluationRow]:
        page, found = answer
        self._attentive = {**self._attentive, **found}
        return [evaluation_row(e, self._attentive.get(e.id)) for e in page.items]

    def _show(self, answer: tuple[schemas.Page[schemas.EvaluationPublic], dict[int, list[str]]]) -> None:
        self.rows, self.loaded, self.error = self._rows(answer), True, ""

    def _failed(self, error: str) -> None:
        self.error, self.loaded = f"Could not load evaluations: {error}", True

    @rx.event(background=True)
    async def follow(self):  # type: ignore[no-untyped-def]
        """Refresh while an evaluation is open (bounded), so progress and verdicts appear by themselves."""
        async with self:
            if self.polling:
                return
            self.polling = True
        try:
            for _ in range(POLL_ROUNDS):
                await asyncio.sleep(POLL_SECONDS)
                async with api_client(self) as api:
                    answer = await self._fetch(api)
                async with self:
                    rows = self._rows(answer)
                    finished = [r for r in rows if not r.is_open and any(o.id == r.id and o.is_open
                                                                         for o in self.rows)]
                    self.rows = rows
                if finished:
                    yield AdapterState.load_adapters  # the verdicts on the adapters changed
                if not any(r.is_open for r in rows):
                    return
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Stopped following evaluations: {error_text(exc)}")
        finally:
            async with self:
                self.polling = False

    @rx.event(background=True)
    async def cancel(self, evaluation_id: int):  # type: ignore[no-untyped-def]
        try:
            async with api_client(self) as api:
                detail = await api.cancel_evaluation(evaluation_id)
            async with self:
                self.rows = [evaluation_row(detail) if r.id == evaluation_id else r for r in self.rows]
            yield rx.toast.info(f"Evaluation #{evaluation_id} cancelled")
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Could not cancel: {error_text(exc)}")
