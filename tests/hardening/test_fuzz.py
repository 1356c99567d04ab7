"""Property-based fuzz of the whole API from its own OpenAPI schema (schemathesis).

Positive and negative cases for every operation, against a database seeded with real rows
(so ids often hit), bounded to a few dozen examples per operation. The property: never a
5xx, and every 4xx says why in ``detail``.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.factories import make_clips, make_lora_dir
from training_dashboard.api.app import create_app
from training_dashboard.config import Settings

FUZZ_EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):  # type: ignore[no-untyped-def]
    cfg = Settings(data_dir=tmp_path_factory.mktemp("fuzz") / "data", base_model="tiny", worker=False)
    app = create_app(cfg, with_worker=False)
    db = app.state.db

    async def seed() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t/api") as c:
            pid = (await c.post("/prompts", json={"text": "seed prompt"})).json()["id"]
            ids = make_clips(db, cfg, pid, n=3)
            for audio_id in ids:
                await c.post("/feedback", json={"audio_id": audio_id, "rating": 4, "tags": ["seed"]})
            await c.post("/preferences", json={"chosen_id": ids[0], "rejected_id": ids[1]})
            await c.post("/datasets", json={"name": "seed"})
            make_lora_dir(cfg.resolved_adapter_roots[0], "seed-lora")
            await c.post("/adapters", json={"name": "seed-lora", "path": "seed-lora", "is_active": True})

    asyncio.run(seed())
    yield app
    db.dispose()


def _operations(app):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_no_5xx_and_every_4xx_explains(fuzz_app):  # type: ignore[no-untyped-def]
    operations = _operations(fuzz_app)
    assert len(operations) >= 25
    ran = 0
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def check(case):  # type: ignore[no-untyped-def]
                nonlocal ran
                ran += 1
                response = case.call()
                where = f"{case.method} {case.formatted_path} {case.body!r:.200} -> {response.status_code}"
                assert response.status_code < 500, f"{where}: {response.text}"
                if 400 <= response.status_code < 500:
                    body = response.json()
                    assert isinstance(body.get("detail"), str) and body["detail"].strip(), f"{where}: {response.text}"

            try:
                check()
            except Unsatisfiable:
                # No invalid input exists for this operation (e.g. no parameters at all).
                assert mode == GenerationMode.NEGATIVE, operation.label
    print(f"fuzz: {ran} cases over {len(operations)} operations")
