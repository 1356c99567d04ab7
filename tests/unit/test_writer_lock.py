"""SQLite writers of one process take turns in arrival order (issue 21 item 8)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.factories import run_concurrently
from training_dashboard.db import Database

WRITERS = 8
ROUNDS = 40
WAIT_S = 30.0


def _database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE entry (id INTEGER PRIMARY KEY, writer INTEGER, n INTEGER)"))
        conn.execute(text("CREATE TABLE total (id INTEGER PRIMARY KEY, n INTEGER)"))
        conn.execute(text("INSERT INTO total VALUES (1, 0)"))
    return db


def _wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    done = threading.Event()
    for _ in range(3000):  # bounded: 30 s
        if condition():
            return
        done.wait(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def test_writers_enter_in_arrival_order(tmp_path: Path) -> None:
    db = _database(tmp_path)
    assert db.writer_lock is not None
    release = threading.Event()
    order: list[int] = []

    def first() -> None:
        with db.write_session() as session:
            session.execute(text("INSERT INTO entry (writer, n) VALUES (-1, 0)"))
            release.wait(WAIT_S)

    def writer(index: int) -> None:
        with db.write_session() as session:
            order.append(index)
            session.execute(text("INSERT INTO entry (writer, n) VALUES (:w, 0)"), {"w": index})

    holder = threading.Thread(target=first)
    holder.start()
    _wait_until(lambda: db.writer_lock.held, "the first writer to hold the lock")
    threads = []
    for index in range(WRITERS):  # each one queued before the next arrives
        t = threading.Thread(target=writer, args=(index,))
        t.start()
        threads.append(t)
        _wait_until(lambda n=index + 1: db.writer_lock.waiting == n, f"{index + 1} queued writers")
    release.set()
    for t in [holder, *threads]:
        t.join(WAIT_S)
    assert order == list(range(WRITERS))
    with db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM entry")) == WRITERS + 1
    db.dispose()


def test_concurrent_writers_all_succeed_and_none_is_lost(tmp_path: Path) -> None:
    db = _database(tmp_path)

    def writer(index: int) -> None:
        for n in range(ROUNDS):
            def run(session, n=n):  # type: ignore[no-untyped-def]
                total = session.scalar(text("SELECT n FROM total WHERE id = 1"))
                session.execute(text("UPDATE total SET n = :n WHERE id = 1"), {"n": total + 1})
                session.execute(text("INSERT INTO entry (writer, n) VALUES (:w, :n)"), {"w": index, "n": n})
            db.write(run)

    errors = run_concurrently(writer, WRITERS)
    assert errors == []
    with db.session() as session:
        assert session.scalar(text("SELECT n FROM total")) == WRITERS * ROUNDS
        assert session.scalar(text("SELECT count(*) FROM entry")) == WRITERS * ROUNDS
    assert not db.writer_lock.held
    db.dispose()


def test_the_lock_is_released_when_a_write_fails(tmp_path: Path) -> None:
    db = _database(tmp_path)

    def failing(session):  # type: ignore[no-untyped-def]
        session.execute(text("INSERT INTO entry (writer, n) VALUES (1, 1)"))
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        db.write(failing)
    assert not db.writer_lock.held
    with pytest.raises(Exception, match="no such table"):  # a failing statement: rolled back, lock released
        db.write(lambda session: session.execute(text("INSERT INTO missing VALUES (1)")))
    assert not db.writer_lock.held

    done = threading.Event()

    def other() -> None:  # another thread gets its turn at once: nothing was left held
        db.write(lambda session: session.execute(text("INSERT INTO entry (writer, n) VALUES (2, 2)")))
        done.set()

    t = threading.Thread(target=other)
    t.start()
    t.join(WAIT_S)
    assert done.is_set()
    with db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM entry")) == 1  # the failed writes were rolled back
    db.dispose()


def test_one_lock_per_database_file(tmp_path: Path) -> None:
    a, b = Database(f"sqlite:///{tmp_path / 'x.db'}"), Database(f"sqlite:///{tmp_path}/./x.db")
    c = Database(f"sqlite:///{tmp_path / 'y.db'}")
    assert a.writer_lock is b.writer_lock
    assert a.writer_lock is not c.writer_lock
    for db in (a, b, c):
        db.dispose()
