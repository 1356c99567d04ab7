"""Blind stays blind for raters: nothing a rater's credentials read names the model (adapter)
behind a clip they have not rated yet. Trainers and admins see everything.

Each answer is redacted after the service built it, with one query per answer ("which of
these clips has this rater rated"): the adapter id becomes None, the label says it is hidden,
and ``blinded`` is set, so a hidden adapter is never mistaken for the base model.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.services import raters
from training_dashboard.services.principal import Principal

HIDDEN = "hidden until you rate it"
M = TypeVar("M", bound=BaseModel)


def blind_rater(principal: Principal | None) -> int | None:
    """The rater whose view must be redacted, or None (trainer, admin, or a signed stream URL)."""
    if principal is None or principal.has("trainer"):
        return None
    return principal.rater_id


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if "adapter" not in k and "lora" not in k}


def _hide(item: M, **extra: Any) -> M:
    return item.model_copy(update={"adapter_id": None, "adapter_label": HIDDEN, "blinded": True, **extra})


def briefs(db: Database, principal: Principal | None, items: list[M]) -> list[M]:
    """Clips (``AudioBrief`` and its kinds): the unrated ones lose their adapter."""
    rater_id = blind_rater(principal)
    if rater_id is None or not items:
        return items
    rated = raters.rated_among(db, rater_id, [i.id for i in items])  # type: ignore[attr-defined]
    return [i if i.id in rated else _hide(i) for i in items]  # type: ignore[attr-defined]


def audio(db: Database, principal: Principal | None, item: schemas.AudioPublic) -> schemas.AudioPublic:
    rater_id = blind_rater(principal)
    if rater_id is None or raters.rated_among(db, rater_id, [item.id]):
        return item
    return _hide(item, adapter=None, params=_params(item.params))


def jobs(db: Database, principal: Principal | None, items: list[M]) -> list[M]:
    """Jobs (``JobSummary`` / ``JobPublic``): the adapter shows only once every clip of the job is rated."""
    rater_id = blind_rater(principal)
    if rater_id is None or not items:
        return items
    rated = raters.rated_among(db, rater_id, [a for i in items for a in i.audio_ids])  # type: ignore[attr-defined]
    out = []
    for item in items:
        ids = item.audio_ids  # type: ignore[attr-defined]
        if ids and all(a in rated for a in ids):
            out.append(item)
        else:
            update: dict[str, Any] = {"adapter_id": None, "blinded": True,
                                      "params": _params(item.params)}  # type: ignore[attr-defined]
            if hasattr(item, "adapter_label"):
                update["adapter_label"] = HIDDEN
            out.append(item.model_copy(update=update))
    return out
