"""20 concurrent clients hammer one real server: every acknowledged write stored exactly once,
statistics exactly equal to a direct count, no "database is locked" reaching a client."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from sqlalchemy import func, select

from tests.hardening.server import ApiServer
from tests.hardening.test_crash import _integrity_ok, _seed_clips
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.db.models import Preference, Rating

pytestmark = pytest.mark.slow

CLIENTS = 20
RATINGS_PER_CLIENT = 500


async def test_concurrent_clients_count_exactly(tmp_path):
    data_dir = tmp_path / "data"
    db, _, ids = _seed_clips(data_dir, 6)
    db.dispose()
    server = ApiServer(data_dir).start()
    acked_ratings: list[int] = []
    acked_prefs: list[int] = []
    failures: list[str] = []

    async def rater(k: int, c: httpx.AsyncClient) -> None:
        rng = random.Random(k)
        for i in range(RATINGS_PER_CLIENT):
            r = await c.post("/feedback", json={"audio_id": rng.choice(ids), "rating": rng.randint(1, 5),
                                                "tags": rng.sample(["a", "b", "c", "d"], rng.randint(0, 2))})
            if r.status_code == 201:
                acked_ratings.append(r.json()["id"])
            else:
                failures.append(r.text)
            if i % 25 == 0:
                a, b = rng.sample(ids, 2)
                p = await c.post("/preferences", json={"chosen_id": a, "rejected_id": b, "tie": i % 100 == 0})
                (acked_prefs.append(p.json()["id"]) if p.status_code == 201 else failures.append(p.text))

    async def reader(k: int, c: httpx.AsyncClient, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            for path in ("/feedback/stats", "/datasets"):
                r = await c.get(path)
                if r.status_code != 200:
                    failures.append(r.text)
            if n % 5 == 0:
                r = await c.post("/datasets", json={"name": f"reader {k} set {n}", "filter": {"min_rating": 3}})
                if r.status_code != 201:
                    failures.append(r.text)
            n += 1
            await asyncio.sleep(0.1)

    limits = httpx.Limits(max_connections=CLIENTS + 4)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as c:
            stop = asyncio.Event()
            readers = [asyncio.create_task(reader(k, c, stop)) for k in range(2)]
            await asyncio.gather(*(rater(k, c) for k in range(CLIENTS)))
            stop.set()
            await asyncio.gather(*readers)
            stats = (await c.get("/feedback/stats")).json()
    finally:
        server.stop()
    assert failures == []
    assert len(acked_ratings) == CLIENTS * RATINGS_PER_CLIENT
    assert len(set(acked_ratings)) == len(acked_ratings)
    db = Database(Settings(data_dir=data_dir).db_url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Rating)) == len(acked_ratings)
        assert set(s.scalars(select(Rating.id))) == set(acked_ratings)
        distribution = dict(s.execute(select(Rating.rating, func.count()).group_by(Rating.rating)).all())
        pairs = s.scalar(select(func.count()).select_from(Preference).where(Preference.tie.is_(False)))
        ties = s.scalar(select(func.count()).select_from(Preference).where(Preference.tie.is_(True)))
    db.dispose()
    assert stats["total_feedback"] == len(acked_ratings)
    assert stats["rating_distribution"] == {str(r): distribution.get(r, 0) for r in range(1, 6)}
    assert stats["preference_pairs"] == pairs and stats["ties"] == ties and pairs + ties == len(acked_prefs)
    assert _integrity_ok(data_dir)
