"""VerdictBadge: an adapter's latest blind-evaluation verdict against the base model."""

from __future__ import annotations

import reflex as rx

_LABELS = (("better", "better than base"), ("worse", "worse than base"), ("inconclusive", "inconclusive"))
_COLOURS = (("better", "green"), ("worse", "red"), ("inconclusive", "amber"))


def verdict_badge(verdict: rx.Var[str], detail: rx.Var[str] | str = "", testid: str = "verdict-badge",
                  show_none: bool = True) -> rx.Component:
    """``verdict`` is none | better | worse | inconclusive; ``detail`` (win rate, interval) is the tooltip."""
    badge = rx.badge(
        rx.match(verdict, *_LABELS, "not evaluated"), color_scheme=rx.match(verdict, *_COLOURS, "gray"),
        variant=rx.cond(verdict == "none", "outline", "soft"), title=detail,
        custom_attrs={"data-testid": testid, "data-verdict": verdict},
    )
    return badge if show_none else rx.cond(verdict != "none", badge)
