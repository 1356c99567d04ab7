"""The leaderboard on the Adapters tab: models ranked by Bradley–Terry strength."""

from __future__ import annotations

import dataclasses

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client
from training_dashboard.state.loading import load


@dataclasses.dataclass
class LeaderboardRow:
    key: str  # "base" or the adapter id
    rank: str  # "1", "2", ... or "—" for a model without games
    label: str
    strength: str
    interval: str
    record: str  # wins–losses
    games: int
    note: str  # "deleted", "no games yet" or ""
    ranked: bool
    # The interval drawn as a bar with whiskers on one common scale for the whole table (percent).
    bar_left: float = 0.0
    bar_width: float = 0.0
    point: float = 0.0


def _signed(value: float) -> str:
    return f"{value:+.2f}"


def leaderboard_rows(board: schemas.Leaderboard) -> list[LeaderboardRow]:
    """Table rows in the API's order, with the intervals placed on one shared axis."""
    lows = [e.ci_low for e in board.items if e.ci_low is not None]
    highs = [e.ci_high for e in board.items if e.ci_high is not None]
    lo, hi = (min(lows), max(highs)) if lows and highs else (0.0, 0.0)
    span = hi - lo or 1.0

    def pct(value: float) -> float:
        return round(100 * (value - lo) / span, 1)

    rows = []
    for e in board.items:
        ranked = e.strength is not None and e.ci_low is not None and e.ci_high is not None
        row = LeaderboardRow(
            key="base" if e.adapter_id is None else str(e.adapter_id), rank=str(e.rank) if e.rank else "—",
            label=e.label, strength=_signed(e.strength) if e.strength is not None else "—",
            interval=f"{_signed(e.ci_low)} to {_signed(e.ci_high)}" if ranked else "—",  # type: ignore[arg-type]
            record=f"{e.wins}–{e.losses}", games=e.games,
            note="deleted" if e.deleted else ("no games yet" if not e.games else ""), ranked=ranked,
        )
        if ranked:
            row.bar_left, row.point = pct(e.ci_low), pct(e.strength)  # type: ignore[arg-type]
            row.bar_width = round(max(pct(e.ci_high) - row.bar_left, 0.5), 1)  # type: ignore[arg-type]
        rows.append(row)
    return rows


def summary_text(board: schemas.Leaderboard) -> str:
    if not board.games:
        return ""
    ties = f" ({board.ties:,} {'tie' if board.ties == 1 else 'ties'} left out)" if board.ties else ""
    return (f"Bradley–Terry strengths from {board.games:,} A/B choices between clips of different models{ties}. "
            f"A difference of 1 means about 73 % wins for the stronger model. "
            f"Intervals: {round(board.confidence * 100)} % bootstrap, {board.bootstrap_rounds} rounds.")


class LeaderboardState(rx.State):
    rows: list[LeaderboardRow] = []
    games: int = 0
    connected: bool = True
    summary: str = ""
    error: str = ""
    loading: bool = False
    loaded: bool = False

    @rx.event(background=True)
    async def load_leaderboard(self):  # type: ignore[no-untyped-def]
        await load(self, api_client, lambda api: api.leaderboard(), self._show, failed=self._failed)

    def _show(self, board: schemas.Leaderboard) -> None:
        self.rows = leaderboard_rows(board)
        self.games, self.connected, self.summary = board.games, board.connected, summary_text(board)
        self.error, self.loaded = "", True

    def _failed(self, error: str) -> None:  # shown where the table would be
        self.error, self.loaded = f"Could not load the leaderboard: {error}", True
