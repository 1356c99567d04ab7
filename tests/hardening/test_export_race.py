"""Exports (both formats) racing deletes and re-creations of the same dataset, through two real
server processes on one data dir: never a 5xx, never an export directory of a dataset that no
longer exists, and the database stays intact."""

from __future__ import annotations

import asyncio
import os
import random

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import _fresh_pg_database
from tests.factories import make_clips
from tests.hardening.server import ApiServer
from tests.hardening.test_crash import _integrity_ok
from training_dashboard import schemas
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.db.migrate import upgrade
from training_dashboard.db.models import Dataset, DatasetExport, DatasetMember
from training_dashboard.services.feedback import create_rating
from training_dashboard.services.prompts import create_prompt

pytestmark = pytest.mark.slow

ROUNDS = 50
RATINGS = 300  # enough that a Hugging Face export takes a good fraction of a second


def _debris(exports_dir) -> list[str]:  # type: ignore[no-untyped-def]
    """Everything in the exports dir but the lock files: export dirs and half-done ones."""
    return sorted(p.name for p in exports_dir.iterdir() if p.name not in (".exporting.lock", ".locks"))


async def test_exports_racing_deletes_leave_nothing_behind(tmp_path):
    data_dir = tmp_path / "data"
    # SQLite, or PostgreSQL when the suite runs under scripts/with_postgres.sh.
    pg_url = os.environ.get("TD_TEST_DATABASE_URL")
    url = _fresh_pg_database(pg_url, "exportrace") if pg_url else None
    settings = Settings(data_dir=data_dir, base_model="tiny", worker=False, database_url=url)
    settings.ensure_dirs()
    db = Database(settings.db_url)
    upgrade(db)
    ids = make_clips(db, settings, create_prompt(db, schemas.PromptCreate(text="race")).id or 0, n=12)
    for i in range(RATINGS):
        create_rating(db, schemas.FeedbackCreate(audio_id=ids[i % len(ids)], rating=1 + i % 5))
    env = {"TD_DATABASE_URL": url} if url else {}
    servers = [ApiServer(data_dir, env=env).start(), ApiServer(data_dir, env=env).start()]
    exports_dir = settings.exports_dir
    rng = random.Random(9)
    outcomes: dict[str, int] = {}
    try:
        clients = [httpx.AsyncClient(base_url=s.url, timeout=120) for s in servers]

        async def call(method: str, path: str, json: dict | None = None, delay: float = 0.0) -> httpx.Response:
            await asyncio.sleep(delay)
            response = await rng.choice(clients).request(method, path, json=json)
            assert response.status_code < 500, f"{method} {path} -> {response.status_code} {response.text}"
            return response

        for round_no in range(ROUNDS):
            created = await call("POST", "/datasets", {"name": "racing", "type": "supervised"})
            assert created.status_code == 201, created.text
            dataset_id = created.json()["id"]
            path = f"/datasets/{dataset_id}"
            # The delete lands at a random moment: before, during or after the exports.
            jsonl, hf, deleted = await asyncio.gather(
                call("POST", f"{path}/export", {"format": "jsonl"}, delay=rng.uniform(0, 0.05)),
                call("POST", f"{path}/export", {"format": "huggingface"}, delay=rng.uniform(0, 0.05)),
                call("DELETE", path, delay=rng.uniform(0, 0.6)),
            )
            assert deleted.status_code == 204, deleted.text
            for export in (jsonl, hf):
                assert export.status_code in (200, 404), export.text
                if export.status_code == 404:
                    assert f"Dataset {dataset_id}" in export.json()["detail"]
                key = f"export {export.status_code}"
                outcomes[key] = outcomes.get(key, 0) + 1
            # Whichever came second, nothing of the dataset is left on disk, and a late export
            # of it finds nothing to export.
            assert _debris(exports_dir) == [], f"round {round_no}"
            late = await call("POST", f"{path}/export", {"format": "jsonl"})
            assert late.status_code == 404
            assert (await call("GET", path)).status_code == 404
        for c in clients:
            await c.aclose()
    finally:
        for s in servers:
            s.stop()
    print(f"export race: {ROUNDS} rounds, outcomes {outcomes}")
    # Both orders happened: exports that finished before the delete, and ones that came too late.
    assert outcomes.get("export 200", 0) > 0 and outcomes.get("export 404", 0) > 0
    assert _debris(exports_dir) == [] and list((exports_dir / ".locks").iterdir()) == []
    with db.session() as session:  # no row outlived its dataset either
        assert session.scalar(select(func.count()).select_from(Dataset)) == 0
        assert session.scalar(select(func.count()).select_from(DatasetMember)) == 0
        assert session.scalar(select(func.count()).select_from(DatasetExport)) == 0
    db.dispose()
    if not url:
        assert _integrity_ok(data_dir)
