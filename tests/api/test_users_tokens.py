"""Users (admin), personal access tokens (shown once, hashed at rest, revocable, last use) and the audit log."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select, text, update

from training_dashboard.db.models import ApiToken, UserAccount, utcnow


async def test_users_are_created_with_a_rater_and_a_long_password(client, db):
    r = await client.post("/users", json={"username": "Rita.K", "display_name": "Rita K", "password": "short"})
    assert r.status_code == 422
    for bad in ("", "has space", "x" * 65, "slash/"):
        assert (await client.post("/users", json={"username": bad})).status_code == 422, bad
    r = await client.post("/users", json={"username": "Rita.K", "display_name": "Rita K",
                                          "password": "long-enough-pw"})
    assert r.status_code == 201
    user = r.json()
    assert (user["username"], user["role"], user["has_password"]) == ("rita.k", "rater", True)
    assert (await client.post("/users", json={"username": "rita.k"})).status_code == 409
    raters = (await client.get("/raters")).json()
    assert any(x["id"] == user["rater_id"] and x["name"] == "Rita K" for x in raters)
    with db.session() as session:
        stored = session.scalar(select(UserAccount.password_hash).where(UserAccount.id == user["id"]))
    assert stored.startswith("$argon2id$") and "long-enough-pw" not in stored
    listed = (await client.get("/users")).json()
    assert [u["username"] for u in listed] == ["admin", "rita.k"] and "password_hash" not in str(listed)


async def test_the_last_active_admin_stays(client):
    admin = next(u for u in (await client.get("/users")).json() if u["username"] == "admin")
    assert (await client.patch(f"/users/{admin['id']}", json={"role": "trainer"})).status_code == 409
    assert (await client.patch(f"/users/{admin['id']}", json={"disabled": True})).status_code == 409
    other = (await client.post("/users", json={"username": "second", "role": "admin"})).json()
    assert (await client.patch(f"/users/{other['id']}", json={"role": "trainer"})).status_code == 200
    assert (await client.patch("/users/999999", json={"role": "trainer"})).status_code == 404


async def test_a_token_is_shown_once_and_stored_hashed(client, db, rater):
    r = await client.post("/tokens", json={"name": "laptop", "expires_in_days": 7}, headers=rater.headers)
    assert r.status_code == 201
    made = r.json()
    secret = made["token"]
    assert secret.startswith("td_") and len(secret) >= 3 + 43 and made["prefix"] == secret[:8]
    listed = (await client.get("/tokens", headers=rater.headers)).json()
    assert {t["name"] for t in listed} == {"rita-token", "laptop"} and "token" not in listed[0]
    with db.session() as session:
        row = session.get(ApiToken, made["id"])
        dump = " ".join(str(v) for v in session.execute(text("SELECT * FROM api_token")).all())
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in dump
    assert row.expires_at is not None and abs((row.expires_at - utcnow()) - timedelta(days=7)) < timedelta(minutes=1)
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["username"] == "rita"
    assert (await client.get("/tokens", headers=rater.headers)).json()[0]["last_used_at"] is not None


async def test_revoked_and_expired_tokens_are_401_on_the_next_request(client, db, rater):
    made = (await client.post("/tokens", json={"name": "ci"}, headers=rater.headers)).json()
    auth = {"Authorization": f"Bearer {made['token']}"}
    assert (await client.get("/auth/me", headers=auth)).status_code == 200
    assert (await client.delete(f"/tokens/{made['id']}", headers=rater.headers)).status_code == 204
    assert (await client.get("/auth/me", headers=auth)).status_code == 401
    listed = {t["id"]: t for t in (await client.get("/tokens", headers=rater.headers)).json()}
    assert listed[made["id"]]["revoked_at"] is not None
    with db.write_session() as session:
        session.execute(update(ApiToken).where(ApiToken.name == "rita-token")
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await client.get("/auth/me", headers=rater.headers)).status_code == 401


async def test_own_tokens_for_users_everyones_for_admins(client, rater, trainer, admin_token):
    mine = (await client.get("/tokens", headers=trainer.headers)).json()
    assert [t["username"] for t in mine] == ["tom"]
    rater_token = (await client.get("/tokens", headers=rater.headers)).json()[0]
    assert (await client.delete(f"/tokens/{rater_token['id']}", headers=trainer.headers)).status_code == 404
    assert (await client.get("/tokens", params={"user_id": rater.id}, headers=trainer.headers)).status_code == 403
    everyone = (await client.get("/tokens")).json()
    assert {"rita", "tom", "admin"} <= {t["username"] for t in everyone}
    only = (await client.get("/tokens", params={"user_id": rater.id})).json()
    assert {t["username"] for t in only} == {"rita"}
    made = (await client.post("/tokens", params={"user_id": rater.id}, json={"name": "for-rita"})).json()
    assert made["user_id"] == rater.id
    assert (await client.delete(f"/tokens/{rater_token['id']}")).status_code == 204  # an admin: anyone's
    assert (await client.get("/auth/me", headers=rater.headers)).status_code == 401


async def test_the_audit_log_records_and_filters(client, rater):
    user = (await client.post("/users", json={"username": "una"})).json()
    await client.patch(f"/users/{user['id']}", json={"role": "trainer", "password": "new-password-123"})
    await client.patch(f"/users/{user['id']}", json={"disabled": True})
    token = (await client.post("/tokens", json={"name": "x"}, headers=rater.headers)).json()
    await client.delete(f"/tokens/{token['id']}", headers=rater.headers)
    page = (await client.get("/audit", params={"limit": 200})).json()
    actions = [e["action"] for e in page["items"]]
    for expected in ("user.create", "user.role", "user.password", "user.disable", "token.create", "token.revoke",
                     "setup.admin"):
        assert expected in actions, expected
    times = [e["at"] for e in page["items"]]
    assert times == sorted(times, reverse=True) and page["total"] == len(page["items"])
    by_rita = (await client.get("/audit", params={"actor": "rita"})).json()["items"]
    assert {e["action"] for e in by_rita} == {"token.create", "token.revoke"}
    assert all(e["actor_name"] == "rita" for e in by_rita)
    users_only = (await client.get("/audit", params={"action": "user."})).json()["items"]
    assert {e["action"] for e in users_only} == {"user.create", "user.role", "user.password", "user.disable"}
    paged = (await client.get("/audit", params={"limit": 2, "page": 2})).json()
    assert len(paged["items"]) == 2 and paged["items"][0]["id"] == page["items"][2]["id"]
    future = (await client.get("/audit", params={"since": "2999-01-01T00:00:00Z"})).json()
    assert future == {"items": [], "total": 0}
    assert (await client.get("/audit", headers=rater.headers)).status_code == 403
    for method in ("DELETE", "PATCH", "PUT", "POST"):  # append-only: no route changes it
        assert (await client.request(method, "/audit")).status_code == 405
