"""Additions to counter rows, as prebuilt SQL: the statements every rating and preference runs.

A rating's transaction adds to half a dozen counter tables. On SQLite the writers take turns
(``db.writer_lock``), so the Python time spent inside a write transaction is everyone's wait:
a Core statement built per call costs ~90 µs of SQLAlchemy work before SQLite sees it, a
prebuilt ``text()`` one ~20 µs. The SQL here is the same on SQLite and PostgreSQL
(``INSERT … ON CONFLICT … DO UPDATE``, ``UPDATE … SET x = x + CASE …``) and is cached per
shape (table, columns, number of rows).

Rows are written in the order given; callers pass them sorted, so concurrent writers on
PostgreSQL lock them in one order and cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, TextClause, text


def _q(name: str) -> str:
    return f'"{name}"'


@lru_cache(maxsize=512)
def _upsert(table: str, keys: tuple[str, ...], values: tuple[str, ...], rows: int) -> TextClause:
    columns = (*keys, *values)
    rendered = ", ".join("(" + ", ".join(f":{i}_{n}" for i in range(len(columns))) + ")" for n in range(rows))
    sets = ", ".join(f"{_q(v)} = {_q(table)}.{_q(v)} + excluded.{_q(v)}" for v in values)
    return text(
        f"INSERT INTO {_q(table)} ({', '.join(map(_q, columns))}) VALUES {rendered} "
        f"ON CONFLICT ({', '.join(map(_q, keys))}) DO UPDATE SET {sets}"
    )


def add_to_rows(conn: Connection, table: str, keys: tuple[str, ...], value: str | tuple[str, ...],
                rows: Sequence[tuple[Any, ...]]) -> None:
    """Add each row's last elements to the ``value`` column(s) of the row its first elements key
    (created at 0 first).

    One statement for all rows: ``rows`` are tuples of the ``keys`` values then the deltas.
    """
    if not rows:
        return
    values = (value,) if isinstance(value, str) else value
    params = {f"{i}_{n}": item for n, row in enumerate(rows) for i, item in enumerate(row)}
    conn.execute(_upsert(table, keys, values, len(rows)), params)


@lru_cache(maxsize=512)
def _add_by_id(table: str, columns: tuple[str, ...], ids: int) -> TextClause:
    sets = []
    for c, column in enumerate(columns):
        whens = " ".join(f"WHEN :id_{n} THEN :d{c}_{n}" for n in range(ids))
        sets.append(f"{_q(column)} = {_q(column)} + CASE {_q('id')} {whens} ELSE 0 END")
    keys = ", ".join(f":id_{n}" for n in range(ids))
    return text(f"UPDATE {_q(table)} SET {', '.join(sets)} WHERE {_q('id')} IN ({keys})")


def add_by_id(conn: Connection, table: str, deltas: Mapping[int, Mapping[str, int]]) -> None:
    """Add ``deltas[id][column]`` to the rows of ``table`` by id, in one UPDATE (zeros skipped)."""
    changed = {row_id: {c: d for c, d in columns.items() if d} for row_id, columns in deltas.items()}
    changed = {row_id: columns for row_id, columns in changed.items() if columns}
    if not changed:
        return
    ids = sorted(changed)
    columns = tuple(sorted({c for cols in changed.values() for c in cols}))
    params: dict[str, int] = {}
    for n, row_id in enumerate(ids):
        params[f"id_{n}"] = row_id
        for c, column in enumerate(columns):
            params[f"d{c}_{n}"] = changed[row_id].get(column, 0)
    conn.execute(_add_by_id(table, columns, len(ids)), params)
