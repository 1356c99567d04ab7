"""SIGKILL the server in the middle of work, restart it, and check nothing is lost or half-done."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import httpx
import pytest
from sqlalchemy import update

from tests.factories import make_clips
from tests.hardening.server import ApiServer
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.db.migrate import upgrade
from training_dashboard.db.models import Rating

pytestmark = pytest.mark.slow


def _integrity_ok(data_dir) -> bool:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(data_dir / "training_dashboard.db")
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def _seed_clips(data_dir, n: int):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=data_dir, base_model="tiny", worker=False)
    settings.ensure_dirs()
    db = Database(settings.db_url)
    upgrade(db)
    from training_dashboard import schemas
    from training_dashboard.services.prompts import create_prompt

    prompt = create_prompt(db, schemas.PromptCreate(text="crash test"))
    ids = make_clips(db, settings, prompt.id or 0, n=n)
    return db, settings, ids


def test_kill_during_feedback_burst_keeps_every_acknowledged_write(tmp_path):
    data_dir = tmp_path / "data"
    db, _, ids = _seed_clips(data_dir, 4)
    db.dispose()
    server = ApiServer(data_dir).start()
    acked: list[int] = []
    stop = threading.Event()

    async def writer(k: int) -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    r = await c.post("/feedback", json={"audio_id": ids[(k + i) % 4], "rating": 1 + i % 5,
                                                        "notes": f"w{k}-{i}"})
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged
                if r.status_code == 201:
                    acked.append(r.json()["id"])

    def run() -> None:
        async def main() -> None:
            await asyncio.gather(*(writer(k) for k in range(8)))

        asyncio.run(main())

    thread = threading.Thread(target=run)
    thread.start()
    while len(acked) < 150:
        time.sleep(0.05)
    server.kill()
    stop.set()
    thread.join(timeout=30)
    assert _integrity_ok(data_dir)
    server = ApiServer(data_dir).start()
    try:
        feedback = httpx.get(f"{server.url}/feedback", params={"limit": 200, "page": 1}).json()
        total = feedback["total"]
        stored: list[int] = []
        for page in range(1, total // 200 + 2):
            stored += [f["id"] for f in httpx.get(f"{server.url}/feedback",
                                                   params={"limit": 200, "page": page}).json()["items"]]
        assert set(acked) <= set(stored)  # every 2xx write is there
        assert len(stored) == len(set(stored)) == total  # nothing duplicated
        notes = [f["notes"] for page in range(1, total // 200 + 2) for f in httpx.get(
            f"{server.url}/feedback", params={"limit": 200, "page": page}).json()["items"]]
        assert len(notes) == len(set(notes))
        stats = httpx.get(f"{server.url}/feedback/stats").json()
        assert stats["total_feedback"] == total  # counters committed atomically with the rows
    finally:
        server.stop()


def test_kill_during_export_leaves_no_half_export(tmp_path):
    data_dir = tmp_path / "data"
    db, settings, ids = _seed_clips(data_dir, 4)
    from training_dashboard import schemas
    from training_dashboard.services.datasets import snapshot_dataset
    from training_dashboard.services.feedback import create_rating

    for i in range(400):
        create_rating(db, schemas.FeedbackCreate(audio_id=ids[i % 4], rating=1 + i % 5))
    with db.write_session() as s:  # enough rows that the export takes a moment
        s.execute(update(Rating).values(notes="n" * 2000))
    dataset = snapshot_dataset(db, schemas.DatasetCreate(name="big"))
    db.dispose()
    server = ApiServer(data_dir).start()
    exports_dir = settings.exports_dir

    def export() -> None:
        try:
            httpx.post(f"{server.url}/datasets/{dataset.id}/export", json={"format": "huggingface"}, timeout=120)
        except httpx.HTTPError:
            pass

    thread = threading.Thread(target=export)
    thread.start()
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".tmp-") for p in exports_dir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    thread.join(timeout=30)
    assert any(p.name.startswith(".tmp-") for p in exports_dir.iterdir())  # we did kill it mid-export
    assert _integrity_ok(data_dir)
    server = ApiServer(data_dir).start()
    try:
        assert [p.name for p in exports_dir.iterdir() if p.name.startswith((".tmp-", ".old-"))] == []  # cleaned
        info = httpx.get(f"{server.url}/datasets/{dataset.id}").json()
        for export_row in info["exports"]:  # anything registered is complete on disk
            lines = (exports_dir / export_row["export_path"]).joinpath("manifest.jsonl").read_text().splitlines()
            assert len(lines) == export_row["sample_count"]
        done = httpx.post(f"{server.url}/datasets/{dataset.id}/export", json={"format": "jsonl"}, timeout=120)
        assert done.status_code == 200 and done.json()["sample_count"] == 400
    finally:
        server.stop()


def test_kill_during_generation_job_recovers_it(tmp_path):
    data_dir = tmp_path / "data"
    server = ApiServer(data_dir, worker=True).start()
    try:
        pid = httpx.post(f"{server.url}/prompts", json={"text": "long ambient drone"}).json()["id"]
        job = httpx.post(f"{server.url}/generate", json={"prompt_id": pid, "num_samples": 2, "duration": 8,
                                                         "seed": 11}).json()
        deadline = time.monotonic() + 240
        state = {}
        while time.monotonic() < deadline:
            state = httpx.get(f"{server.url}/generate/{job['id']}").json()
            if state["status"] == "processing" and state["progress"] > 0:
                break
            assert state["status"] in ("queued", "processing"), state
            time.sleep(0.05)
        assert state["status"] == "processing" and state["progress"] < 1, state
    finally:
        server.kill()
    assert _integrity_ok(data_dir)
    server = ApiServer(data_dir, worker=True).start()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            state = httpx.get(f"{server.url}/generate/{job['id']}").json()
            if state["status"] not in ("queued", "processing"):
                break
            time.sleep(0.2)
        assert state["status"] == "completed", state  # re-queued at start-up, then finished
        assert len(state["audio_ids"]) == 2
        for audio_id in state["audio_ids"]:
            r = httpx.get(f"{server.url}/audio/{audio_id}/stream", headers={"Range": "bytes=0-3"})
            assert r.status_code == 206 and r.content == b"RIFF"
        job_dir = data_dir / "audio" / f"job-{job['id']}"
        assert len(list(job_dir.iterdir())) == 2  # no stray partial files beside the two clips
    finally:
        server.stop()
