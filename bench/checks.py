"""Exactness: API answers compared with counts written directly in SQL.

The SQL here is deliberately phrased differently from the services (``IN`` instead of
``EXISTS``, plain strings for dates) so a shared mistake cannot hide.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine


def open_engine(url: str) -> Engine:
    return create_engine(url)


def _bound(engine: Engine, d: date) -> str:
    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) strings; PostgreSQL timestamptz.
    return d.isoformat() if engine.dialect.name == "sqlite" else f"{d.isoformat()} 00:00:00+00"


def rating_count_sql(engine: Engine, flt: dict[str, Any]) -> int:
    where, params = ["1=1"], {}
    if flt.get("min_rating") is not None:
        where.append("r.rating >= :min_rating")
        params["min_rating"] = flt["min_rating"]
    if flt.get("adapter_id") == "base":
        where.append("r.adapter_id IS NULL")
    elif flt.get("adapter_id") is not None:
        where.append("r.adapter_id = :adapter_id")
        params["adapter_id"] = flt["adapter_id"]
    if flt.get("start_date"):
        where.append("r.created_at >= :start")
        params["start"] = _bound(engine, date.fromisoformat(flt["start_date"]))
    if flt.get("end_date"):
        where.append("r.created_at < :end")
        params["end"] = _bound(engine, date.fromisoformat(flt["end_date"]) + timedelta(days=1))
    for i, tag in enumerate(flt.get("required_tags", [])):
        where.append(f"r.id IN (SELECT rating_id FROM rating_tag WHERE tag = :req{i})")
        params[f"req{i}"] = tag
    if flt.get("excluded_tags"):
        names = ", ".join(f":ex{i}" for i in range(len(flt["excluded_tags"])))
        where.append(f"r.id NOT IN (SELECT rating_id FROM rating_tag WHERE tag IN ({names}))")
        params.update({f"ex{i}": t for i, t in enumerate(flt["excluded_tags"])})
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM rating r WHERE {' AND '.join(where)}"), params).scalar())


def scalar(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar() or 0)


def stats_checks(engine: Engine, stats: dict[str, Any]) -> list[dict[str, Any]]:
    dist = {}
    with engine.connect() as conn:
        for rating, n in conn.execute(text("SELECT rating, COUNT(*) FROM rating GROUP BY rating")):
            dist[str(rating)] = int(n)
    return [
        check("stats.total_feedback", stats["total_feedback"], scalar(engine, "SELECT COUNT(*) FROM rating")),
        check("stats.rating_distribution", stats["rating_distribution"],
              {str(r): dist.get(str(r), 0) for r in range(1, 6)}),
        check("stats.preference_pairs", stats["preference_pairs"],
              scalar(engine, "SELECT COUNT(*) FROM preference WHERE NOT tie")),
        check("stats.ties", stats["ties"], scalar(engine, "SELECT COUNT(*) FROM preference WHERE tie")),
        check("stats.rated_samples", stats["rated_samples"],
              scalar(engine, "SELECT COUNT(DISTINCT audio_id) FROM rating")),
    ]


def adapter_checks(engine: Engine, adapter_id: int, detail: dict[str, Any]) -> list[dict[str, Any]]:
    usage = detail["usage"]
    other = "(rejected_adapter_id IS NULL OR rejected_adapter_id <> :a)"
    return [
        check(f"adapter {adapter_id} samples_generated", usage["samples_generated"],
              scalar(engine, "SELECT COUNT(*) FROM audio_sample WHERE adapter_id = :a", a=adapter_id)),
        check(f"adapter {adapter_id} ratings", usage["ratings"],
              scalar(engine, "SELECT COUNT(*) FROM rating WHERE adapter_id = :a", a=adapter_id)),
        check(f"adapter {adapter_id} preference_wins", usage["preference_wins"],
              scalar(engine, f"SELECT COUNT(*) FROM preference WHERE chosen_adapter_id = :a AND {other} AND NOT tie",
                     a=adapter_id)),
    ]


def check(name: str, api: Any, sql: Any) -> dict[str, Any]:
    return {"name": name, "api": api, "sql": sql, "ok": api == sql}


def prompt_checks(engine: Engine, searches: dict[str, dict[str, Any]], api_get: Any) -> list[dict[str, Any]]:
    """The library's answers against the rows: a page's counters recomputed from the clips and
    ratings, and search totals against a plain LIKE / attribute count (the seeded prompts'
    words: "A <mood> <style> piece at <tempo> BPM with <instruments> (#<n>)")."""
    out = []
    page = api_get("/api/prompts", {"sort": "best_rated", "limit": 20})
    for hit in page["items"]:
        with engine.connect() as conn:
            clips = conn.execute(text("SELECT COUNT(*) FROM audio_sample WHERE prompt_id = :p"),
                                 {"p": hit["id"]}).scalar()
            n, total = conn.execute(text("SELECT COUNT(*), COALESCE(SUM(rating), 0) FROM rating WHERE prompt_id = :p"),
                                    {"p": hit["id"]}).one()
        mean = round(total / n, 3) if n else None
        out.append(check(f"prompt {hit['id']} generated/ratings/mean", [hit["generated"], hit["rating_count"],
                                                                        hit["mean_rating"]], [clips, n, mean]))
    out.append(check("prompts_search_prefix.total", api_get("/api/prompts", searches["search_prefix"])["total"],
                     scalar(engine, "SELECT COUNT(*) FROM prompt WHERE lower(text) LIKE '%marim%'")))
    out.append(check("prompts_search_phrase.total", api_get("/api/prompts", searches["search_phrase"])["total"],
                     scalar(engine, "SELECT COUNT(*) FROM prompt WHERE style = 'jazz' AND mood = 'calm'")))
    out.append(check("prompts_search_every_prompt.total",
                     api_get("/api/prompts", searches["search_every_prompt"])["total"],
                     scalar(engine, "SELECT COUNT(*) FROM prompt")))
    return out
