"""The blind listening page /evaluate/<id>: two clips, First and Second, and a vote.

Nothing that names a model reaches the browser while the evaluation is open: the pair
carries only stream URLs that name a pair and a slot, and the labels of the two sides are
read only once the evaluation is completed.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from training_dashboard import schemas
from training_dashboard.client import ApiClient
from training_dashboard.state.api import api_client, audio_src
from training_dashboard.state.auth import AuthState
from training_dashboard.state.evaluations import p_text
from training_dashboard.state.listening import keys_script
from training_dashboard.state.loading import call
from training_dashboard.state.rater import NO_LISTENER, RATER_CHOSEN, listener_id

WAIT_SECONDS = 2.0
WAIT_ROUNDS = 300  # follow generation for about 10 minutes, then "Check again"

# Keyboard: 1 = First, 2 = Second, 0 = tie, space plays/pauses (the clip played last).
KEYS_JS = keys_script("__tdEvalKeys", "/evaluate", {"1": "eval-vote-first", "2": "eval-vote-second",
                                                    "0": "eval-vote-tie"},
                      players=("eval-first-audio", "eval-second-audio"))


def evaluation_id_from_path(path: str) -> int:
    """``/evaluate/12`` -> 12 (0 when the address holds no valid id)."""
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    return schemas.parse_int(tail) or 0


def reveal_text(e: schemas.EvaluationDetail) -> str:
    """What the page says once the evaluation is complete (only then are the models named)."""
    r = e.result
    if r.win_rate is None:
        return f"{e.candidate_label} vs {e.baseline_label}: no decisive votes ({r.ties} ties)."
    return (f"{e.candidate_label} vs {e.baseline_label}: {e.candidate_label} won {r.candidate_wins}, "
            f"{e.baseline_label} won {r.baseline_wins}, {r.ties} tie(s). Win rate {r.win_rate * 100:.0f}% "
            f"(95% CI {r.ci_low * 100:.0f}–{r.ci_high * 100:.0f}%), {p_text(r.p_value)}.")  # type: ignore[operator]


class EvaluateState(rx.State):
    evaluation_id: int = 0
    status: str = ""
    pair_id: int = 0
    prompt_text: str = ""
    first_src: str = ""
    second_src: str = ""
    voted: int = 0
    ready: int = 0
    pairs_total: int = 0
    waiting: bool = False  # no pair yet: clips are still being generated
    finished_for_rater: bool = False
    voting: bool = False
    loading: bool = False
    error: str = ""
    # Filled only once the evaluation is completed.
    verdict: str = ""
    reveal: str = ""

    @rx.var
    def has_pair(self) -> bool:
        return self.pair_id > 0

    @rx.var
    def progress_text(self) -> str:
        return f"{self.voted} voted · {self.ready} of {self.pairs_total} pairs ready"

    @rx.var
    def progress_pct(self) -> int:
        return round(100 * self.voted / self.pairs_total) if self.pairs_total else 0

    @rx.event
    def load_page(self):  # type: ignore[no-untyped-def]
        self.evaluation_id = evaluation_id_from_path(self.router.url.path)
        self.pair_id, self.verdict, self.reveal, self.error, self.finished_for_rater = 0, "", "", "", False
        return [rx.call_script(KEYS_JS), EvaluateState.load_next]

    def _clear_pair(self) -> None:
        self.pair_id, self.prompt_text, self.first_src, self.second_src = 0, "", "", ""

    @rx.event(background=True)
    async def load_next(self):  # type: ignore[no-untyped-def]
        async with self:
            rater_id = await listener_id(self)
            auth = await self.get_state(AuthState)
            reveal = auth.auth != "on" or auth.is_trainer  # the result names the models: trainers read it
            evaluation_id = self.evaluation_id
            if not evaluation_id:
                self.error = "This address names no evaluation"
                return
            if not rater_id or self.loading:
                return
            self.loading, self.error = True, ""
        await call(self, api_client, lambda api: self._wait_for_pairs(api, evaluation_id, rater_id, reveal),
                   failed=self._failed, flag="loading")

    async def _wait_for_pairs(self, api: ApiClient, evaluation_id: int, rater_id: int, reveal: bool = True) -> None:
        """Show the next pair; while clips are still being generated, look again every few seconds."""
        for _ in range(WAIT_ROUNDS):
            pair = await api.next_evaluation_pair(evaluation_id, rater_id)
            progress = await api.evaluation_progress(evaluation_id, rater_id)
            completed = progress.status == "completed"
            detail = await api.get_evaluation(evaluation_id) if completed and reveal else None
            async with self:
                self._apply(pair, progress, detail)
                if not self.waiting:
                    return
            await asyncio.sleep(WAIT_SECONDS)

    def _failed(self, error: str) -> None:
        self.error = error

    def _apply(self, pair: schemas.EvaluationPairBlind | None, progress: schemas.RaterProgress,
               detail: schemas.EvaluationDetail | None) -> None:
        self.status, self.voted, self.ready, self.pairs_total = (progress.status, progress.voted, progress.ready,
                                                                 progress.pairs_total)
        if pair is not None:
            self.pair_id, self.prompt_text = pair.pair_id, pair.prompt_text
            self.first_src, self.second_src = audio_src(pair.first.stream_url), audio_src(pair.second.stream_url)
            self.waiting = self.finished_for_rater = False
            return
        self._clear_pair()
        self.waiting = progress.status == "generating"
        self.finished_for_rater = not self.waiting
        if detail is not None:
            self.verdict, self.reveal = detail.result.verdict, reveal_text(detail)

    def _voted(self, _: object) -> None:
        self._clear_pair()

    @rx.event(background=True)
    async def vote(self, choice: str):  # type: ignore[no-untyped-def]
        async with self:
            if not self.pair_id or self.voting or choice not in ("first", "second", "tie"):
                return
            rater_id = await listener_id(self)
            pair_id, evaluation_id, self.voting = self.pair_id, self.evaluation_id, bool(rater_id)
        if not rater_id:
            yield NO_LISTENER
            return
        body = schemas.EvaluationVoteCreate(pair_id=pair_id, rater_id=rater_id, choice=choice)  # type: ignore[arg-type]
        if error := await call(self, api_client, lambda api: api.vote(evaluation_id, body), self._voted,
                               flag="voting"):
            yield rx.toast.error(f"Vote not saved: {error}")
            return
        yield EvaluateState.load_next


RATER_CHOSEN.connect(EvaluateState.load_next, path="/evaluate")  # blind pairs are per listener too
