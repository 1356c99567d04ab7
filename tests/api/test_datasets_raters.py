"""Dataset filters by rater (rater_ids, min_raters) and per-clip aggregation:
preview count == snapshot count == exported rows, for every new field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import make_clips, make_lora_dir
from training_dashboard import schemas
from training_dashboard.db.models import AudioSample, Rating
from training_dashboard.services import feedback

# (clip, rater or None, rating, tags): clip "c*" from the base model, "l*" from the LoRA.
PLAN = [
    ("c0", "A", 5, ["warm"]), ("c0", "B", 4, []), ("c0", "C", 4, []),
    ("c1", "A", 2, []), ("c1", "B", 1, ["noisy"]),
    ("c2", "A", 4, []), ("c2", None, 2, []),
    ("c3", None, 5, []),
    ("c4", "B", 3, []), ("c4", "C", 5, ["warm"]),
    ("l0", "A", 4, []), ("l0", "B", 5, []), ("l0", "C", 3, []),
    ("l1", "C", 1, []),
]


@pytest.fixture
async def seeded(client, db, settings):
    make_lora_dir(settings.resolved_adapter_roots[0], "lora-r")
    adapter = (await client.post("/adapters", json={"name": "lora-r", "version": "1.0.0", "path": "lora-r",
                                                    "is_active": True})).json()
    pid = (await client.post("/prompts", json={"text": "choir"})).json()["id"]
    base = make_clips(db, settings, pid, n=5)
    lora = make_clips(db, settings, pid, n=2, adapter_id=adapter["id"])
    clips = {f"c{i}": c for i, c in enumerate(base)} | {f"l{i}": c for i, c in enumerate(lora)}
    raters = {n: (await client.post("/raters", json={"name": n})).json()["id"] for n in "ABC"}
    for clip, rater, rating, tags in PLAN:
        body = {"audio_id": clips[clip], "rating": rating, "tags": tags}
        if rater:
            body["rater_id"] = raters[rater]
            assert (await client.post("/feedback", json=body)).status_code == 201
        else:  # a rating from before raters existed (sign-in gives every new one a rater): through the service
            feedback.create_rating(db, schemas.FeedbackCreate(**body))
    # Preferences by A (2) and B (1), for the preference-dataset rater filter.
    for chosen, rejected, rater in (("c0", "c1", "A"), ("c2", "c1", "A"), ("c4", "c3", "B")):
        await client.post("/preferences", json={"chosen_id": clips[chosen], "rejected_id": clips[rejected],
                                                "rater_id": raters[rater]})
    return {"clips": clips, "raters": raters, "adapter_id": adapter["id"]}


def _expected_clip_means(flt, clips, raters):
    """Per clip: mean of the matching ratings (straight from PLAN, independent of the SQL)."""
    names = {v: k for k, v in raters.items()}
    wanted = {names[r] for r in flt.get("rater_ids", [])}
    per: dict[str, list[int]] = {}
    for clip, rater, rating, tags in PLAN:
        if wanted and rater not in wanted:
            continue
        if not set(flt.get("required_tags", [])) <= set(tags) or set(flt.get("excluded_tags", [])) & set(tags):
            continue
        if flt.get("adapter_id") is not None and not clip.startswith("l"):  # the only adapter filter used
            continue
        per.setdefault(clip, []).append(rating)
    n_raters = {c: len({r for cc, r, _, _ in PLAN if cc == c and r}) for c in clips}
    out = {}
    for clip, ratings in per.items():
        mean = sum(ratings) / len(ratings)
        if flt.get("min_raters") and n_raters[clip] < flt["min_raters"]:
            continue
        if mean < flt.get("min_rating", 1) or mean > flt.get("max_rating", 5):
            continue
        out[clips[clip]] = (round(mean, 4), len(ratings))
    return out


CASES = [  # (filter, expected count)
    ({"rater_ids": ["A"]}, 4),
    ({"rater_ids": ["A", "B"]}, 8),
    ({"min_raters": 2}, 10),
    ({"min_raters": 3}, 6),
    ({"min_raters": 2, "rater_ids": ["C"]}, 3),
    ({"rater_ids": ["C"], "min_rating": 4}, 2),
    ({"aggregate": "rating"}, 14),
    ({"aggregate": "clip"}, 7),
    ({"aggregate": "clip", "min_rating": 4}, 4),
    ({"aggregate": "clip", "max_rating": 2}, 2),
    ({"aggregate": "clip", "min_rating": 4, "min_raters": 2}, 3),
    ({"aggregate": "clip", "rater_ids": ["A"], "min_rating": 4}, 3),
    ({"aggregate": "clip", "required_tags": ["warm"]}, 2),
    ({"aggregate": "clip", "adapter_id": "ADAPTER"}, 2),
    ({"aggregate": "clip", "excluded_tags": ["noisy"], "max_rating": 2}, 2),
]


@pytest.mark.parametrize(("flt", "expected"), CASES, ids=[json.dumps(f) for f, _ in CASES])
async def test_preview_equals_snapshot_equals_export(client, db, seeded, flt, expected):
    raters = seeded["raters"]
    flt = {k: (seeded["adapter_id"] if v == "ADAPTER" else v) for k, v in flt.items()}
    if "rater_ids" in flt:
        flt["rater_ids"] = [raters[n] for n in flt["rater_ids"]]
    preview = (await client.post("/datasets/preview", json={"type": "supervised", "filter": flt})).json()
    assert preview["count"] == expected, preview
    created = await client.post("/datasets", json={"name": "by-raters", "filter": flt})
    assert created.status_code == 201, created.text
    dataset = created.json()
    assert dataset["sample_count"] == expected and dataset["filter"]["aggregate"] == flt.get("aggregate", "rating")
    export = (await client.post(f"/datasets/{dataset['id']}/export", json={"format": "jsonl"})).json()
    rows = [json.loads(line) for line in (Path(export["export_path"]) / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == export["sample_count"] == expected
    stats = (await client.get(f"/datasets/{dataset['id']}/stats")).json()
    assert stats["sample_count"] == expected and sum(stats["samples_by_adapter"].values()) == expected
    if flt.get("aggregate") == "clip":
        means = _expected_clip_means(flt, seeded["clips"], raters)
        assert {r["sample_id"]: (r["rating"], r["rating_count"]) for r in rows} == means
        assert sum(stats["rating_distribution"].values()) == expected
        return
    with db.session() as s:  # every rating row really matches the rater fields
        found = {rid: (rater, count) for rid, rater, count in s.execute(
            select(Rating.id, Rating.rater_id, AudioSample.rater_count)
            .join(AudioSample, AudioSample.id == Rating.audio_id).where(Rating.id.in_([r["id"] for r in rows])))}
    for row in rows:
        rater, count = found[row["id"]]
        if flt.get("rater_ids"):
            assert rater in flt["rater_ids"]
        if flt.get("min_raters"):
            assert count >= flt["min_raters"]
        if flt.get("min_rating"):
            assert row["rating"] >= flt["min_rating"]


async def test_clip_dataset_is_frozen(client, seeded):
    flt = {"aggregate": "clip", "min_rating": 4}
    ds = (await client.post("/datasets", json={"name": "clips", "filter": flt})).json()
    first = (await client.post(f"/datasets/{ds['id']}/export", json={})).json()
    # A later low rating drags c0's mean below 4: the preview changes, the snapshot does not.
    await client.post("/feedback", json={"audio_id": seeded["clips"]["c0"], "rating": 1})
    await client.post("/feedback", json={"audio_id": seeded["clips"]["c0"], "rating": 1})
    assert (await client.post("/datasets/preview", json={"filter": flt})).json()["count"] == 3
    second = (await client.post(f"/datasets/{ds['id']}/export", json={})).json()
    assert second["sample_count"] == first["sample_count"] == 4
    assert second["manifest_sha256"] == first["manifest_sha256"]


async def test_preference_dataset_by_rater(client, seeded):
    a, b = seeded["raters"]["A"], seeded["raters"]["B"]
    for raters, expected in (([a], 2), ([b], 1), ([a, b], 3), ([seeded["raters"]["C"]], 0)):
        flt = {"type": "preference", "filter": {"rater_ids": raters}}
        assert (await client.post("/datasets/preview", json=flt)).json()["count"] == expected
    ds = (await client.post("/datasets", json={"name": "prefs-a", "type": "preference",
                                               "filter": {"rater_ids": [a]}})).json()
    export = (await client.post(f"/datasets/{ds['id']}/export", json={})).json()
    assert ds["sample_count"] == export["sample_count"] == 2
    for bad in ({"min_raters": 2}, {"aggregate": "clip"}):
        r = await client.post("/datasets/preview", json={"type": "preference", "filter": bad})
        assert r.status_code == 400 and "supervised" in r.json()["detail"], bad


async def test_rater_filter_bad_input(client, seeded):
    r = await client.post("/datasets", json={"name": "ghost", "filter": {"rater_ids": [999]}})
    assert r.status_code == 404 and "Rater 999" in r.json()["detail"]
    for flt in ({"rater_ids": [0]}, {"rater_ids": ["a"]}, {"rater_ids": [1] * 101}, {"min_raters": 0},
                {"min_raters": 1001}, {"min_raters": 1.5}, {"aggregate": "prompt"}, {"aggregate": None}):
        r = await client.post("/datasets/preview", json={"filter": flt})
        assert r.status_code == 422 and r.json()["detail"], flt
    same = await client.post("/datasets/preview", json={"filter": {"rater_ids": [seeded["raters"]["A"]] * 3}})
    assert same.json()["count"] == 4  # duplicates collapse
