"""The evaluation gate on activating adapters, and each adapter's latest verdict.

With ``TD_REQUIRE_EVALUATION`` an adapter is activated only when its latest completed blind
evaluation against the base model says "better", unless forced with a reason that is kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import Adapter, Evaluation, utcnow
from training_dashboard.services.errors import Conflict, NotFound


def latest_verdicts(session: Session, adapter_ids: Iterable[int]) -> dict[int, schemas.AdapterVerdict]:
    """Each adapter's latest completed evaluation against the base model, in one query."""
    ids = list(set(adapter_ids))
    if not ids:
        return {}
    latest = (select(func.max(Evaluation.id)).where(
        Evaluation.candidate_id.in_(ids), Evaluation.baseline_id.is_(None), Evaluation.status == "completed")
        .group_by(Evaluation.candidate_id))
    return {
        e.candidate_id: schemas.AdapterVerdict(
            verdict=e.verdict or "inconclusive", evaluation_id=e.id, win_rate=e.win_rate, ci_low=e.ci_low,
            ci_high=e.ci_high, p_value=e.p_value, votes=e.votes)
        for e in session.scalars(select(Evaluation).where(Evaluation.id.in_(latest)))
    }


def gate_reason(session: Session, adapter: Adapter) -> str | None:
    """Why the evaluation gate refuses to activate this adapter; None when it may be activated."""
    verdict = latest_verdicts(session, [adapter.id or 0]).get(adapter.id or 0)
    label = f"Adapter '{adapter.name}' {adapter.version}"
    how = ("evaluate it against the base model, or activate with force and a reason "
           '({"force": true, "reason": "..."})')
    if verdict is None:
        return f"{label} has no completed evaluation against the base model (TD_REQUIRE_EVALUATION is on): {how}"
    if verdict.verdict != "better":
        interval = (f", 95% CI {verdict.ci_low:.2f}-{verdict.ci_high:.2f}"
                    if verdict.ci_low is not None and verdict.ci_high is not None else "")
        rate = f"win rate {verdict.win_rate:.2f}" if verdict.win_rate is not None else "no decisive votes"
        return (f"{label}: its latest evaluation against the base model (#{verdict.evaluation_id}) is "
                f"'{verdict.verdict}' ({rate}{interval}), not 'better' (TD_REQUIRE_EVALUATION is on): {how}")
    return None


def activate_adapter(db: Database, adapter_id: int, *, require_evaluation: bool, force: bool = False,
                     reason: str | None = None, actor_id: int | None = None) -> bool:
    """Activate an adapter. With ``require_evaluation`` the latest completed evaluation against
    the base model must say "better", unless ``force`` with a ``reason`` (kept on the adapter, with
    who forced it). Records ``actor_id`` as the activator. Returns whether the gate was overridden.

    Raises:
        NotFound: unknown adapter.
        Conflict: the gate refuses (the message says why).
    """

    def run(session: Session) -> bool:
        adapter = session.get(Adapter, adapter_id)
        if adapter is None:
            raise NotFound(f"Adapter {adapter_id} not found")
        now = utcnow()
        forced = False
        if require_evaluation:
            refused = gate_reason(session, adapter)
            if refused and not force:
                raise Conflict(refused)
            forced = refused is not None
            if refused:
                adapter.forced_activation_reason, adapter.forced_activation_at = reason, now
                adapter.forced_by = actor_id
            else:  # earned: an earlier override no longer describes this activation
                adapter.forced_activation_reason, adapter.forced_activation_at, adapter.forced_by = None, None, None
        adapter.is_active, adapter.updated_at, adapter.activated_by = True, now, actor_id
        return forced

    return db.write(run)


def require_gate(db: Database, adapter_id: int) -> None:
    """Raise Conflict when the evaluation gate refuses this adapter (for other activation routes)."""
    with db.session() as session:
        adapter = session.get(Adapter, adapter_id)
        if adapter is None:
            raise NotFound(f"Adapter {adapter_id} not found")
        if adapter.is_active:
            return
        refused = gate_reason(session, adapter)
    if refused:
        raise Conflict(refused)
