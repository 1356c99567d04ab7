"""The prompt library (issue 20): search, filters, sorts, favourites per person, on SQLite and PostgreSQL
(scripts/test.sh runs tests/api again with TD_TEST_DATABASE_URL)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.factories import make_clips
from training_dashboard.db import Database
from training_dashboard.db.migrate import upgrade
from training_dashboard.schemas import PromptQuery
from training_dashboard.services.library import search_prompts


async def _prompt(client: httpx.AsyncClient, words: str, **attributes: object) -> int:
    r = await client.post("/prompts", json={"text": words, "attributes": attributes})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _search(client: httpx.AsyncClient, **params: object) -> dict:
    r = await client.get("/prompts", params={k: str(v).lower() if isinstance(v, bool) else v
                                             for k, v in params.items()})
    assert r.status_code == 200, r.text
    return r.json()


async def _texts(client: httpx.AsyncClient, **params: object) -> list[str]:
    return [hit["text"] for hit in (await _search(client, **params))["items"]]


async def test_a_hit_carries_its_counts_rating_favourite_and_last_generation(client, db, settings):
    pid = await _prompt(client, "Dreamy arpeggiated synth over soft rain", style="synthwave", tempo=96,
                        instruments=["synth", "pads"], mood="dreamy")
    await _prompt(client, "A march for brass band")
    clips = make_clips(db, settings, pid, n=2, seed=41)
    later = make_clips(db, settings, pid, n=3, seed=77)
    for audio_id, stars in ((clips[0], 5), (clips[1], 4), (later[0], 2)):
        assert (await client.post("/feedback", json={"audio_id": audio_id, "rating": stars})).status_code == 201
    assert (await client.put(f"/prompts/{pid}/favourite")).status_code == 200

    page = await _search(client, q="arpeg")
    assert page["total"] == 1
    hit = page["items"][0]
    assert hit["id"] == pid and hit["text"] == "Dreamy arpeggiated synth over soft rain"
    assert hit["attributes"] == {"style": "synthwave", "tempo": 96, "instruments": ["synth", "pads"], "mood": "dreamy"}
    assert hit["generated"] == 5 and hit["rating_count"] == 3
    assert hit["mean_rating"] == pytest.approx(11 / 3, abs=1e-3)
    assert hit["favourite"] is True
    last = hit["last_generation"]  # the newest completed job: what "load in the editor" fills in
    assert last["num_samples"] == 3 and last["seed"] == 77 and last["params"]["duration"] == 0.5
    assert last["adapter_id"] is None and last["job_id"] > 0

    unrated = (await _search(client, q="march"))["items"][0]
    assert unrated["generated"] == 0 and unrated["rating_count"] == 0 and unrated["mean_rating"] is None
    assert unrated["favourite"] is False and unrated["last_generation"] is None


async def test_an_exact_phrase_ranks_above_a_partial_match(client):
    exact = await _prompt(client, "warm analog synth pads for a slow evening")
    # Newer, and the words more often (a higher engine score), but never side by side in this order
    partial = await _prompt(client, "synth synth synth lead, analog drums, analog bass, analog tape")
    ids = [h["id"] for h in (await _search(client, q="analog synth"))["items"]]
    assert ids == [exact, partial]
    # The phrase's last word is a prefix too, as the person is still typing it
    ids = [h["id"] for h in (await _search(client, q="analog syn"))["items"]]
    assert ids == [exact, partial]
    # Every word must match: a prompt with only one of them is not a hit
    await _prompt(client, "analog warmth only")
    assert [h["id"] for h in (await _search(client, q="analog synth"))["items"]] == [exact, partial]


async def test_prefix_case_and_accent_insensitive_matching_over_text_and_attributes(client):
    arp = await _prompt(client, "Arpeggio study in C")
    cafe = await _prompt(client, "Café crème jazz trio")
    plain = await _prompt(client, "cafe racer rock")
    marimba = await _prompt(client, "A bright little tune", instruments=["Marimba", "claves"], style="Bossa Nova",
                            mood="Sérénité")

    async def ids(q: str) -> list[int]:
        return sorted(h["id"] for h in (await _search(client, q=q))["items"])

    assert await ids("arpeg") == [arp]
    assert await ids("ARPEG") == [arp]
    assert await ids("cafe") == sorted([cafe, plain])
    assert await ids("CAFÉ") == sorted([cafe, plain])
    assert await ids("creme jazz") == [cafe]
    assert await ids("Crème") == [cafe]
    assert await ids("marim") == [marimba]  # an instrument
    assert await ids("bossa") == [marimba]  # the style
    assert await ids("serenite") == [marimba]  # the mood, without its accents
    assert await ids("nothing-like-this") == []


async def test_search_input_that_looks_like_query_syntax_is_just_words(client):
    pid = await _prompt(client, "lo-fi beat OR something NEAR(x) with \"quotes\" and a * star")
    for q in ['"', "'", "lo-fi", "OR", "NEAR(", "*", "-beat", "a:*", "x & y", "(((", "beat)", "\\", "%", "_"]:
        r = await client.get("/prompts", params={"q": q})
        assert r.status_code == 200, (q, r.text)
    assert [h["id"] for h in (await _search(client, q="lo-fi"))["items"]] == [pid]
    assert [h["id"] for h in (await _search(client, q="NEAR(x"))["items"]] == [pid]
    # No words at all (punctuation only): no text filter, every prompt
    assert (await _search(client, q="!!!"))["total"] == 1


async def test_filters_combine_and_sorts_order(client, db, settings):
    a = await _prompt(client, "jazz piano ballad", style="Jazz", mood="calm")
    b = await _prompt(client, "jazz guitar swing", style="jazz", mood="playful")
    c = await _prompt(client, "techno warehouse", style="techno", mood="dark")
    d = await _prompt(client, "jazz organ groove", style="jazz", mood="calm")
    clips_a = make_clips(db, settings, a, n=1)
    clips_b = make_clips(db, settings, b, n=3, adapter_id=7)
    clips_c = make_clips(db, settings, c, n=2)
    for audio_id, stars in ((clips_a[0], 5), (clips_b[0], 3), (clips_b[1], 4), (clips_c[0], 2)):
        assert (await client.post("/feedback", json={"audio_id": audio_id, "rating": stars})).status_code == 201

    assert await _texts(client, q="jazz") == ["jazz organ groove", "jazz guitar swing", "jazz piano ballad"]
    assert await _texts(client, style="JAZZ", mood="calm") == ["jazz organ groove", "jazz piano ballad"]
    assert await _texts(client, q="jazz", rated=True) == ["jazz guitar swing", "jazz piano ballad"]
    assert await _texts(client, rated=False) == ["jazz organ groove"]
    assert await _texts(client, min_mean_rating=3.5) == ["jazz guitar swing", "jazz piano ballad"]
    assert await _texts(client, min_mean_rating=4, q="swing") == []
    assert await _texts(client, adapter_id=7) == ["jazz guitar swing"]
    assert await _texts(client, adapter_id=8) == []
    assert await _texts(client, sort="best_rated") == ["jazz piano ballad", "jazz guitar swing", "techno warehouse",
                                                       "jazz organ groove"]
    assert await _texts(client, sort="most_generated") == ["jazz guitar swing", "techno warehouse",
                                                           "jazz piano ballad", "jazz organ groove"]
    assert await _texts(client, sort="newest", q="jazz") == ["jazz organ groove", "jazz guitar swing",
                                                             "jazz piano ballad"]
    assert (await client.put(f"/prompts/{d}/favourite")).status_code == 200
    assert await _texts(client, favourite=True) == ["jazz organ groove"]
    assert await _texts(client, favourite=False, style="jazz") == ["jazz guitar swing", "jazz piano ballad"]

    first = await _search(client, q="jazz", sort="newest", limit=2)
    second = await _search(client, q="jazz", sort="newest", limit=2, page=2)
    assert first["total"] == second["total"] == 3
    assert [h["id"] for h in first["items"] + second["items"]] == [d, b, a]

    facets = (await client.get("/prompts/facets")).json()
    assert facets["styles"][0] == {"value": "Jazz", "count": 3}  # grouped ignoring case
    assert {"value": "techno", "count": 1} in facets["styles"]
    assert facets["moods"][0] == {"value": "calm", "count": 2}


async def test_favourites_belong_to_each_person_and_are_idempotent(app, client, rater, trainer):
    one, two = await _prompt(client, "first tune"), await _prompt(client, "second tune")
    transport = httpx.ASGITransport(app=app)
    async with (httpx.AsyncClient(transport=transport, base_url="http://test/api", headers=rater.headers) as rita,
                httpx.AsyncClient(transport=transport, base_url="http://test/api", headers=trainer.headers) as tom):
        for _ in range(2):  # twice: the same answer, one star
            r = await rita.put(f"/prompts/{one}/favourite")
            assert r.status_code == 200 and r.json() == {"prompt_id": one, "favourite": True}
        assert (await tom.put(f"/prompts/{two}/favourite")).json() == {"prompt_id": two, "favourite": True}
        assert [h["id"] for h in (await _search(rita, favourite=True))["items"]] == [one]
        assert [h["id"] for h in (await _search(tom, favourite=True))["items"]] == [two]
        assert (await _search(client, favourite=True))["total"] == 0  # the admin starred nothing
        stars = {h["id"]: h["favourite"] for h in (await _search(rita))["items"]}
        assert stars == {one: True, two: False}
        for _ in range(2):
            r = await rita.delete(f"/prompts/{one}/favourite")
            assert r.status_code == 200 and r.json() == {"prompt_id": one, "favourite": False}
        assert (await _search(rita, favourite=True))["total"] == 0
        assert [h["id"] for h in (await _search(tom, favourite=True))["items"]] == [two]
        r = await rita.put("/prompts/999999/favourite")
        assert r.status_code == 404 and "not found" in r.json()["detail"]
        assert (await rita.delete("/prompts/999999/favourite")).status_code == 404


async def test_the_history_shows_the_askers_star(client, db, settings):
    starred, other = await _prompt(client, "starred one"), await _prompt(client, "other one")
    make_clips(db, settings, starred, n=1)
    make_clips(db, settings, other, n=1)
    await client.put(f"/prompts/{starred}/favourite")
    jobs = (await client.get("/generate")).json()["items"]
    assert {j["prompt"]["id"]: j["prompt_favourite"] for j in jobs} == {starred: True, other: False}


async def test_a_rater_searches_without_adapter_details(app, client, db, settings, rater):
    pid = await _prompt(client, "blind tune")
    make_clips(db, settings, pid, n=1, adapter_id=3)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/api",
                                 headers=rater.headers) as rita:
        hit = (await _search(rita, q="blind"))["items"][0]
        assert hit["id"] == pid and hit["last_generation"] is None
        r = await rita.get("/prompts", params={"adapter_id": 3})
        assert r.status_code == 403 and "trainer" in r.json()["detail"]
        assert (await rita.post("/prompts", json={"text": "x"})).status_code == 403


async def test_search_bad_input_is_a_clear_422(client):
    for params in ({"q": "x" * 201}, {"q": "bad\x01char"}, {"sort": "random"}, {"min_mean_rating": 6},
                   {"min_mean_rating": 0.5}, {"min_mean_rating": "nan"}, {"rated": "perhaps"}, {"adapter_id": 0},
                   {"adapter_id": 2**31}, {"page": 0}, {"limit": 201}, {"style": "s" * 201}, {"unknown": 1}):
        r = await client.get("/prompts", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["detail"]
    assert (await client.put("/prompts/0/favourite")).status_code == 422


def test_the_migration_indexes_and_counts_existing_prompts(settings):
    """A database from before the library (0011) with prompts, clips and ratings: 0012 builds the
    search index and the counters for them, and the triggers keep both in step afterwards."""
    url = settings.database_url or f"sqlite:///{settings.resolved_data_dir / 'old.db'}"
    db = Database(url)
    upgrade(db, "0011")
    now = "2026-01-01 00:00:00"
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO prompt (id, text, style, tempo, instruments, mood, created_at) VALUES "
                          "(1, 'Vieux café musette', 'musette', 100, '[\"accordéon\"]', 'nostalgic', :t), "
                          "(2, 'modern techno', NULL, NULL, '[]', NULL, :t)"), {"t": now})
        for clip, prompt in ((1, 1), (2, 1), (3, 2)):
            conn.execute(text("INSERT INTO audio_sample (id, prompt_id, seed, duration, sample_rate, file_path, "
                              "params, rating_count, rater_count, created_at) VALUES (:id, :p, 1, 1.0, 32000, "
                              "'x.wav', '{}', 0, 0, :t)"), {"id": clip, "p": prompt, "t": now})
        for rid, clip, prompt, stars in ((1, 1, 1, 5), (2, 2, 1, 2), (3, 1, 1, 4)):
            conn.execute(text("INSERT INTO rating (id, audio_id, prompt_id, rating, tags, created_at) "
                              "VALUES (:id, :a, :p, :r, '[]', :t)"), {"id": rid, "a": clip, "p": prompt, "r": stars,
                                                                     "t": now})
        if not db.is_sqlite:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('prompt', 'id'), 2)"))
            conn.execute(text("SELECT setval(pg_get_serial_sequence('audio_sample', 'id'), 3)"))
            conn.execute(text("SELECT setval(pg_get_serial_sequence('rating', 'id'), 3)"))
    upgrade(db)

    def find(**query: object) -> list[tuple[int, int, int, float | None]]:
        page = search_prompts(db, PromptQuery(**query), 0, with_generation=False)
        return [(h.id, h.generated, h.rating_count, h.mean_rating and round(h.mean_rating, 3)) for h in page.items]

    assert find(q="cafe") == [(1, 2, 3, round(11 / 3, 3))]
    assert find(q="accordeon") == [(1, 2, 3, round(11 / 3, 3))]
    assert find(q="techn") == [(2, 1, 0, None)]
    with db.engine.begin() as conn:  # later writes, by any writer, keep the index and the counters in step
        conn.execute(text("INSERT INTO rating (audio_id, prompt_id, rating, tags, created_at) "
                          "VALUES (3, 2, 3, '[]', :t)"), {"t": now})
        conn.execute(text("INSERT INTO audio_sample (prompt_id, seed, duration, sample_rate, file_path, params, "
                          "rating_count, rater_count, created_at) VALUES (2, 1, 1.0, 32000, 'y.wav', '{}', 0, 0, :t)"),
                     {"t": now})
        conn.execute(text("UPDATE prompt SET text = 'minimal techno at dawn' WHERE id = 2"))
    assert find(q="dawn") == [(2, 2, 1, 3.0)]
    assert find(q="modern") == []
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM rating WHERE id = 4"))
        conn.execute(text("DELETE FROM rating WHERE prompt_id = 1 AND rating = 2"))
    assert find(q="dawn") == [(2, 2, 0, None)]
    assert find(q="musette") == [(1, 2, 2, 4.5)]
    db.dispose()
