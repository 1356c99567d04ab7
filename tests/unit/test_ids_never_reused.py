"""Ids are never reused (issue 9 item 6): AUTOINCREMENT on SQLite, and migration 0003."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import JSON, Boolean, Date, DateTime, Enum, Float, Integer, Numeric, String, Text
from sqlmodel import SQLModel

import training_dashboard.db.models  # noqa: F401 - registers the tables
from tests.factories import make_clips, make_lora_dir
from training_dashboard.db import Database
from training_dashboard.db.migrate import alembic_config, upgrade


def _id_tables() -> list:  # type: ignore[type-arg]
    """Every table whose primary key is one generated integer column (all of them must never reuse
    ids). A key declared ``autoincrement=False`` is another table's id (``queue_lease.rater_id``),
    never handed out by the table itself."""
    return [t for t in SQLModel.metadata.sorted_tables
            if len(t.primary_key.columns) == 1 and isinstance(next(iter(t.primary_key.columns)).type, Integer)
            and next(iter(t.primary_key.columns)).autoincrement is not False]


def _value(column, n: int):  # type: ignore[no-untyped-def]
    kind = getattr(column.type, "impl_instance", column.type)  # AutoString and other decorators
    if isinstance(kind, Boolean):
        return 0
    if isinstance(kind, Integer):
        return n
    if isinstance(kind, Float | Numeric):
        return float(n)
    if isinstance(kind, DateTime):
        return f"2026-01-0{n} 00:00:00"
    if isinstance(kind, Date):
        return f"2026-01-0{n}"
    if isinstance(kind, Enum):
        return kind.enums[0]
    if isinstance(kind, JSON):
        return "[]"
    if isinstance(kind, String | Text):
        return f"v{n}"  # distinct per row: unique constraints never get in the way
    raise AssertionError(f"no test value for {column.table.name}.{column.name}: {kind!r}")


def _insert(conn: sqlite3.Connection, table, n: int) -> int:  # type: ignore[no-untyped-def]
    cols = [c for c in table.columns if not c.primary_key and not c.nullable]  # NULL elsewhere
    names = ", ".join(f'"{c.name}"' for c in cols)
    marks = ", ".join("?" for _ in cols)
    cur = conn.execute(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', [_value(c, n) for c in cols])
    return cur.lastrowid or 0


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    path = tmp_path / "ids.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


def test_every_integer_id_table_is_autoincrement(migrated):
    tables = _id_tables()
    assert {t.name for t in tables} >= {"prompt", "generation_job", "audio_sample", "rating", "preference",
                                        "dataset", "dataset_export", "adapter"}
    conn = sqlite3.connect(migrated)
    for table in tables:
        assert table.dialect_options["sqlite"]["autoincrement"], f"{table.name}: set sqlite_autoincrement=True"
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)).fetchone()
        assert "AUTOINCREMENT" in sql[0], f"the migrations create {table.name} without AUTOINCREMENT"
    conn.close()


def test_no_table_hands_out_the_id_of_its_deleted_newest_row(migrated):
    conn = sqlite3.connect(migrated, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")  # rows of one table at a time; their references do not matter here
    for table in _id_tables():
        _insert(conn, table, 1)
        newest = _insert(conn, table, 2)
        conn.execute(f'DELETE FROM "{table.name}" WHERE id = ?', (newest,))
        again = _insert(conn, table, 3)
        assert again > newest, f"{table.name} gave id {again} again after deleting its newest row"
    conn.close()


async def test_api_deletes_never_free_an_id(client, db, settings):
    root = settings.resolved_adapter_roots[0]
    for name in ("one", "two", "three"):
        make_lora_dir(root, name)
    pid = (await client.post("/prompts", json={"text": "ambient pads"})).json()["id"]
    clips = make_clips(db, settings, pid, n=2)
    for audio_id in clips:
        assert (await client.post("/feedback", json={"audio_id": audio_id, "rating": 4})).status_code == 201

    first = (await client.post("/adapters", json={"name": "one", "path": "one"})).json()["id"]
    newest = (await client.post("/adapters", json={"name": "two", "path": "two"})).json()["id"]
    assert newest > first
    assert (await client.delete(f"/adapters/{newest}")).status_code == 204
    again = (await client.post("/adapters", json={"name": "three", "path": "three"})).json()["id"]
    assert again > newest

    (await client.post("/datasets", json={"name": "first", "type": "supervised"})).raise_for_status()
    newest_ds = (await client.post("/datasets", json={"name": "newest", "type": "supervised"})).json()
    export = (await client.post(f"/datasets/{newest_ds['id']}/export", json={"format": "jsonl"})).json()
    newest_export = _export_id(db, newest_ds["id"])
    assert export["sample_count"] == 2 and newest_export
    assert (await client.delete(f"/datasets/{newest_ds['id']}")).status_code == 204  # removes its export row too
    again_ds = (await client.post("/datasets", json={"name": "again", "type": "supervised"})).json()
    assert again_ds["id"] > newest_ds["id"]
    (await client.post(f"/datasets/{again_ds['id']}/export", json={"format": "jsonl"})).raise_for_status()
    assert _export_id(db, again_ds["id"]) > newest_export


def _export_id(db: Database, dataset_id: int) -> int:
    from sqlalchemy import select

    from training_dashboard.db.models import DatasetExport

    with db.session() as session:
        return session.scalar(select(DatasetExport.id).where(DatasetExport.dataset_id == dataset_id)) or 0


def _dump(conn: sqlite3.Connection, table: str) -> list[tuple]:  # type: ignore[type-arg]
    return conn.execute(f'SELECT * FROM "{table}" ORDER BY id').fetchall()


def test_migration_0003_keeps_rows_and_ids_and_stops_reuse(tmp_path):
    path = tmp_path / "old.db"
    db = Database(f"sqlite:///{path}")
    cfg = alembic_config(db.url)
    with db.engine.connect() as connection:  # a database as the previous release left it
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0002")
    db.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    now = "2026-01-01 00:00:00"
    for i in (1, 2, 3):
        conn.execute("INSERT INTO prompt (text, instruments, created_at) VALUES (?, '[]', ?)", (f"p{i}", now))
        conn.execute("INSERT INTO adapter (name, version, base_model, path, training_config, report, is_active,"
                     " created_at, updated_at) VALUES (?, '1.0.0', 'tiny', ?, '{}', '{}', 1, ?, ?)",
                     (f"a{i}", f"/a{i}", now, now))
    for i, adapter in ((1, None), (2, 2), (3, 3)):
        conn.execute("INSERT INTO audio_sample (prompt_id, adapter_id, seed, duration, sample_rate, file_path,"
                     " params, rating_count, created_at) VALUES (1, ?, ?, 1.0, 32000, 'a.wav', '{}', 1, ?)",
                     (adapter, i, now))
        conn.execute("INSERT INTO rating (audio_id, prompt_id, adapter_id, rating, tags, created_at)"
                     " VALUES (?, 1, ?, 4, '[\"warm\"]', ?)", (i, adapter, now))
        conn.execute("INSERT INTO rating_tag (tag, rating_id) VALUES ('warm', ?)", (i,))
    conn.execute("INSERT INTO dataset (name, type, filter, sample_count, stats, created_at, updated_at)"
                 " VALUES ('d', 'supervised', '{}', 3, '{}', ?, ?)", (now, now))
    conn.execute("INSERT INTO dataset_member (dataset_id, item_id) VALUES (1, 1), (1, 2), (1, 3)")
    conn.execute("DELETE FROM adapter WHERE id = 3")  # deleted from the registry; its clips and ratings remain
    tables = ("prompt", "adapter", "audio_sample", "rating", "dataset")
    before = {t: _dump(conn, t) for t in tables}
    before["rating_tag"] = conn.execute("SELECT * FROM rating_tag ORDER BY rating_id").fetchall()
    before["dataset_member"] = conn.execute("SELECT * FROM dataset_member ORDER BY item_id").fetchall()
    conn.close()

    db = Database(f"sqlite:///{path}")
    upgrade(db, "0003")  # the later revisions add columns; this checks 0003 itself
    db.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0003",)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    for t in tables:
        assert _dump(conn, t) == before[t], f"{t} changed"
    assert conn.execute("SELECT * FROM rating_tag ORDER BY rating_id").fetchall() == before["rating_tag"]
    assert conn.execute("SELECT * FROM dataset_member ORDER BY item_id").fetchall() == before["dataset_member"]

    # Adapter 3 was deleted before the migration, but ratings still name it: a new adapter
    # must not inherit them.
    cur = conn.execute("INSERT INTO adapter (name, version, base_model, path, training_config, report, is_active,"
                       " created_at, updated_at) VALUES ('new', '1.0.0', 'tiny', '/n', '{}', '{}', 0, ?, ?)",
                       (now, now))
    assert cur.lastrowid == 4
    # And from now on a deleted newest row keeps its id to itself.
    conn.execute("DELETE FROM rating_tag WHERE rating_id = 3")
    conn.execute("DELETE FROM dataset_member WHERE item_id = 3")
    conn.execute("DELETE FROM rating WHERE id = 3")
    cur = conn.execute("INSERT INTO rating (audio_id, prompt_id, rating, tags, created_at) VALUES (1, 1, 5, '[]', ?)",
                       (now,))
    assert cur.lastrowid == 4
    conn.execute("DELETE FROM prompt WHERE id = 3")
    cur = conn.execute("INSERT INTO prompt (text, instruments, created_at) VALUES ('p', '[]', ?)", (now,))
    assert cur.lastrowid == 4
    conn.close()
