"""The measured requests and their targets (p50, ms, on the 2-core reference machine)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from bench.load import Call

TARGET_P50_MS = {
    "feedback_stats": 20, "preview_min_rating": 150, "preview_required_tag": 150, "preview_excluded_tag": 150,
    "preview_adapter": 150, "preview_date_range": 150, "preview_combined": 300, "datasets_list": 10,
    "adapters_list": 10, "feedback_page": 10, "dataset_stats": 50, "adapter_detail": 20,
    # the prompt library (issue 20): a search ≤ 20 ms, any filter combination ≤ 50 ms
    **{f"prompts_{name}": 20 for name in ("search_prefix", "search_words", "search_phrase", "search_every_prompt",
                                          "search_no_match")},
    **{f"prompts_{name}": 50 for name in ("filter_combined", "filter_adapter", "filter_favourites", "best_rated",
                                          "most_generated", "rated_newest", "facets")},
}


def prompt_searches(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The library's queries: what a person types (prefixes, words, a phrase; one word every
    prompt holds: the most rows to rank), and filters alone and combined with a search."""
    adapter = meta["adapter_ids"][0]
    return {
        "search_prefix": {"q": "marim"},
        "search_words": {"q": "dark synthw pia"},
        "search_phrase": {"q": "calm jazz piece"},
        "search_every_prompt": {"q": "piece"},
        "search_no_match": {"q": "zzzqx"},
        "filter_combined": {"q": "jazz", "style": "jazz", "mood": "calm", "min_mean_rating": 3, "rated": "true",
                            "sort": "best_rated"},
        "filter_adapter": {"adapter_id": adapter, "q": "bass", "sort": "most_generated"},
        "filter_favourites": {"favourite": "true", "sort": "newest"},
        "best_rated": {"sort": "best_rated", "min_mean_rating": 4},
        "most_generated": {"sort": "most_generated"},
        "rated_newest": {"rated": "false", "sort": "newest"},
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
    for name, query in prompt_searches(meta).items():
        calls.append(Call(f"prompts_{name}", "GET", "/api/prompts?" + urlencode(query)))
    calls.append(Call("prompts_facets", "GET", "/api/prompts/facets"))
    dataset_id = big_dataset_id or (meta.get("dataset_ids") or [None])[0]
    if dataset_id:
        calls.append(Call("dataset_stats", "GET", f"/api/datasets/{dataset_id}/stats"))
    return calls
