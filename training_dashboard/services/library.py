"""The prompt library (issue 20): full-text search over every prompt, the filter facets, favourites.

Search runs on the database's own full-text engine (migration 0012): SQLite's FTS5 table
``prompt_fts`` or PostgreSQL's ``prompt.search_vector``. The query's words are matched as
prefixes ("arpeg" finds "arpeggio"), all of them, case- and accent-insensitively (each engine
folds the query with the same tokenizer or ``unaccent`` it folded the prompts with).
Relevance: prompts holding the words as one phrase (in order, side by side) first, then the
engine's own score (FTS5 bm25, PostgreSQL ts_rank; the text weighs more than the
attributes), then newest. The counters a hit shows and sorts by (clips generated, ratings,
mean rating) are columns of ``prompt`` that triggers keep, so a page costs one statement
for the hits, one for the total and one for the last generation of the trainer's page.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import AudioSample, GenerationJob, Prompt, PromptFavourite, utcnow
from training_dashboard.services.errors import NotFound

P, F = Prompt, PromptFavourite
TOKEN_RE = re.compile(r"[^\W_]+")
MAX_TOKENS = 12
MAX_TOKEN_CHARS = 64
FACETS = 12

_FTS = sa.table("prompt_fts", sa.column("rowid", sa.Integer))
_SEARCH_VECTOR = sa.column("search_vector")
_COLUMNS = (P.id, P.text, P.style, P.tempo, P.instruments, P.mood, P.created_at, P.sample_count, P.rating_count,
            P.mean_rating)


def query_tokens(q: str | None) -> list[str]:
    """The words of a search: letters and digits of any script, at most 12 of at most 64 characters."""
    if not q:
        return []
    return [t[:MAX_TOKEN_CHARS] for t in TOKEN_RE.findall(unicodedata.normalize("NFC", q))][:MAX_TOKENS]


def _text_match(db: Database, tokens: list[str]) -> tuple[list[Any], Any, dict[str, str]]:
    """(where clauses, relevance order, bound values) of the full-text part of a search."""
    if db.is_sqlite:
        values = {"match": " AND ".join(f'"{t}"*' for t in tokens), "phrase": f'"{" ".join(tokens)}"*'}
        where = [sa.text("prompt_fts MATCH :match")]
        order = [sa.text("bm25(prompt_fts, 1.0, 0.4)"), P.id.desc()]
        if len(tokens) > 1:
            order.insert(0, P.id.in_(select(_FTS.c.rowid).where(sa.text("prompt_fts MATCH :phrase"))).desc())
        else:
            del values["phrase"]
        return where, order, values
    values = {"match": " & ".join(f"'{t}':*" for t in tokens), "phrase": " <-> ".join(f"'{t}'" for t in tokens) + ":*"}
    match = func.to_tsquery(sa.literal_column("'simple'"), func.unaccent(sa.bindparam("match")))
    phrase_q = func.to_tsquery(sa.literal_column("'simple'"), func.unaccent(sa.bindparam("phrase")))
    where = [_SEARCH_VECTOR.op("@@")(match)]
    order = [_SEARCH_VECTOR.op("@@")(phrase_q).desc(), func.ts_rank(_SEARCH_VECTOR, match).desc(), P.id.desc()]
    return where, order, values


_SORTS = {
    "newest": (P.id.desc(),),
    "best_rated": (P.mean_rating.desc(), P.rating_count.desc(), P.id.desc()),
    "most_generated": (P.sample_count.desc(), P.id.desc()),
}


def search_prompts(db: Database, query: schemas.PromptQuery, user_id: int, *,
                   with_generation: bool) -> schemas.Page[schemas.PromptHit]:
    """One page of prompts matching ``query``; ``favourite`` is ``user_id``'s star;
    ``with_generation`` adds each hit's last completed job (it names the adapter: trainers only)."""
    tokens = query_tokens(query.q)
    where: list[Any] = []
    values: dict[str, Any] = {}
    order: list[Any] = list(_SORTS.get(query.sort, _SORTS["newest"]))
    base = select(func.count()).select_from(P)
    page = select(*_COLUMNS, exists().where(F.user_id == user_id, F.prompt_id == P.id).label("favourite"))
    if tokens:
        text_where, relevance, values = _text_match(db, tokens)
        where += text_where
        if query.sort == "relevance":
            order = relevance
        if db.is_sqlite:
            base = base.join(_FTS, _FTS.c.rowid == P.id)
            page = page.join(_FTS, _FTS.c.rowid == P.id)
    if query.style:
        where.append(func.lower(P.style) == query.style.lower())
    if query.mood:
        where.append(func.lower(P.mood) == query.mood.lower())
    if query.adapter_id is not None:
        where.append(P.id.in_(select(AudioSample.prompt_id).where(AudioSample.adapter_id == query.adapter_id)))
    if query.min_mean_rating is not None:
        where += [P.rating_count > 0, P.mean_rating >= query.min_mean_rating]
    if query.rated is not None:
        where.append(P.rating_count > 0 if query.rated else P.rating_count == 0)
    if query.favourite is not None:
        mine = exists().where(F.user_id == user_id, F.prompt_id == P.id)
        where.append(mine if query.favourite else ~mine)
    with db.session() as session:
        conn = session.connection()
        total = conn.scalar(base.where(*where), values) or 0
        rows = conn.execute(page.where(*where).order_by(*order).offset((query.page - 1) * query.limit)
                            .limit(query.limit), values).all()
        generations = _last_generations(conn, [r.id for r in rows]) if with_generation and rows else {}
    items = [{
        "id": r.id, "text": r.text, "created_at": r.created_at,
        "attributes": {"style": r.style, "tempo": r.tempo, "mood": r.mood, "instruments": list(r.instruments or [])},
        "generated": r.sample_count, "rating_count": r.rating_count,
        "mean_rating": round(r.mean_rating, 3) if r.rating_count else None, "favourite": bool(r.favourite),
        "last_generation": generations.get(r.id),
    } for r in rows]
    return schemas.Page[schemas.PromptHit].model_validate({"items": items, "total": total})


def _last_generations(conn: sa.Connection, prompt_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per prompt, its newest completed job: adapter, clip count, settings and its first clip's seed."""
    J = GenerationJob
    newest = (select(func.max(J.id)).where(J.prompt_id.in_(prompt_ids), J.status == "completed")
              .group_by(J.prompt_id))
    jobs = conn.execute(select(J.id, J.prompt_id, J.adapter_id, J.num_samples, J.params).where(J.id.in_(newest))).all()
    if not jobs:
        return {}
    seeds: dict[int, int] = {}
    for job_id, seed in conn.execute(select(AudioSample.job_id, AudioSample.seed)
                                     .where(AudioSample.job_id.in_([j.id for j in jobs])).order_by(AudioSample.id)):
        seeds.setdefault(job_id, seed)
    return {j.prompt_id: {"job_id": j.id, "adapter_id": j.adapter_id, "num_samples": j.num_samples,
                          "params": dict(j.params or {}), "seed": seeds.get(j.id, (j.params or {}).get("seed"))}
            for j in jobs}


def _facet(conn: sa.Connection, column: Any) -> list[dict[str, Any]]:
    n = func.count().label("n")
    rows = conn.execute(select(func.min(column).label("value"), n).where(column.is_not(None), column != "")
                        .group_by(func.lower(column)).order_by(n.desc(), func.min(column)).limit(FACETS)).all()
    return [{"value": value, "count": count} for value, count in rows]


def facets(db: Database) -> schemas.PromptFacets:
    """The most used styles and moods (case-insensitively grouped), most used first."""
    with db.session() as session:
        conn = session.connection()
        return schemas.PromptFacets.model_validate({"styles": _facet(conn, P.style), "moods": _facet(conn, P.mood)})


def set_favourite(db: Database, user_id: int, prompt_id: int, favourite: bool) -> schemas.FavouriteState:
    """Star (or unstar) a prompt for one person; doing it twice changes nothing."""

    def run(session) -> None:  # type: ignore[no-untyped-def]
        if session.get(P, prompt_id) is None:
            raise NotFound(f"Prompt {prompt_id} not found")
        if not favourite:
            session.execute(delete(F).where(F.user_id == user_id, F.prompt_id == prompt_id))
            return
        dialect = sqlite if db.is_sqlite else postgresql
        session.execute(dialect.insert(F).values(user_id=user_id, prompt_id=prompt_id, created_at=utcnow())
                        .on_conflict_do_nothing(index_elements=["user_id", "prompt_id"]))

    db.write(run)
    return schemas.FavouriteState(prompt_id=prompt_id, favourite=favourite)


def favourite_ids(db: Database, user_id: int, prompt_ids: list[int]) -> set[int]:
    """Which of ``prompt_ids`` ``user_id`` has starred."""
    if not prompt_ids:
        return set()
    with db.session() as session:
        return set(session.scalars(select(F.prompt_id).where(F.user_id == user_id, F.prompt_id.in_(prompt_ids))))
