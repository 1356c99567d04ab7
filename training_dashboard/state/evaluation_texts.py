"""What the Evaluations panel says beyond the win rate: the Evaluate dialog's planner (what a number
of pairs can detect, the pairs an expected win rate needs) and the verdict from attentive votes only."""

from __future__ import annotations

from training_dashboard import schemas
from training_dashboard.client import ApiClient

ATTENTIVE_HEARD = 0.5  # a vote counts as attentive when both clips were heard at least this share


def pct(value: float | None) -> str:
    return f"{value * 100:.0f}%" if value is not None else "—"


def p_text(p: float | None) -> str:
    if p is None:
        return "p —"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def attentive_text(a: schemas.AttentiveResult) -> str:
    """The verdict recomputed from attentive votes, for beside the full one."""
    head = f"Attentive votes only (both clips ≥ {a.min_heard * 100:.0f}% heard): "
    if not a.votes:
        return head + f"none · {a.dropped} vote(s) left out"
    return (head + f"win rate {pct(a.win_rate)} over {a.candidate_wins + a.baseline_wins} decisive vote(s), "
            f"{a.ties} tie(s) · {p_text(a.p_value)} · {a.dropped} vote(s) left out")


async def attentive_of(api: ApiClient, page: schemas.Page[schemas.EvaluationPublic],
                       known: set[int]) -> dict[int, list[str]]:
    """[text, verdict] of the attentive-only result of each completed evaluation not in ``known``
    (a completed evaluation takes no more votes, so it is read once)."""
    found = {}
    for e in page.items:
        if e.status == "completed" and e.id not in known:
            a = (await api.get_evaluation(e.id, min_heard=ATTENTIVE_HEARD)).attentive
            found[e.id] = [attentive_text(a), a.verdict] if a else ["", ""]
    return found


def win_rate_value(text: str) -> float | None:
    """The expected win rate typed in the dialog: ``0.65`` or ``65%`` (None unless 0.5 < p < 1)."""
    text = text.strip()
    value = schemas.parse_float(text.removesuffix("%"), 0, 100)
    if value is None:
        return None
    if text.endswith("%") or value > 1:
        value /= 100
    return value if 0.5 < value < 1 else None


def plan_texts(plan: schemas.EvaluationPlan) -> tuple[str, str, str]:
    """The dialog's planner: what the pairs can detect, what the expected win rate needs, and the
    assumptions behind both."""
    power = f"{plan.power * 100:.0f} % power"
    if plan.detectable_win_rate is None:
        can = f"With {plan.pairs} pairs not even a clean sweep would be significant ({power})."
    else:
        can = (f"With {plan.pairs} pairs you can detect a win rate of {plan.detectable_win_rate:.2f} or more "
               f"({power}).")
    needs = ""  # follows "If you expect a win rate of [0.65]"
    if plan.expected_win_rate is not None:
        if plan.pairs_needed is None:
            needs = f"you need more than {plan.max_pairs} pairs."
        elif plan.pairs_needed <= plan.pairs:
            needs = f"you need {plan.pairs_needed} pairs: your {plan.pairs} are enough."
        else:
            needs = f"you need {plan.pairs_needed} pairs."
    past = (f"the tie rate of past evaluations ({plan.tie_rate * 100:.0f} %, {plan.past_evaluations})"
            if plan.past_evaluations else f"{plan.tie_rate * 100:.0f} % ties (no past evaluations yet)")
    note = f"Exact sign test, two-sided {plan.alpha * 100:g} %, assuming {past}."
    return can, needs, note
