"""What was heard before a judgement, and the listen gate (``TD_MIN_LISTEN``).

The browser measures: :data:`TRACKER_JS`, installed once per tab, follows every ``<audio>`` with an
id and knows, per player, the distinct seconds heard (the union of ``audio.played``, so replaying
the first second ten times counts once), its duration, plays, seeks and how long ago its clip
appeared. Two roads lead from it to the server:

- while a clip plays, the player's ``on_time_update`` (throttled), ``on_pause`` and
  ``on_loaded_metadata`` send :meth:`ListenGate.track` the player's figures, so the page can keep
  Submit and the vote buttons disabled and say how much is left; the keyboard script clicks only
  enabled buttons, so the keys obey the gate too;
- Submit and the vote buttons read everything at once (:func:`collect_js`, ``rx.call_script``
  with a callback) and the handler sends it as the judgement's ``listening`` object.

The API applies the same rule again; the page's gate only saves a refused request.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client
from training_dashboard.state.loading import call

EPSILON_S = 0.01  # float noise: a clip played to its end has heard == duration

TRACKER_JS = """
if (!window.__tdListen) {
  const records = new Map();  // player id -> {src, shown, plays, seeks, ended}
  const srcOf = (el) => el.getAttribute('src') || '';
  const record = (el) => {
    let r = records.get(el.id);
    if (!r || r.src !== srcOf(el)) {  // a new clip in this player: start over
      r = {src: srcOf(el), shown: performance.now(), plays: 0, seeks: 0, ended: false};
      records.set(el.id, r);
    }
    return r;
  };
  const tracked = (t) => t && t.tagName === 'AUDIO' && t.id;
  const heard = (el) => {
    let s = 0;
    for (let i = 0; i < el.played.length; i++) s += el.played.end(i) - el.played.start(i);
    return s;
  };
  const round = (x) => Math.round(x * 1000) / 1000;
  for (const type of ['loadstart', 'play', 'seeking', 'ended']) {
    document.addEventListener(type, (e) => {
      if (!tracked(e.target)) return;
      const r = record(e.target);
      if (type === 'play') r.plays += 1;
      // playing again after the end rewinds to 0: a replay, not a seek
      if (type === 'seeking' && !(r.ended && e.target.currentTime === 0)) r.seeks += 1;
      r.ended = type === 'ended';
    }, true);
  }
  const clip = (el) => {
    if (typeof el === 'string') el = document.getElementById(el);
    if (!tracked(el)) return null;
    const r = record(el);
    return {id: el.id, src: r.src, heard_s: round(heard(el)),
            duration_s: Number.isFinite(el.duration) ? round(el.duration) : null,
            plays: r.plays, seeks: r.seeks, shown_ms: Math.round(performance.now() - r.shown)};
  };
  const collect = (reasonId) => {
    const clips = {};
    document.querySelectorAll('audio[id]').forEach((el) => { clips[el.id] = clip(el); });
    const box = reasonId ? document.getElementById(reasonId) : null;
    return {clips, reason: box ? box.value : ''};
  };
  document.querySelectorAll('audio[id]').forEach(record);
  window.__tdListen = {clip, collect};
}
"""


def collect_js(reason_box: str = "") -> str:
    """The expression whose value (every player's figures, and the reason box's text) a Submit or
    vote button hands its handler through ``rx.call_script(..., callback=...)``."""
    arg = f"'{reason_box}'" if reason_box else ""
    return f"(window.__tdListen ? window.__tdListen.collect({arg}) : {{clips: {{}}, reason: ''}})"


def player_report(event: rx.Var) -> tuple[rx.Var[dict[str, Any] | None]]:
    """The args of a player's media events: the tracker's figures for that player."""
    return (rx.Var(f"(window.__tdListen ? window.__tdListen.clip({str(event)}.target) : null)").to(dict),)


@dataclasses.dataclass
class ListenRule:
    """``TD_MIN_LISTEN`` as the page uses it (0: that part is not set)."""

    min_seconds: float = 0.0
    min_fraction: float = 0.0

    @property
    def on(self) -> bool:
        return self.min_seconds > 0 or self.min_fraction > 0


def rule_from(policy: schemas.ListeningPolicy) -> ListenRule:
    return ListenRule(min_seconds=policy.min_seconds or 0.0, min_fraction=policy.min_fraction or 0.0)


def needed_s(rule: ListenRule, duration: float) -> float | None:
    """Seconds of a clip to hear: the shorter of the parts that are set, at most the whole clip.

    None while that depends on a duration not known yet.
    """
    if not rule.on:
        return 0.0
    if rule.min_fraction > 0 and duration <= 0:
        return None
    need = min(x for x in (rule.min_seconds, rule.min_fraction * duration) if x > 0)
    return min(need, duration) if duration > 0 else need


def left_s(rule: ListenRule, duration: float, heard: float) -> float | None:
    """Seconds still to hear (0: enough), None while the duration it needs is unknown."""
    need = needed_s(rule, duration)
    if need is None:
        return None
    return max(0.0, need - heard) if heard + EPSILON_S < need else 0.0


def _rule_text(rule: ListenRule) -> str:
    parts = [f"{rule.min_seconds:g} s"] if rule.min_seconds > 0 else []
    if rule.min_fraction > 0:
        parts.append(f"{rule.min_fraction * 100:.0f}%")
    return " or ".join(parts)


def gate_hint(rule: ListenRule, heard: dict[str, float], durations: dict[str, float],
              players: list[tuple[str, str]]) -> str:
    """``"Listen to 1.4 s more of clip B"``; "" once every player has been heard enough.

    Args:
        rule: The team's rule.
        heard: Player id -> distinct seconds heard.
        durations: Player id -> the clip's duration (0 or absent: not known yet).
        players: (player id, how the hint names its clip) for every clip the judgement involves.
    """
    if not rule.on:
        return ""
    parts = []
    for player, label in players:
        left = left_s(rule, durations.get(player, 0.0), heard.get(player, 0.0))
        if left is None:
            parts.append(f"{_rule_text(rule)} of {label}")
        elif left > 0:
            parts.append(f"{max(math.ceil(left * 10) / 10, 0.1):.1f} s more of {label}")
    return "Listen to " + " and ".join(parts) if parts else ""


def reason_of(collected: Any) -> str | None:
    """The reason box's text that :func:`collect_js` read (None when blank)."""
    reason = collected.get("reason") if isinstance(collected, dict) else None
    return str(reason).strip()[:schemas.MAX_REASON] or None if reason else None


def listening_body(collected: dict[str, Any] | None, clips: dict[str, tuple[str, int | str]],
                   durations: dict[str, float]) -> dict[str, Any] | None:
    """The judgement's ``listening`` object from what the tracker collected.

    Args:
        collected: :func:`collect_js`'s value (None: no tracker in this tab).
        clips: Player id -> (``"audio_id"`` or ``"slot"``, its value) for the clips judged.
        durations: Player id -> the duration the page knows, for a clip whose metadata the browser
            has not read.
    """
    found = (collected or {}).get("clips") or {}
    rows, shown = [], []
    for player, (key, value) in clips.items():
        c = found.get(player)
        if not isinstance(c, dict):
            return None  # the API takes every clip of the judgement or none
        duration = float(c.get("duration_s") or durations.get(player) or 0.0)
        heard = float(c.get("heard_s") or 0.0)
        rows.append({key: value, "heard_s": round(min(heard, duration) if duration else heard, 3),
                     "duration_s": round(duration, 3), "plays": int(c.get("plays") or 0),
                     "seeks": int(c.get("seeks") or 0)})
        shown.append(int(c.get("shown_ms") or 0))
    return {"clips": rows, "decision_ms": max(shown)} if rows else None


class ListenGate(rx.State, mixin=True):
    """The gate's state for a listening page: the rule, and per player what was heard."""

    listen_rule: ListenRule = ListenRule()
    heard: dict[str, float] = {}
    heard_of: dict[str, float] = {}  # player id -> its clip's duration, as the browser measured it

    def _reset_heard(self) -> None:
        self.heard, self.heard_of = {}, {}

    def _player_src(self, player: str) -> str:
        """The clip the page shows in ``player`` now (a report about another clip is stale)."""
        raise NotImplementedError

    def _take(self, report: Any) -> None:
        if not isinstance(report, dict) or not isinstance(report.get("id"), str):
            return
        player = report["id"]
        if not report.get("src") or report["src"] != self._player_src(player):
            return
        self.heard = {**self.heard, player: float(report.get("heard_s") or 0.0)}
        if report.get("duration_s"):
            self.heard_of = {**self.heard_of, player: float(report["duration_s"])}

    def _listening(self, collected: Any, clips: dict[str, tuple[str, int | str]],
                   durations: dict[str, float] | None = None) -> dict[str, Any] | None:
        """:func:`listening_body` of the clips the page shows now (figures about others are stale)."""
        found = collected.get("clips") if isinstance(collected, dict) else None
        current = {p: c for p, c in (found or {}).items()
                   if isinstance(c, dict) and c.get("src") and c["src"] == self._player_src(p)}
        return listening_body({"clips": current}, clips, durations or {})

    def _take_all(self, collected: Any) -> None:
        """Everything :func:`collect_js` read, just before a judgement is sent."""
        if isinstance(collected, dict) and isinstance(collected.get("clips"), dict):
            for report in collected["clips"].values():
                self._take(report)

    def _show_rule(self, policy: schemas.ListeningPolicy) -> None:
        self.listen_rule = rule_from(policy)

    @rx.event
    def track(self, report: dict[str, Any] | None) -> None:
        """A player's figures while it plays (or pauses, or has read its duration)."""
        self._take(report)

    @rx.event(background=True)
    async def load_listen_rule(self):  # type: ignore[no-untyped-def]
        # A failure leaves the page's gate open: the API still applies the rule, and says so.
        await call(self, api_client, lambda api: api.listening_policy(), self._show_rule)
