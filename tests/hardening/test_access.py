"""Token mode: every /api request needs the bearer token; audio streams via signed URLs."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.factories import make_clips
from training_dashboard.api.access import AudioSigner
from training_dashboard.api.app import create_app
from training_dashboard.client import ApiClient, ApiError
from training_dashboard.config import Settings

TOKEN = "s3cret-token"


@pytest.fixture
def token_app(tmp_path):  # type: ignore[no-untyped-def]
    cfg = Settings(data_dir=tmp_path / "data", base_model="tiny", worker=False, api_token=TOKEN)
    app = create_app(cfg, with_worker=False)
    yield app
    app.state.db.dispose()


async def test_every_api_request_needs_the_token(token_app):
    transport = httpx.ASGITransport(app=token_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api") as anon:
        for method, path in (("GET", "/health"), ("GET", "/feedback/stats"), ("POST", "/prompts"),
                             ("GET", "/openapi.json"), ("GET", "/audio/1/stream"), ("DELETE", "/datasets/1")):
            r = await anon.request(method, path)
            assert r.status_code == 401, path
            assert "token" in r.json()["detail"]
        r = await anon.get("/health", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = await anon.get("/health", headers={"Authorization": f"Basic {TOKEN}"})
        assert r.status_code == 401
    async with ApiClient("http://t/api", token=TOKEN, transport=transport) as api:
        assert (await api.health()).database is True
    async with ApiClient("http://t/api", token="nope", transport=transport) as api:
        with pytest.raises(ApiError) as err:
            await api.health()
        assert err.value.status == 401


async def test_signed_stream_urls(token_app):
    transport = httpx.ASGITransport(app=token_app)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=auth) as c:
        pid = (await c.post("/api/prompts", json={"text": "signed"})).json()["id"]
        ids = make_clips(token_app.state.db, token_app.state.settings, pid, n=2)
        detail = (await c.get(f"/api/prompts/{pid}")).json()
    url0, url1 = (s["stream_url"] for s in detail["samples"])
    assert "sig=" in url0 and "exp=" in url0 and TOKEN not in url0
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as browser:  # no token
        r = await browser.get(url0, headers={"Range": "bytes=0-3"})
        assert r.status_code == 206 and r.content == b"RIFF"
        assert (await browser.get(url0.replace(f"/{ids[0]}/", f"/{ids[1]}/"))).status_code == 401
        assert (await browser.get(url0[:-1] + ("0" if url0[-1] != "0" else "1"))).status_code == 401
        assert (await browser.get(url1)).status_code == 200
        assert (await browser.get(f"/api/audio/{ids[0]}")).status_code == 401  # metadata still needs the token
    signer = AudioSigner(TOKEN)
    expired = int(time.time()) - 10
    assert not signer.valid(ids[0], str(expired), signer._sig(ids[0], expired))


async def test_open_mode_needs_no_token_and_sends_no_cors(client):
    r = await client.get("/health", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    assert AudioSigner(None).url(5) == "/api/audio/5/stream"


def test_binds_to_loopback_by_default(monkeypatch):
    monkeypatch.delenv("TD_HOST", raising=False)
    assert Settings().host == "127.0.0.1"
