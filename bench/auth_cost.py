"""What sign-in costs: the sign-in itself (Argon2id), and what authentication adds to every request.

Starts two APIs on 127.0.0.1 (``python -m training_dashboard.api --no-worker``, fresh data dirs):
one with sign-in on (``TD_ADMIN_USER`` / ``TD_ADMIN_PASSWORD``) and one with ``TD_AUTH=off``. The
signed-in one gets ``--sessions`` extra sessions and as many personal tokens (so each look-up is one
in a full index, not in a table of one row).

* sign-in: ``--logins`` sequential ``POST /api/auth/login``, wall p50/p99 and server CPU per sign-in;
* per request: interleaved rounds of ``--requests`` sequential keep-alive ``GET /api/prompts?limit=1``
  with the session cookie, with a personal token (both on the signed-in API) and with nothing (the
  ``TD_AUTH=off`` API); the server's CPU per request (psutil) and p50/p99, median over ``--rounds``.
  "added" is each one minus ``TD_AUTH=off``: the cost of the session or token look-up.

    .venv/bin/python -m bench.auth_cost                      # ~1 min
    .venv/bin/python -m bench.auth_cost --rounds 9 --requests 500 --sessions 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.load import Call, percentile
from bench.request_cost import median_of, one_round
from bench.server import BENCH_PASSWORD, BENCH_USER, Server

PATH = "/api/prompts?limit=1"


def seed_credentials(data_dir: Path, n: int) -> None:
    """``n`` sessions and ``n`` personal tokens of the admin (random secrets nobody holds)."""
    import hashlib
    import secrets
    from datetime import timedelta

    from sqlalchemy import insert

    from training_dashboard.config import Settings
    from training_dashboard.db import Database
    from training_dashboard.db.models import ApiToken, AuthSession, utcnow

    db = Database(Settings(data_dir=data_dir).db_url)
    now = utcnow()
    with db.write_session() as session:
        for start in range(0, n, 5000):
            rows = range(start, min(n, start + 5000))
            session.execute(insert(AuthSession), [
                {"secret_hash": hashlib.sha256(secrets.token_bytes(16)).hexdigest(), "user_id": 1, "created_at": now,
                 "last_seen_at": now, "expires_at": now + timedelta(days=7)} for _ in rows])
            session.execute(insert(ApiToken), [
                {"user_id": 1, "name": f"seed-{i}", "secret_hash": hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
                 "prefix": "td_seed", "created_at": now} for i in rows])
    db.dispose()


def sign_ins(base: str, server: Server, n: int) -> dict[str, float]:
    times = []
    with httpx.Client(base_url=base, timeout=60) as http:
        http.post("/api/auth/login", json={"username": BENCH_USER, "password": BENCH_PASSWORD})  # warm-up
        cpu0 = server.cpu_seconds()
        for _ in range(n):
            t = time.perf_counter()
            http.post("/api/auth/login", json={"username": BENCH_USER, "password": BENCH_PASSWORD}).raise_for_status()
            times.append((time.perf_counter() - t) * 1000)
        cpu = (server.cpu_seconds() - cpu0) * 1000 / n
    return {"p50_ms": percentile(times, 0.5), "p99_ms": percentile(times, 0.99), "cpu_ms": cpu}


def session_secret(base: str) -> str:
    with httpx.Client(base_url=base, timeout=60) as http:
        answer = http.post("/api/auth/login", json={"username": BENCH_USER, "password": BENCH_PASSWORD})
        return answer.raise_for_status().cookies["td_session"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.auth_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--logins", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=20_000, help="extra sessions and tokens in the tables")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="td-authcost-") as tmp:
        on = Server(Path(tmp) / "on", None, Path(tmp) / "on.log")
        off = Server(Path(tmp) / "off", None, Path(tmp) / "off.log", env={"TD_AUTH": "off"})
        try:
            on.start()
            off.start()
            seed_credentials(on.data_dir, args.sessions)
            result["sign_in"] = sign_ins(on.base, on, args.logins)
            cookie = session_secret(on.base)
            targets = [
                ("off (no credentials)", off, Call("off", "GET", PATH, headers=())),
                ("on, session cookie", on, Call("cookie", "GET", PATH, headers=(("Cookie", f"td_session={cookie}"),))),
                ("on, personal token", on, Call("token", "GET", PATH,
                                                headers=(("Authorization", f"Bearer {on.token}"),))),
            ]
            per: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in targets}
            for r in range(args.rounds):
                for name, server, call in (targets if r % 2 == 0 else list(reversed(targets))):
                    per[name].append(asyncio.run(one_round(server.port, call, server.cpu_seconds, args.requests,
                                                           args.warmup)))
            result["requests"] = {name: median_of(rows) for name, rows in per.items()}
            base = per["off (no credentials)"]
            for name in ("on, session cookie", "on, personal token"):
                result["requests"][name]["added_cpu_ms"] = statistics.median(
                    a["cpu_ms"] - b["cpu_ms"] for a, b in zip(per[name], base, strict=True))
                result["requests"][name]["added_p50_ms"] = statistics.median(
                    a["p50_ms"] - b["p50_ms"] for a, b in zip(per[name], base, strict=True))
        finally:
            on.stop()
            off.stop()
    s = result["sign_in"]
    print(f"sign-in (Argon2id t=3, m=64 MiB, p=4), {args.logins} sequential: p50 {s['p50_ms']:.0f} ms, "
          f"p99 {s['p99_ms']:.0f} ms, server CPU {s['cpu_ms']:.0f} ms each  (target p50 <= 300 ms)")
    print(f"GET {PATH}: {args.rounds} interleaved rounds x {args.requests} keep-alive requests, "
          f"{args.sessions} extra sessions and tokens; median per request")
    print(f"{'':<24} {'cpu ms':>8} {'p50 ms':>8} {'p99 ms':>8} {'added cpu':>10} {'added p50':>10}")
    for name, row in result["requests"].items():
        added = (f"{row['added_cpu_ms']:10.3f} {row['added_p50_ms']:10.3f}" if "added_cpu_ms" in row else "")
        print(f"{name:<24} {row['cpu_ms']:8.3f} {row['p50_ms']:8.3f} {row['p99_ms']:8.3f} {added}")
    print("target: added p50 <= 1 ms per request")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
