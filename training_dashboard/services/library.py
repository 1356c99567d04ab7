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
from functools import cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Select, delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import AudioSample, GenerationJob, Prompt, PromptFavourite, PromptStats, utcnow
from training_dashboard.services.errors import NotFound

P, F, S = Prompt, PromptFavourite, PromptStats
TOKEN_RE = re.compile(r"[^\W_]+")
MAX_TOKENS = 12
MAX_TOKEN_CHARS = 64
FACETS = 12

_FTS = sa.table("prompt_fts", sa.column("rowid", sa.Integer))
_SEARCH_VECTOR = sa.column("search_vector")
_ROW = (select(P.id, P.text, P.style, P.tempo, P.instruments, P.mood, P.created_at, S.sample_count, S.rating_count,
               S.mean_rating, exists().where(F.user_id == sa.bindparam("user"), F.prompt_id == P.id).label("favourite"))
        .join(S, S.prompt_id == P.id).where(P.id.in_(sa.bindparam("ids", expanding=True))))
# Relevance ranks at most this many matches (the newest): past a few thousand, a word most prompts
# hold says little about which one is meant, and the engines' scoring costs ~0.6 µs a match.
RANKED = 2000


def query_tokens(q: str | None) -> list[str]:
    """The words of a search: letters and digits of any script, at most 12 of at most 64 characters."""
    if not q:
        return []
    return [t[:MAX_TOKEN_CHARS] for t in TOKEN_RE.findall(unicodedata.normalize("NFC", q))][:MAX_TOKENS]


def _match_values(sqlite_: bool, tokens: list[str]) -> dict[str, str]:
    if sqlite_:
        return {"match": " AND ".join(f'"{t}"*' for t in tokens), "phrase": f'"{" ".join(tokens)}"*'}
    return {"match": " & ".join(f"'{t}':*" for t in tokens), "phrase": " <-> ".join(f"'{t}'" for t in tokens) + ":*"}


def _tsquery(name: str) -> Any:
    """The PostgreSQL query of bound value ``name``, folded like the prompts (``unaccent``), as a
    scalar subquery: computed once per statement (inline, unaccent and to_tsquery ran per row,
    ~1 µs each: a word every prompt holds took 22 ms to count, 7.6 ms this way)."""
    return select(func.to_tsquery(sa.literal_column("'simple'"), func.unaccent(sa.bindparam(name)))).scalar_subquery()


class _Shape(NamedTuple):
    """What a search's statements depend on (their values are bound): one cached pair per shape."""

    sqlite: bool
    words: int  # 0, 1 or 2 (several: the phrase ranks first)
    sort: str
    style: bool
    mood: bool
    adapter: bool
    min_mean: bool
    rated: bool | None
    favourite: bool | None


class _Statements(NamedTuple):
    count: Select  # type: ignore[type-arg]  # the total; on PostgreSQL with words also the RANKED-th newest match
    page: Select  # type: ignore[type-arg]  # a page of ids in the shape's order
    floor: Select  # type: ignore[type-arg]  # SQLite: the RANKED-th newest match
    ranked: Select  # type: ignore[type-arg]  # past RANKED matches: the newest RANKED (id >= floor) by relevance
    rest: Select  # type: ignore[type-arg]  # past RANKED matches: the older ones, newest first


@cache
def _statements(shape: _Shape) -> _Statements:
    """The statements of one shape, built once (compiling one costs ~1 ms)."""
    where: list[Any] = []
    fts = shape.sqlite and shape.words > 0
    prompt_columns = shape.style or shape.mood or (shape.words > 0 and not shape.sqlite)
    stats_filter = shape.min_mean or shape.rated is not None
    stats_sort = shape.sort in ("best_rated", "most_generated")
    # The id column the statements read: the full-text table's, the prompt's, or (no words, no
    # prompt columns) the stats row's, whose indexes then serve the sorts.
    key = _FTS.c.rowid if fts else P.id if prompt_columns else S.prompt_id
    if shape.words:
        if shape.sqlite:
            where.append(sa.text("prompt_fts MATCH :match"))
        else:
            where.append(_SEARCH_VECTOR.op("@@")(_tsquery("match")))
    if shape.style:
        where.append(func.lower(P.style) == sa.bindparam("style"))
    if shape.mood:
        where.append(func.lower(P.mood) == sa.bindparam("mood"))
    # With words on SQLite the full-text matches drive (an IN on their rowid would evaluate the
    # MATCH once per listed id: 1.6 s for an adapter's clips), each then checked in an index.
    if shape.adapter:
        clips = AudioSample.adapter_id == sa.bindparam("adapter")
        where.append(exists().where(clips, AudioSample.prompt_id == key) if fts
                     else key.in_(select(AudioSample.prompt_id).where(clips)))
    if shape.min_mean:
        where += [S.rating_count > 0, S.mean_rating >= sa.bindparam("min_mean")]
    if shape.rated is not None:
        where.append(S.rating_count > 0 if shape.rated else S.rating_count == 0)
    if shape.favourite is not None:
        if shape.favourite and not fts:  # from the person's stars (a few) to the prompts
            where.append(key.in_(select(F.prompt_id).where(F.user_id == sa.bindparam("user"))))
        elif shape.favourite:
            where.append(exists().where(F.user_id == sa.bindparam("user"), F.prompt_id == key))
        else:
            where.append(~exists().where(F.user_id == sa.bindparam("user"), F.prompt_id == key))

    def source(statement: Select, sorted_by_stats: bool = False) -> Select:  # type: ignore[type-arg]
        stats = stats_filter or sorted_by_stats
        if fts:
            statement = statement.select_from(_FTS)
            if prompt_columns:
                statement = statement.join(P, P.id == key)
            return statement.join(S, S.prompt_id == key) if stats else statement
        if key is P.id:
            statement = statement.select_from(P)
            return statement.join(S, S.prompt_id == P.id) if stats else statement
        return statement.select_from(S)

    count = source(select(func.count())).where(*where)
    if shape.words and not shape.sqlite:  # the floor from the same scan of the matches (a second took 7 ms)
        newest_first = sa.type_coerce(func.array_agg(postgresql.aggregate_order_by(key, key.desc())),
                                      postgresql.ARRAY(sa.Integer))
        count = count.add_columns(newest_first[sa.bindparam("ranked_at", type_=sa.Integer)])
    order: list[Any] = {"newest": [key.desc()], "best_rated": [S.mean_rating.desc(), S.rating_count.desc(), key.desc()],
                        "most_generated": [S.sample_count.desc(), key.desc()]}.get(shape.sort, [key.desc()])
    ranked_order = order
    if shape.words and shape.sort == "relevance":
        if shape.sqlite:
            phrase = key.in_(select(_FTS.c.rowid).where(sa.text("prompt_fts MATCH :phrase")))
            score: Any = sa.text("bm25(prompt_fts, 1.0, 0.4)")  # lower is better
        else:
            phrase = _SEARCH_VECTOR.op("@@")(_tsquery("phrase"))
            score = -func.ts_rank(_SEARCH_VECTOR, _tsquery("match"))
        ranked_order = [phrase.desc()] if shape.words > 1 else []
        ranked_order += [score, key.desc()]

    def paged(statement: Select) -> Select:  # type: ignore[type-arg]
        return statement.offset(sa.bindparam("offset")).limit(sa.bindparam("limit"))

    ids = source(select(key), stats_sort).where(*where)
    return _Statements(
        count=count, page=paged(ids.order_by(*ranked_order)),
        floor=source(select(key)).where(*where).order_by(key.desc()).offset(sa.bindparam("ranked")).limit(1),
        ranked=paged(ids.where(key >= sa.bindparam("floor")).order_by(*ranked_order)),
        rest=paged(ids.where(key < sa.bindparam("floor")).order_by(key.desc())))


def search_prompts(db: Database, query: schemas.PromptQuery, user_id: int, *,
                   with_generation: bool) -> schemas.Page[schemas.PromptHit]:
    """One page of prompts matching ``query``; ``favourite`` is ``user_id``'s star;
    ``with_generation`` adds each hit's last completed job (it names the adapter: trainers only)."""
    tokens = query_tokens(query.q)
    values: dict[str, Any] = {"user": user_id, "style": (query.style or "").lower(), "mood": (query.mood or "").lower(),
                              "adapter": query.adapter_id, "min_mean": query.min_mean_rating,
                              "offset": (query.page - 1) * query.limit, "limit": query.limit}
    if tokens:
        values |= _match_values(db.is_sqlite, tokens)
    shape = _Shape(db.is_sqlite, min(len(tokens), 2), query.sort, bool(query.style), bool(query.mood),
                   query.adapter_id is not None, query.min_mean_rating is not None, query.rated, query.favourite)
    statements = _statements(shape)
    with db.session() as session:
        conn = session.connection()
        counted = conn.execute(statements.count, values | {"ranked_at": RANKED}).one()
        total = counted[0] or 0
        if not total:
            ids: list[int] = []
        elif not (tokens and query.sort == "relevance" and total > RANKED):
            ids = list(conn.scalars(statements.page, values))
        else:  # the newest RANKED matches by relevance, then the older ones newest first
            floor = counted[1] if len(counted) > 1 else conn.scalar(statements.floor, values | {"ranked": RANKED - 1})
            offset = values["offset"]
            first = min(query.limit, max(0, RANKED - offset))
            ids = list(conn.scalars(statements.ranked, values | {"floor": floor, "limit": first})) if first else []
            if len(ids) < query.limit:
                ids += conn.scalars(statements.rest, values | {"floor": floor, "offset": max(0, offset - RANKED),
                                                               "limit": query.limit - len(ids)})
        rows = {r.id: r for r in conn.execute(_ROW, {"ids": ids, "user": user_id})} if ids else {}
        generations = _last_generations(conn, ids) if with_generation and ids else {}
    items = []
    for prompt_id in ids:
        r = rows[prompt_id]
        items.append({
            "id": r.id, "text": r.text, "created_at": r.created_at,
            "attributes": {"style": r.style, "tempo": r.tempo, "mood": r.mood,
                           "instruments": list(r.instruments or [])},
            "generated": r.sample_count, "rating_count": r.rating_count,
            "mean_rating": round(r.mean_rating, 3) if r.rating_count else None, "favourite": bool(r.favourite),
            "last_generation": generations.get(r.id),
        })
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
