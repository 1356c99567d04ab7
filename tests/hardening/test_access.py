"""Sign-in on: every /api request needs credentials; audio streams via signed URLs; TD_AUTH=off only on loopback."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.factories import ANONYMOUS, make_clips
from training_dashboard.api.access import AudioSigner
from training_dashboard.api.app import create_app
from training_dashboard.client import ApiClient, ApiError
from training_dashboard.config import BindRefused, Settings, check_bind


async def test_every_api_request_needs_credentials(app, admin_token):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api", headers=ANONYMOUS) as anon:
        for method, path in (("GET", "/feedback/stats"), ("POST", "/prompts"), ("GET", "/audio/1/stream"),
                             ("DELETE", "/datasets/1"), ("GET", "/auth/me"), ("GET", "/users")):
            r = await anon.request(method, path)
            assert r.status_code == 401, path
            assert "Sign in" in r.json()["detail"]
        for header in ("Bearer wrong", "Bearer td_wrong", f"Basic {admin_token}"):
            assert (await anon.get("/prompts", headers={"Authorization": header})).status_code == 401
        health = (await anon.get("/health")).json()  # liveness stays public, without details
        assert health["status"] == "ok" and health["workers"] == [] and health["model"]["error"] is None
        assert (await anon.get("/openapi.json")).status_code == 200
    async with ApiClient("http://t/api", token=admin_token, transport=transport) as api:
        assert (await api.health()).database is True
        assert (await api.me()).username == "admin"
    async with ApiClient("http://t/api", token="td_nope", transport=transport) as api:
        with pytest.raises(ApiError) as err:
            await api.me()
        assert err.value.status == 401


async def test_signed_stream_urls(app, admin_token):
    transport = httpx.ASGITransport(app=app)
    auth = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=auth) as c:
        pid = (await c.post("/api/prompts", json={"text": "signed"})).json()["id"]
        ids = make_clips(app.state.db, app.state.settings, pid, n=2)
        detail = (await c.get(f"/api/prompts/{pid}")).json()
    url0, url1 = (s["stream_url"] for s in detail["samples"])
    assert "sig=" in url0 and "exp=" in url0 and admin_token not in url0
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=ANONYMOUS) as browser:
        r = await browser.get(url0, headers={"Range": "bytes=0-3"})
        assert r.status_code == 206 and r.content == b"RIFF"
        assert (await browser.get(url0.replace(f"/{ids[0]}/", f"/{ids[1]}/"))).status_code == 401
        assert (await browser.get(url0[:-1] + ("0" if url0[-1] != "0" else "1"))).status_code == 401
        assert (await browser.get(url1)).status_code == 200
        assert (await browser.get(f"/api/audio/{ids[0]}")).status_code == 401  # metadata still needs sign-in
    signer = AudioSigner(app.state.settings.resolved_secret_key())
    expired = int(time.time()) - 10
    assert not signer.valid(ids[0], str(expired), signer._sig(ids[0], expired))


def test_the_secret_key_is_made_once_and_private(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    key = settings.resolved_secret_key()
    path = tmp_path / "data" / "secret_key"
    assert path.stat().st_mode & 0o777 == 0o600 and len(key) >= 32
    assert Settings(data_dir=tmp_path / "data").resolved_secret_key() == key  # every process shares it
    assert Settings(data_dir=tmp_path / "data", secret_key="given").resolved_secret_key() == b"given"


async def test_off_mode_needs_no_credentials_and_sends_no_cors(tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "data", base_model="tiny", worker=False, auth="off"),
                     with_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t/api") as c:
        r = await c.get("/health", headers={"Origin": "http://evil.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        me = (await c.get("/auth/me")).json()
        assert (me["role"], me["auth"]) == ("admin", "off")
        assert (await c.post("/prompts", json={"text": "open"})).status_code == 201
    assert AudioSigner(None).url(5) == "/api/audio/5/stream"
    app.state.db.dispose()


def test_off_mode_refuses_a_non_loopback_bind(tmp_path):
    off = Settings(data_dir=tmp_path / "data", auth="off")
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"):
        check_bind(off, host)
    for host in ("0.0.0.0", "::", "10.0.0.5", "example.com"):
        with pytest.raises(BindRefused, match="TD_AUTH=off"):
            check_bind(off, host)
    check_bind(Settings(data_dir=tmp_path / "data"), "0.0.0.0")  # sign-in on: any address
    with pytest.raises(BindRefused):
        create_app(Settings(data_dir=tmp_path / "data", auth="off", host="0.0.0.0"), with_worker=False)


def test_binds_to_loopback_by_default(monkeypatch):
    monkeypatch.delenv("TD_HOST", raising=False)
    assert Settings().host == "127.0.0.1"
