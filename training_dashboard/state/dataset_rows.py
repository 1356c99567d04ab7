"""What the Datasets tab shows of a dataset: one row per dataset, its filter in words, and the
raters the create form offers."""

from __future__ import annotations

import dataclasses

from training_dashboard import schemas
from training_dashboard.state.api import short_date


@dataclasses.dataclass
class DatasetRow:
    id: int
    name: str
    type: str
    description: str
    sample_count: int
    created: str
    exported: bool
    export_status: str
    export_path: str
    filter_text: str


@dataclasses.dataclass
class RaterOption:
    id: int
    name: str
    selected: bool


def dataset_row(ds: schemas.DatasetPublic) -> DatasetRow:
    latest = max(ds.exports, key=lambda e: e.created_at) if ds.exports else None
    return DatasetRow(
        id=ds.id, name=ds.name, type=ds.type, description=ds.description or "", sample_count=ds.sample_count,
        created=short_date(ds.created_at), exported=latest is not None,
        export_status=f"Exported ({latest.format}, {short_date(latest.created_at)})" if latest else "Not exported",
        export_path=latest.export_path if latest else "", filter_text=filter_text(ds.filter),
    )


def filter_text(f: schemas.DatasetFilter) -> str:
    parts = []
    if f.min_rating:
        parts.append(f"rating ≥ {f.min_rating}")
    if f.required_tags:
        parts.append("tags " + ", ".join(f.required_tags))
    if f.excluded_tags:
        parts.append("not " + ", ".join(f.excluded_tags))
    if f.adapter_id is not None:
        parts.append("base model" if f.adapter_id == "base" else f"adapter #{f.adapter_id}")
    if f.start_date or f.end_date:
        parts.append(f"{f.start_date or '…'} → {f.end_date or '…'}")
    if f.rater_ids:
        parts.append("raters " + ", ".join(f"#{i}" for i in f.rater_ids))
    if f.min_raters is not None:
        parts.append(f"≥ {f.min_raters} raters")
    if f.aggregate == "clip":
        parts.append("one row per clip (mean)")
    return "; ".join(parts) or "all feedback"
