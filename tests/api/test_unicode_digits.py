"""Ids and numbers written with Unicode digits: a clear 4xx (or "not a number"), never a 500.

``str.isdigit()`` is True for "³", "٣" or full-width "１", which ``int()`` refuses (or reads as
another number); every place that parsed text that way now goes through ``schemas.parse_int``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.factories import ANONYMOUS, make_clips
from training_dashboard.schemas import MAX_ID, parse_int
from training_dashboard.services.counters import adapter_labels
from training_dashboard.training.layout import STATE_FILE, latest_checkpoint_step

# superscript three, Arabic-Indic three, full-width one, "1" + combining acute, Devanagari one, a
# Unicode digit after ASCII ones, a subscript, and the ASCII ones int() takes but an id must not have
ODD = ["³", "٣", "１", "1\u0301", "१", "12³", "₂", "¹²", " 7", "+7", "7_0", "٣٣"]


def test_parse_int_takes_ascii_digits_only() -> None:
    assert parse_int("7") == 7 and parse_int(str(MAX_ID)) == MAX_ID and parse_int("007") == 7
    for text in [*ODD, "", "0", "-1", str(MAX_ID + 1), "9" * 19, "7\n", None]:
        assert parse_int(text) is None, repr(text)
    assert parse_int("0", 0) == 0 and parse_int("201", 40, 200) is None and parse_int("40", 40, 200) == 40


@pytest.mark.parametrize("path", ["/audio", "/feedback", "/queue/next", "/queue/summary"])
async def test_adapter_filter_with_unicode_digits_is_a_400(client, db, settings, path):
    pid = (await client.post("/prompts", json={"text": "x"})).json()["id"]
    make_clips(db, settings, pid, n=1)
    rater = (await client.post("/raters", json={"name": "ana"})).json()["id"]
    for text in ODD:
        r = await client.get(path, params={"adapter_id": text, "rater_id": rater})
        assert r.status_code == 400, (text, r.text)
        assert "adapter_id must be a positive integer or 'base'" in r.json()["detail"]
    assert (await client.get(path, params={"adapter_id": "base", "rater_id": rater})).status_code in (200, 204)


async def test_signed_stream_urls_with_unicode_expiry_or_signature_are_401(app):
    signer = app.state.signer
    good = signer.url(1)  # /api/audio/1/stream?exp=...&sig=...
    exp, sig = good.split("exp=")[1].split("&sig=")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers=ANONYMOUS) as anon:
        assert (await anon.get(good)).status_code == 404  # the signature lets it through; no such clip
        for bad_exp in ["³" * 10, "٣" * 10, "１" * 10, exp + "\u0301", exp[:-1] + "³"]:
            r = await anon.get("/api/audio/1/stream", params={"exp": bad_exp, "sig": sig})
            assert r.status_code == 401, (bad_exp, r.text)
            r = await anon.get("/api/evaluations/1/pairs/1/first/stream",
                               params={"rater_id": "1", "exp": bad_exp, "sig": sig})
            assert r.status_code == 401, (bad_exp, r.text)
        for bad_sig in ["é" * 32, sig[:-1] + "³", "１" * 32]:  # non-ASCII text once broke compare_digest
            assert (await anon.get("/api/audio/1/stream", params={"exp": exp, "sig": bad_sig})).status_code == 401
            r = await anon.get("/api/evaluations/1/pairs/1/first/stream",
                               params={"rater_id": "1", "exp": exp, "sig": bad_sig})
            assert r.status_code == 401
    assert signer.valid(1, "٣" * 10, sig) is False and signer.valid_path("/x", "³", sig) is False


async def test_adapter_labels_of_odd_keys(db):
    with db.session() as session:
        labels = adapter_labels(session, (k for k in ["base", "³", "٣", "7"]))  # a generator: read once
    assert labels == {"base": "base", "³": "base", "٣": "base", "7": "adapter #7 (deleted)"}


def test_checkpoint_dirs_named_with_unicode_digits_are_not_checkpoints(tmp_path):
    for name in ("step-000004", "step-³", "step-٣٣", "step-１２"):
        (tmp_path / "checkpoints" / name).mkdir(parents=True)
        (tmp_path / "checkpoints" / name / STATE_FILE).write_bytes(b"x")
    assert latest_checkpoint_step(tmp_path) == 4


def test_training_child_ignores_a_parent_pid_in_unicode_digits():
    code = "from training_dashboard.training.stopping import _exit_with_parent; _exit_with_parent(); print('ok')"
    for parent in ("³", "٣"):
        done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TD_PARENT_PID": parent},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
