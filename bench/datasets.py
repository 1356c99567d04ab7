"""The seeded datasets: frozen through the real snapshot service, with varied filters."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np


def dataset_filters(n: int, meta: dict[str, Any], rng: np.random.Generator) -> list[tuple[str, dict[str, Any]]]:
    """``n`` (type, filter) pairs: mostly supervised, every fifth a preference dataset.

    Date windows are 2-20 days, so most snapshots hold 10k-200k ratings at full scale.
    """
    start, end = date.fromisoformat(meta["window_start"]), date.fromisoformat(meta["window_end"])
    span = (end - start).days
    tags = meta["tags_by_frequency"]
    adapters: list[int | str] = [*meta["adapter_ids"], "base"]
    out: list[tuple[str, dict[str, Any]]] = []
    for i in range(n):
        length = int(rng.integers(2, 21))
        first = start + timedelta(days=int(rng.integers(0, max(1, span - length))))
        flt: dict[str, Any] = {"start_date": first.isoformat(),
                               "end_date": min(end, first + timedelta(days=length - 1)).isoformat()}
        if rng.random() < 0.5:
            flt["adapter_id"] = adapters[int(rng.integers(0, len(adapters)))]
        if i % 5 == 4:
            out.append(("preference", flt))
            continue
        flt["min_rating"] = int(rng.integers(3, 6))
        if rng.random() < 0.3:
            flt["required_tags"] = [tags[int(rng.integers(0, 10))]]
        if rng.random() < 0.3:
            flt["excluded_tags"] = [t for t in [tags[int(rng.integers(10, len(tags)))]] if t not in
                                    flt.get("required_tags", [])]
        out.append(("supervised", flt))
    return out


def seed_datasets(db, n: int, meta: dict[str, Any], rng: np.random.Generator) -> list[int]:  # type: ignore[no-untyped-def]
    from training_dashboard import schemas
    from training_dashboard.services.datasets import snapshot_dataset

    ids = []
    for i, (kind, flt) in enumerate(dataset_filters(n, meta, rng)):
        data = schemas.DatasetCreate(name=f"bench-{i + 1:02d}-{kind}", description="seeded by bench.seed",
                                     type=kind, filter=schemas.DatasetFilter.model_validate(flt))
        ids.append(snapshot_dataset(db, data).id)
    return ids
