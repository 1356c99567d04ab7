"""Writes under concurrent load: clients without think time against the app as users run it.

Starts ``python -m training_dashboard.api`` on 127.0.0.1 (a free port) WITH its embedded
worker and the tiny model (``TD_BASE_MODEL=tiny``) on a seeded data dir (``bench.seed``,
``--scale 0.01`` unless told otherwise), creates one rater per client, then runs
``--clients`` keep-alive connections that send back to back for ``--duration`` seconds (at
most ``--max-requests`` in all): 35 % ratings, 10 % preferences, 5 % small generation jobs
(one 1-second clip), the rest reads (the rating queue, the feedback stats, a clip page,
health). Prints per operation p50/p99/max and errors, the request total, the server's RSS
at start and end, and checks that nothing was lost: the rows the database gained equal the
2xx answers (exit status 1 if not).

    .venv/bin/python -m bench.write_load --duration 30               # ~1 min with seeding
    .venv/bin/python -m bench.write_load --duration 120 --clients 16
    scripts/with_postgres.sh bash -c '.venv/bin/python -m bench.write_load --duration 120 \\
        --database-url "$TD_TEST_DATABASE_URL"'
    .venv/bin/python -m bench.write_load --app-root /tmp/td-main   # serve another checkout (A/B)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine, text

from bench.load import Call, Conn, percentile
from bench.server import (
    BENCH_PASSWORD,
    BENCH_USER,
    HOST,
    free_port,
    launch,
    personal_token,
    rater_tokens,
    stop_process_group,
)

ROOT = Path(__file__).resolve().parent.parent
MIX = (("rating", 0.35), ("preference", 0.10), ("generate", 0.05), ("read", 0.50))
TABLES = {"rating": "rating", "preference": "preference", "generate": "generation_job"}


class App:
    """The API with its embedded worker, as ``python -m training_dashboard.api`` serves it."""

    def __init__(self, data_dir: Path, database_url: str | None, log_path: Path, app_root: Path,
                 torch_threads: int | None = None) -> None:
        self.data_dir, self.database_url, self.log_path, self.app_root = data_dir, database_url, log_path, app_root
        self.torch_threads = torch_threads
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None

    def start(self, timeout: float = 180.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TD_")}
        env.update(TD_DATA_DIR=str(self.data_dir), TD_WORKER="true", TD_BASE_MODEL="tiny", HF_HUB_OFFLINE="1",
                   TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(self.app_root), TD_ADMIN_USER=BENCH_USER,
                   TD_ADMIN_PASSWORD=BENCH_PASSWORD)
        if self.database_url:
            env["TD_DATABASE_URL"] = self.database_url
        if self.torch_threads:
            env["TD_TORCH_THREADS"] = str(self.torch_threads)
        self.proc, self.ps = launch([sys.executable, "-m", "training_dashboard.api", "--host", HOST, "--port",
                                     str(self.port)], env, self.log_path, self.app_root,
                                    f"http://{HOST}:{self.port}/api/health", "the API", timeout,
                                    start_new_session=True)

    def rss_mb(self) -> float:
        assert self.ps is not None
        try:
            return sum(p.memory_info().rss for p in (self.ps, *self.ps.children(recursive=True))) / 2**20
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)


def seed(data_dir: Path, database_url: str | None, scale: float) -> None:
    cmd = [sys.executable, "-m", "bench.seed", "--scale", str(scale), "--data-dir", str(data_dir), "--force"]
    if database_url:
        cmd += ["--database-url", database_url]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def db_url(data_dir: Path, database_url: str | None) -> str:
    return database_url or f"sqlite:///{data_dir / 'training_dashboard.db'}"


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {op: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
                    for op, table in TABLES.items()}
    finally:
        engine.dispose()


def clips_by_prompt(url: str) -> list[list[int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            groups: dict[int, list[int]] = defaultdict(list)
            for audio_id, prompt_id in conn.execute(text("SELECT id, prompt_id FROM audio_sample")):
                groups[prompt_id].append(audio_id)
    finally:
        engine.dispose()
    return [ids for ids in groups.values() if len(ids) >= 2]


def make_call(op: str, rng: random.Random, rater_id: int, groups: list[list[int]], token: str = "") -> Call:
    """One request; a rater's own ones (rating, preference, their queue) with that rater's token."""
    clips = rng.choice(groups)
    own = (("Authorization", f"Bearer {token}"),) if token else None
    if op == "rating":
        return Call(op, "POST", "/api/feedback", {"audio_id": rng.choice(clips), "rating": rng.randint(1, 5),
                                                   "rater_id": rater_id, "tags": rng.sample(["warm", "dark"], 1)}, own)
    if op == "preference":
        chosen, rejected = rng.sample(clips, 2)
        return Call(op, "POST", "/api/preferences", {"chosen_id": chosen, "rejected_id": rejected,
                                                      "rater_id": rater_id}, own)
    if op == "generate":
        prompt_id = rng.randint(1, len(groups))
        return Call(op, "POST", "/api/generate", {"prompt_id": prompt_id, "num_samples": 1, "duration": 1.0})
    path = rng.choice([f"/api/queue/next?rater_id={rater_id}", "/api/feedback/stats", "/api/audio?limit=20",
                       "/api/health"])
    return Call("read", "GET", path, None, own if path.startswith("/api/queue") else None)


async def run_load(port: int, rater_ids: list[int], groups: list[list[int]], duration: float, max_requests: int,
                   seed_value: int, tokens: dict[int, str] | None = None) -> dict[str, Any]:
    lat: dict[str, list[float]] = defaultdict(list)
    ok: dict[str, int] = defaultdict(int)
    errors: dict[str, int] = defaultdict(int)
    samples: dict[str, str] = {}
    sent = 0
    deadline = time.perf_counter() + duration
    ops, weights = zip(*MIX, strict=True)

    async def client(index: int) -> None:
        nonlocal sent
        rng = random.Random(seed_value * 1000 + index)
        conn = Conn(HOST, port)
        try:
            while time.perf_counter() < deadline and sent < max_requests:
                sent += 1
                call = make_call(rng.choices(ops, weights)[0], rng, rater_ids[index], groups,
                                 (tokens or {}).get(rater_ids[index], ""))
                t = time.perf_counter()
                try:
                    status, body = await conn.send(call.request_bytes())
                except (OSError, asyncio.IncompleteReadError) as exc:
                    status, body = 599, repr(exc).encode()
                    await conn.close()
                lat[call.name].append((time.perf_counter() - t) * 1000)
                if 200 <= status < 300:
                    ok[call.name] += 1
                else:
                    errors[call.name] += 1
                    samples.setdefault(call.name, f"{status} {body[:200]!r}")
        finally:
            await conn.close()

    await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(len(rater_ids)))), timeout=duration + 120)
    return {"latency": lat, "ok": ok, "errors": errors, "error_samples": samples}


def summarise(load: dict[str, Any]) -> dict[str, dict[str, float]]:
    table = {}
    for op, _ in MIX:
        times = load["latency"].get(op, [])
        if times:
            table[op] = {"n": len(times), "errors": load["errors"].get(op, 0), "p50_ms": percentile(times, 0.5),
                         "p99_ms": percentile(times, 0.99), "max_ms": max(times)}
    writes = [t for op in TABLES for t in load["latency"].get(op, [])]
    if writes:
        table["all writes"] = {"n": len(writes), "errors": sum(load["errors"].get(op, 0) for op in TABLES),
                               "p50_ms": percentile(writes, 0.5), "p99_ms": percentile(writes, 0.99),
                               "max_ms": max(writes)}
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.write_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load (at most 900)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--scale", type=float, default=0.01, help="bench.seed scale (1 = full, ~2 min to seed)")
    parser.add_argument("--data-dir", type=Path, help="seed here (default: a temp dir, removed afterwards)")
    parser.add_argument("--database-url", help="PostgreSQL URL (loopback); default SQLite in the data dir")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="serve the API from this checkout (A/B)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--torch-threads", type=int, help="TD_TORCH_THREADS of the app (default: all cores)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--log", type=Path, help="keep the server's log here (default: a temp file)")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 900 or not 1 <= args.clients <= 256 or args.max_requests < 1:
        parser.error("--duration must be in (0, 900], --clients in [1, 256], --max-requests >= 1")
    with tempfile.TemporaryDirectory(prefix="td-writeload-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        seed(data_dir, args.database_url, args.scale)
        url = db_url(data_dir, args.database_url)
        groups = clips_by_prompt(url)
        app = App(data_dir, args.database_url, args.log or Path(tmp) / "api.log", args.app_root.resolve(),
                  args.torch_threads)
        try:
            app.start()
            base = f"http://{HOST}:{app.port}/api"
            os.environ["TD_API_TOKEN"] = admin = personal_token(base, BENCH_USER, BENCH_PASSWORD)
            rater_ids = [httpx.post(f"{base}/raters", json={"name": f"load-{args.seed}-{i}"}, timeout=30,
                                    headers={"Authorization": f"Bearer {admin}"}).raise_for_status().json()["id"]
                         for i in range(args.clients)]
            tokens = rater_tokens(base, admin, rater_ids)
            before, rss_start, cpu0, t0 = row_counts(url), app.rss_mb(), sum(app.ps.cpu_times()[:2]), time.time()
            load = asyncio.run(run_load(app.port, rater_ids, groups, args.duration, args.max_requests, args.seed,
                                        tokens))
            elapsed, cpu = time.time() - t0, sum(app.ps.cpu_times()[:2]) - cpu0
            rss_end, after = app.rss_mb(), row_counts(url)
        finally:
            app.stop()
    table = summarise(load)
    gained = {op: after[op] - before[op] for op in TABLES}
    lost = {op: (load["ok"].get(op, 0), gained[op]) for op in TABLES if load["ok"].get(op, 0) != gained[op]}
    total = sum(len(v) for v in load["latency"].values())
    print(f"{args.clients} clients, {elapsed:.0f} s, {'PostgreSQL' if args.database_url else 'SQLite'}, "
          f"scale {args.scale}: {total} requests ({total / elapsed:.0f}/s), "
          f"{sum(load['errors'].values())} errors, server CPU {cpu:.0f} s")
    print(f"{'operation':<12} {'n':>7} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for op, row in table.items():
        print(f"{op:<12} {row['n']:>7} {row['errors']:>6} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} "
              f"{row['max_ms']:8.1f}")
    print(f"rows gained {gained} vs 2xx {dict(load['ok'])}: {'LOST ' + str(lost) if lost else 'nothing lost'}")
    print(f"server RSS {rss_start:.0f} MB at start, {rss_end:.0f} MB at end")
    for op, sample in load["error_samples"].items():
        print(f"first {op} error: {sample}")
    if args.json:
        args.json.write_text(json.dumps({"table": table, "gained": gained, "ok": load["ok"], "requests": total,
                                         "rss_mb": [rss_start, rss_end], "server_cpu_s": cpu}, indent=2))
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
