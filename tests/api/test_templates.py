"""Prompt templates (issue 20): shared, named, with {placeholders}; trainers edit, everyone reads."""

from __future__ import annotations

import httpx

BODY = {"text": "lo-fi beat in {key} at {tempo} bpm with {key} chords",
        "attributes": {"style": "lo-fi", "tempo": 80, "instruments": ["piano"], "mood": "calm"}}


async def test_a_fresh_install_has_removable_built_in_templates(client):
    page = (await client.get("/templates")).json()
    assert page["total"] == len(page["items"]) >= 3
    builtin = page["items"]
    assert all(t["builtin"] and t["created_by"] is None for t in builtin)
    assert [t["name"].casefold() for t in builtin] == sorted(t["name"].casefold() for t in builtin)
    with_slots = [t for t in builtin if t["placeholders"]]
    assert with_slots and all(f"{{{name}}}" in t["text"] for t in with_slots for name in t["placeholders"])
    assert (await client.delete(f"/templates/{builtin[0]['id']}")).status_code == 204
    assert (await client.get("/templates")).json()["total"] == len(builtin) - 1


async def test_create_edit_and_delete_a_template(client):
    r = await client.post("/templates", json={"name": "  Study beat ", **BODY})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["name"] == "Study beat" and made["placeholders"] == ["key", "tempo"]  # once each, in order
    assert made["attributes"] == BODY["attributes"] and made["builtin"] is False and made["created_by"] == "admin"
    names = [t["name"] for t in (await client.get("/templates")).json()["items"]]
    assert "Study beat" in names

    r = await client.patch(f"/templates/{made['id']}", json={"name": "Night study", "text": "beat in {key}"})
    assert r.status_code == 200
    changed = r.json()
    assert (changed["name"], changed["text"], changed["placeholders"]) == ("Night study", "beat in {key}", ["key"])
    assert changed["attributes"] == BODY["attributes"]  # not sent, not changed
    r = await client.patch(f"/templates/{made['id']}", json={"attributes": {"style": "ambient"}})
    assert r.json()["attributes"] == {"style": "ambient", "tempo": None, "instruments": [], "mood": None}

    assert (await client.delete(f"/templates/{made['id']}")).status_code == 204
    for call in (client.delete(f"/templates/{made['id']}"), client.patch(f"/templates/{made['id']}", json={})):
        r = await call
        assert r.status_code == 404 and "not found" in r.json()["detail"]
    events = (await client.get("/audit", params={"action": "template."})).json()["items"]
    assert [e["action"] for e in events] == ["template.delete", "template.update", "template.update", "template.create"]
    assert all(e["client_addr"] for e in events)  # from where, like every other audited change


async def test_template_names_are_unique_ignoring_case(client):
    first = (await client.post("/templates", json={"name": "Rainy day", **BODY})).json()
    for name in ("Rainy day", "RAINY DAY", " rainy   day "):
        r = await client.post("/templates", json={"name": name, **BODY})
        assert r.status_code == 409 and "already exists" in r.json()["detail"], name
    other = (await client.post("/templates", json={"name": "Sunny day", **BODY})).json()
    r = await client.patch(f"/templates/{other['id']}", json={"name": "rainy DAY"})
    assert r.status_code == 409
    r = await client.patch(f"/templates/{first['id']}", json={"name": "Rainy Day"})  # its own name, recased
    assert r.status_code == 200 and r.json()["name"] == "Rainy Day"


async def test_bad_placeholders_and_fields_are_a_clear_422(client):
    bad_texts = ["in {key", "in key}", "an empty {} slot", "{1st} take", "{two words}", "{nested{key}}",
                 "{{key}}", "{" + "k" * 33 + "}", " ".join(f"{{p{i}}}" for i in range(11)), "   ", ""]
    for bad in bad_texts:
        r = await client.post("/templates", json={"name": "bad", "text": bad})
        assert r.status_code == 422, bad
        assert r.json()["detail"]
    detail = (await client.post("/templates", json={"name": "bad", "text": "in {key"})).json()["detail"]
    assert "placeholder" in detail
    for body in ({"name": "", "text": "ok"}, {"name": "x" * 81, "text": "ok"}, {"name": "n\x00", "text": "ok"},
                 {"name": "ok", "text": "x" * 2001}, {"name": "ok", "text": "ok", "attributes": {"tempo": 20}},
                 {"name": "ok", "text": "ok", "extra": 1}):
        assert (await client.post("/templates", json=body)).status_code == 422, body
    made = (await client.post("/templates", json={"name": "fine", "text": "fine {key}"})).json()
    assert (await client.patch(f"/templates/{made['id']}", json={"text": "broken {"})).status_code == 422
    assert (await client.get("/templates/x")).status_code in (404, 405)
    assert (await client.delete("/templates/0")).status_code == 422


async def test_raters_read_templates_and_trainers_write_them(app, rater, trainer):
    transport = httpx.ASGITransport(app=app)
    async with (httpx.AsyncClient(transport=transport, base_url="http://test/api", headers=rater.headers) as rita,
                httpx.AsyncClient(transport=transport, base_url="http://test/api", headers=trainer.headers) as tom):
        assert (await rita.get("/templates")).status_code == 200
        r = await rita.post("/templates", json={"name": "mine", **BODY})
        assert r.status_code == 403 and "trainer" in r.json()["detail"]
        made = await tom.post("/templates", json={"name": "Tom's", **BODY})
        assert made.status_code == 201 and made.json()["created_by"] == "tom"
        tid = made.json()["id"]
        assert (await rita.patch(f"/templates/{tid}", json={"name": "x"})).status_code == 403
        assert (await rita.delete(f"/templates/{tid}")).status_code == 403
        assert (await tom.delete(f"/templates/{tid}")).status_code == 204


def test_racing_creates_of_one_name_make_one_template(db, trainer):
    from tests.factories import run_concurrently
    from training_dashboard.schemas import TemplateCreate
    from training_dashboard.services import templates
    from training_dashboard.services.errors import Conflict
    from training_dashboard.services.principal import Principal

    actor = Principal(user_id=trainer.id, username=trainer.username, display_name="Tom", role="trainer",
                      rater_id=trainer.rater_id, via="token")
    errors = run_concurrently(lambda i: templates.create_template(
        db, actor, TemplateCreate(name="Same name" if i % 2 else "SAME NAME", text=f"take {i}")), 8)
    assert len(errors) == 7 and all(isinstance(e, Conflict) for e in errors), errors
    names = [t.name for t in templates.list_templates(db, 1, 200).items]
    assert sum(n.casefold() == "same name" for n in names) == 1


def test_racing_stars_of_one_prompt_make_one_favourite(db, trainer):
    from sqlalchemy import func, select

    from tests.factories import run_concurrently
    from training_dashboard.db.models import Prompt, PromptFavourite
    from training_dashboard.services import library

    with db.write_session() as session:
        prompt = Prompt(text="raced")
        session.add(prompt)
        session.flush()
        prompt_id = prompt.id
    assert run_concurrently(lambda i: library.set_favourite(db, trainer.id, prompt_id, True), 8) == []
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PromptFavourite)) == 1
