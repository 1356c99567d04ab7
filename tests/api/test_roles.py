"""Who may do what, read from the OpenAPI document: every operation without credentials is 401 (but the
public ones), every trainer or admin operation with a rater's token is 403, every admin one with a
trainer's; the rater's identity and blind listening hold for a rater who scripts the API."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.factories import ANONYMOUS, make_clips

# The README's role table, operation by operation: the least role that may call it.
PUBLIC = "public"
WORKER = "worker token"
ROLE_OF: dict[tuple[str, str], str] = {
    ("POST", "/api/auth/login"): PUBLIC, ("POST", "/api/auth/login/form"): PUBLIC,
    ("POST", "/api/auth/logout"): PUBLIC, ("GET", "/api/auth/setup"): PUBLIC, ("POST", "/api/auth/setup"): PUBLIC,
    ("POST", "/api/auth/setup/form"): PUBLIC, ("GET", "/api/health"): PUBLIC,
    ("GET", "/api/auth/oidc/login"): PUBLIC, ("GET", "/api/auth/oidc/callback"): PUBLIC,
    ("GET", "/api/auth/me"): "rater",
    ("GET", "/api/users"): "admin", ("POST", "/api/users"): "admin", ("PATCH", "/api/users/{user_id}"): "admin",
    ("GET", "/api/tokens"): "rater", ("POST", "/api/tokens"): "rater", ("DELETE", "/api/tokens/{token_id}"): "rater",
    ("GET", "/api/audit"): "admin",
    ("POST", "/api/prompts"): "trainer", ("GET", "/api/prompts"): "rater", ("GET", "/api/prompts/{prompt_id}"): "rater",
    ("GET", "/api/prompts/facets"): "rater", ("PUT", "/api/prompts/{prompt_id}/favourite"): "rater",
    ("DELETE", "/api/prompts/{prompt_id}/favourite"): "rater",
    ("GET", "/api/templates"): "rater", ("POST", "/api/templates"): "trainer",
    ("PATCH", "/api/templates/{template_id}"): "trainer", ("DELETE", "/api/templates/{template_id}"): "trainer",
    ("POST", "/api/generate"): "trainer", ("GET", "/api/generate"): "rater", ("GET", "/api/generate/{job_id}"): "rater",
    ("DELETE", "/api/generate/{job_id}"): "trainer",
    ("GET", "/api/audio"): "rater", ("GET", "/api/audio/{audio_id}"): "rater",
    ("GET", "/api/audio/{audio_id}/stream"): "rater",
    ("POST", "/api/feedback"): "rater", ("GET", "/api/feedback"): "rater", ("GET", "/api/feedback/stats"): "trainer",
    ("POST", "/api/preferences"): "rater", ("POST", "/api/preferences/ranking"): "rater",
    ("POST", "/api/datasets/preview"): "trainer", ("POST", "/api/datasets"): "trainer",
    ("GET", "/api/datasets"): "trainer", ("GET", "/api/datasets/{dataset_id}"): "trainer",
    ("DELETE", "/api/datasets/{dataset_id}"): "trainer", ("GET", "/api/datasets/{dataset_id}/stats"): "trainer",
    ("POST", "/api/datasets/{dataset_id}/export"): "trainer",
    ("POST", "/api/adapters"): "trainer", ("GET", "/api/adapters"): "trainer",
    ("GET", "/api/adapters/{adapter_id}"): "trainer", ("PATCH", "/api/adapters/{adapter_id}"): "trainer",
    ("DELETE", "/api/adapters/{adapter_id}"): "admin", ("POST", "/api/adapters/{adapter_id}/activate"): "admin",
    ("POST", "/api/adapters/{adapter_id}/deactivate"): "admin",
    ("GET", "/api/workers"): "trainer", ("GET", "/api/leaderboard"): "trainer",
    ("POST", "/api/evaluations"): "trainer", ("GET", "/api/evaluations"): "trainer",
    ("GET", "/api/evaluations/{evaluation_id}"): "trainer", ("GET", "/api/evaluations/plan"): "trainer",
    ("GET", "/api/evaluations/{evaluation_id}/pairs"): "trainer", ("GET", "/api/listening/policy"): "rater",
    ("POST", "/api/evaluations/{evaluation_id}/cancel"): "trainer",
    ("GET", "/api/evaluations/{evaluation_id}/next"): "rater",
    ("GET", "/api/evaluations/{evaluation_id}/progress"): "rater",
    ("POST", "/api/evaluations/{evaluation_id}/votes"): "rater",
    ("GET", "/api/evaluations/{evaluation_id}/pairs/{pair_id}/{slot}/stream"): "rater",
    ("GET", "/api/raters"): "trainer", ("POST", "/api/raters"): "admin", ("GET", "/api/feedback/quality"): "trainer",
    ("GET", "/api/queue/next"): "rater", ("GET", "/api/queue/summary"): "rater",
    ("GET", "/api/runs/options"): "trainer", ("POST", "/api/runs"): "trainer", ("GET", "/api/runs"): "trainer",
    ("GET", "/api/runs/{run_id}"): "trainer", ("DELETE", "/api/runs/{run_id}"): "trainer",
    ("GET", "/api/runs/{run_id}/metrics"): "trainer", ("GET", "/api/runs/{run_id}/logs"): "trainer",
    ("POST", "/api/runs/{run_id}/cancel"): "trainer", ("POST", "/api/runs/{run_id}/resume"): "trainer",
}
RANK = {"rater": 0, "trainer": 1, "admin": 2}


async def operations(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    spec = (await client.get("/openapi.json", headers=ANONYMOUS)).json()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


def concrete(path: str) -> str:
    return re.sub(r"\{slot\}", "first", re.sub(r"\{[a-z_]+\}", "1", path)).removeprefix("/api")


async def test_every_operation_is_in_the_role_table(client):
    ops = await operations(client)
    missing = [op for op in ops if op not in ROLE_OF and not op[1].startswith("/api/worker/")]
    assert missing == [], f"classify these in ROLE_OF and the README's role table: {missing}"


async def test_every_operation_without_credentials_is_401(client):
    for method, path in await operations(client):
        role = ROLE_OF.get((method, path), WORKER)
        r = await client.request(method, concrete(path), headers=ANONYMOUS)
        if role == PUBLIC:
            assert r.status_code not in (401, 403), (method, path, r.status_code)
        elif role == WORKER:  # the worker token only (403 here: no TD_WORKER_TOKEN configured)
            assert r.status_code in (401, 403), (method, path, r.status_code)
        else:
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.headers.get("www-authenticate") == "Bearer"


async def test_a_rater_gets_403_on_every_trainer_and_admin_operation(client, rater, trainer):
    for who, user in (("rater", rater), ("trainer", trainer)):
        for method, path in await operations(client):
            role = ROLE_OF.get((method, path))
            if role not in RANK:
                continue
            r = await client.request(method, concrete(path), headers=user.headers)
            if RANK[role] > RANK[who]:
                assert r.status_code == 403, (who, method, path, r.status_code, r.text)
                # the first role check that fails names its role (a trainer router's check before an admin route's)
                assert r.json()["detail"] in {f"needs the {x} role" for x in RANK if RANK[who] < RANK[x] <= RANK[role]}
            else:
                assert r.status_code not in (401, 403), (who, method, path, r.status_code, r.text)


async def test_a_user_token_never_opens_the_worker_routes(client, rater, admin_token):
    for headers in (rater.headers, {"Authorization": f"Bearer {admin_token}"}):
        r = await client.post("/worker/heartbeat", json={}, headers=headers)
        assert r.status_code in (401, 403)


async def test_feedback_and_votes_are_the_signed_in_raters_own(client, db, settings, rater, trainer):
    pid = (await client.post("/prompts", json={"text": "mine"})).json()["id"]
    ids = make_clips(db, settings, pid, n=2)
    r = await client.post("/feedback", json={"audio_id": ids[0], "rating": 4}, headers=rater.headers)
    assert r.status_code == 201 and r.json()["rater_id"] == rater.rater_id
    for body in ({"rater_id": trainer.rater_id}, {"rater": "tom"}):
        r = await client.post("/feedback", json={"audio_id": ids[1], "rating": 2, **body}, headers=rater.headers)
        assert r.status_code == 403, body
    r = await client.post("/feedback", json={"audio_id": ids[1], "rating": 2, "rater_id": rater.rater_id},
                          headers=rater.headers)
    assert r.status_code == 201
    r = await client.post("/preferences", json={"chosen_id": ids[0], "rejected_id": ids[1],
                                                "rater_id": trainer.rater_id}, headers=rater.headers)
    assert r.status_code == 403
    r = await client.get("/queue/summary", params={"rater_id": trainer.rater_id}, headers=rater.headers)
    assert r.status_code == 403
    assert (await client.get("/queue/summary", headers=rater.headers)).json()["rater_id"] == rater.rater_id
    r = await client.post("/evaluations/1/votes", json={"pair_id": 1, "rater_id": trainer.rater_id,
                                                        "choice": "first"}, headers=rater.headers)
    assert r.status_code == 403
    own = (await client.get("/feedback", headers=rater.headers)).json()
    assert own["total"] == 2 and {f["rater_id"] for f in own["items"]} == {rater.rater_id}


async def test_blind_stays_blind_for_raters(client, db, settings, rater, trainer):
    from tests.factories import make_lora_dir

    make_lora_dir(settings.resolved_adapter_roots[0], "secret-lora")
    adapter = (await client.post("/adapters", json={"name": "secret-model", "path": "secret-lora"})).json()["id"]
    pid = (await client.post("/prompts", json={"text": "blind"})).json()["id"]
    ids = make_clips(db, settings, pid, n=2, adapter_id=adapter)
    await client.post("/feedback", json={"audio_id": ids[0], "rating": 5}, headers=rater.headers)

    def hidden(text: str) -> bool:
        return "secret-model" not in text and f'"adapter_id":{adapter}' not in text.replace(" ", "")

    clip = await client.get(f"/audio/{ids[1]}", headers=rater.headers)
    assert clip.status_code == 200 and hidden(clip.text) and clip.json()["blinded"] is True
    rated = (await client.get(f"/audio/{ids[0]}", headers=rater.headers)).json()
    assert rated["adapter_id"] == adapter and rated["blinded"] is False  # rated: no longer blind
    detail = (await client.get(f"/prompts/{pid}", headers=rater.headers)).json()
    by_id = {s["id"]: s for s in detail["samples"]}
    assert by_id[ids[1]]["adapter_id"] is None and by_id[ids[1]]["blinded"] and by_id[ids[0]]["adapter_id"] == adapter
    listing = await client.get("/audio", headers=rater.headers)
    assert [i["adapter_id"] for i in listing.json()["items"] if i["id"] == ids[1]] == [None]
    jobs = await client.get("/generate", headers=rater.headers)
    assert hidden(jobs.text) and all(j["blinded"] for j in jobs.json()["items"])
    job_id = jobs.json()["items"][0]["id"]
    assert hidden((await client.get(f"/generate/{job_id}", headers=rater.headers)).text)
    assert (await client.get("/audio", params={"adapter_id": adapter}, headers=rater.headers)).status_code == 403
    assert (await client.get("/queue/next", params={"blind": "false"}, headers=rater.headers)).status_code == 403
    queued = await client.get("/queue/next", headers=rater.headers)
    assert hidden(queued.text)
    # trainers see everything
    assert (await client.get(f"/audio/{ids[1]}", headers=trainer.headers)).json()["adapter_id"] == adapter


async def test_trainers_register_inactive_and_admins_activate_with_a_recorded_reason(client, db, settings, trainer,
                                                                                      admin):
    from sqlalchemy import select

    from tests.factories import make_lora_dir
    from training_dashboard.db.models import Adapter

    make_lora_dir(settings.resolved_adapter_roots[0], "l1")
    body = {"name": "m", "path": "l1"}
    r = await client.post("/adapters", json={**body, "is_active": True}, headers=trainer.headers)
    assert r.status_code == 403
    adapter = (await client.post("/adapters", json=body, headers=trainer.headers)).json()["id"]
    assert (await client.patch(f"/adapters/{adapter}", json={"is_active": True},
                               headers=trainer.headers)).status_code == 403
    assert (await client.patch(f"/adapters/{adapter}", json={"description": "ok"},
                               headers=trainer.headers)).status_code == 200
    assert (await client.post(f"/adapters/{adapter}/activate", headers=admin.headers)).status_code == 200
    with db.session() as session:
        row = session.scalar(select(Adapter).where(Adapter.id == adapter))
    assert (row.created_by, row.activated_by) == (trainer.id, admin.id)
    audit = (await client.get("/audit", params={"action": "adapter."})).json()["items"]
    assert [(e["action"], e["actor_id"]) for e in audit] == [("adapter.activate", admin.id)]


@pytest.fixture
def gated(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"require_evaluation": True})


async def test_a_forced_activation_records_who_and_why(gated):
    from sqlalchemy import select

    from tests.factories import make_lora_dir
    from training_dashboard.api.app import create_app
    from training_dashboard.db.models import Adapter

    app = create_app(gated, with_worker=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t/api") as c:
            make_lora_dir(gated.resolved_adapter_roots[0], "l2")
            adapter = (await c.post("/adapters", json={"name": "g", "path": "l2"})).json()["id"]
            assert (await c.post(f"/adapters/{adapter}/activate")).status_code == 409
            assert (await c.post(f"/adapters/{adapter}/activate", json={"force": True})).status_code == 422
            r = await c.post(f"/adapters/{adapter}/activate", json={"force": True, "reason": "demo tomorrow"})
            assert r.status_code == 200
            me = (await c.get("/auth/me")).json()
            with app.state.db.session() as session:
                row = session.scalar(select(Adapter).where(Adapter.id == adapter))
            assert (row.forced_by, row.activated_by, row.forced_activation_reason) == (me["id"], me["id"],
                                                                                      "demo tomorrow")
            events = (await c.get("/audit", params={"action": "adapter.force_activate"})).json()["items"]
            assert len(events) == 1 and "demo tomorrow" in events[0]["detail"]
    finally:
        app.state.db.dispose()


async def test_creators_are_recorded(client, db, settings, trainer):
    from sqlalchemy import select

    from training_dashboard.db.models import Dataset

    pid = (await client.post("/prompts", json={"text": "c"})).json()["id"]
    for audio_id in make_clips(db, settings, pid, n=2):
        await client.post("/feedback", json={"audio_id": audio_id, "rating": 5})
    r = await client.post("/datasets", json={"name": "by-tom"}, headers=trainer.headers)
    assert r.status_code == 201
    with db.session() as session:
        assert session.scalar(select(Dataset.created_by).where(Dataset.id == r.json()["id"])) == trainer.id
    assert (await client.delete(f"/datasets/{r.json()['id']}", headers=trainer.headers)).status_code == 204
    events = (await client.get("/audit", params={"action": "dataset.delete"})).json()["items"]
    assert [e["actor_name"] for e in events] == ["tom"]
