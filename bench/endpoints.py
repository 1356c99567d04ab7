"""The measured requests and their targets (p50, ms, on the 2-core reference machine)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bench.load import Call

TARGET_P50_MS = {
    "feedback_stats": 20, "preview_min_rating": 150, "preview_required_tag": 150, "preview_excluded_tag": 150,
    "preview_adapter": 150, "preview_date_range": 150, "preview_combined": 300, "datasets_list": 10,
    "adapters_list": 10, "feedback_page": 10, "dataset_stats": 50, "adapter_detail": 20,
}


def preview_filters(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One filter per field alone, and all combined (most frequent tags: the worst case)."""
    tags = meta["tags_by_frequency"]
    start = date.fromisoformat(meta["window_start"]) + timedelta(days=30)
    dates = {"start_date": start.isoformat(), "end_date": (start + timedelta(days=29)).isoformat()}
    adapter = meta["adapter_ids"][0]
    return {
        "preview_min_rating": {"min_rating": 4},
        "preview_required_tag": {"required_tags": [tags[0]]},
        "preview_excluded_tag": {"excluded_tags": [tags[1]]},
        "preview_adapter": {"adapter_id": adapter},
        "preview_date_range": dates,
        "preview_combined": {"min_rating": 4, "required_tags": [tags[0]], "excluded_tags": [tags[1]],
                             "adapter_id": adapter, **dates},
    }


def feedback_page_query(meta: dict[str, Any]) -> dict[str, Any]:
    return {"adapter_id": meta["adapter_ids"][0], "min_rating": 4, "page": 2, "limit": 50}


def endpoint_calls(meta: dict[str, Any], big_dataset_id: int | None) -> list[Call]:
    """Every measured request; ``big_dataset_id`` is the runner's ~500k snapshot (if made)."""
    calls = [Call("feedback_stats", "GET", "/api/feedback/stats")]
    for name, flt in preview_filters(meta).items():
        calls.append(Call(name, "POST", "/api/datasets/preview", {"type": "supervised", "filter": flt}))
    q = "&".join(f"{k}={v}" for k, v in feedback_page_query(meta).items())
    calls += [
        Call("datasets_list", "GET", "/api/datasets?page=1&limit=20"),
        Call("adapters_list", "GET", "/api/adapters"),
        Call("feedback_page", "GET", f"/api/feedback?{q}"),
        Call("adapter_detail", "GET", f"/api/adapters/{meta['adapter_ids'][0]}"),
    ]
    dataset_id = big_dataset_id or (meta.get("dataset_ids") or [None])[0]
    if dataset_id:
        calls.append(Call("dataset_stats", "GET", f"/api/datasets/{dataset_id}/stats"))
    return calls
