"""The fixed cost of a request: our ``GET /api/health`` against a bare FastAPI endpoint doing the same work.

Starts both on 127.0.0.1 (free ports) under uvicorn, each in its own process:

* ours: ``python -m training_dashboard.api --no-worker`` with a temporary ``TD_DATA_DIR``
  (or ``--data-dir``, e.g. a seeded one, so ``GET /api/datasets`` lists real rows);
* bare: a FastAPI app with one sync endpoint that runs ``SELECT 1`` through SQLAlchemy on a
  SQLite file and returns a small nested pydantic model (this module, ``--serve-bare``).

Then interleaves rounds (the order alternates) of ``--requests`` sequential keep-alive
requests to each, and reports per request the server's CPU time (psutil, user + system of the
server process, read before and after each round) and the p50/p99 round trip; the figures are
the median over ``--rounds`` rounds, and ``ratio`` is ours / bare. CPU time is the figure to
compare on a shared machine: wall times swing with whatever else runs on the cores.

    .venv/bin/python -m bench.request_cost                       # ~1 min
    .venv/bin/python -m bench.request_cost --rounds 9 --requests 500
    .venv/bin/python -m bench.request_cost --data-dir /tmp/td-small   # after bench.seed --scale 0.01
    .venv/bin/python -m bench.request_cost --app-root /tmp/td-main    # serve "ours" from another checkout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.load import Call, Conn, percentile
from bench.server import HOST, Server, free_port, launch, terminate


def bare_app(db_path: str):  # type: ignore[no-untyped-def]
    """The reference: what the issue calls "a bare FastAPI endpoint doing the same work"."""
    from fastapi import FastAPI
    from pydantic import BaseModel
    from sqlalchemy import create_engine, text

    class Inner(BaseModel):
        base_model: str
        status: str
        device: str | None = None
        error: str | None = None

    class Outer(BaseModel):
        status: str
        version: str
        database: bool
        model: Inner
        worker: bool
        mode: str = "embedded"
        workers: list[dict[str, Any]] = []

    engine = create_engine(f"sqlite:///{db_path}", connect_args={"check_same_thread": False})
    app = FastAPI()

    @app.get("/api/health", response_model=Outer)
    def health() -> Outer:
        with engine.connect() as conn:
            ok = conn.execute(text("SELECT 1")).scalar() == 1
        return Outer(status="ok", version="0", database=ok, worker=False,
                     model=Inner(base_model="tiny", status="not_loaded", error="none"))

    return app


class BareServer:
    """This module's bare app in a uvicorn subprocess on loopback."""

    def __init__(self, db_path: Path, log_path: Path) -> None:
        self.port = free_port()
        self.db_path, self.log_path = db_path, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None

    def start(self, timeout: float = 60.0) -> None:
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": str(root)}
        self.proc, self.ps = launch([sys.executable, "-m", "bench.request_cost", "--serve-bare", str(self.port),
                                     "--bare-db", str(self.db_path)], env, self.log_path, root,
                                    f"http://{HOST}:{self.port}/api/health", "the bare app", timeout)

    def cpu_seconds(self) -> float:
        assert self.ps is not None
        return sum(self.ps.cpu_times()[:2])

    def stop(self) -> None:
        terminate(self.proc)


async def one_round(port: int, call: Call, cpu, n: int, warmup: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """``warmup`` untimed requests, then ``n`` timed ones on one keep-alive connection."""
    conn, raw = Conn(HOST, port), call.request_bytes()
    times: list[float] = []
    errors = 0
    try:
        for _ in range(warmup):
            await conn.send(raw)
        c0 = cpu()
        for _ in range(n):
            t = time.perf_counter()
            status, _ = await conn.send(raw)
            times.append((time.perf_counter() - t) * 1000)
            errors += status >= 400
        c1 = cpu()
    finally:
        await conn.close()
    if errors:
        raise RuntimeError(f"{errors} of {n} requests to {call.path} failed")
    return {"cpu_ms": (c1 - c0) * 1000 / n, "p50_ms": percentile(times, 0.5), "p99_ms": percentile(times, 0.99)}


def median_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}


def measure(ours: Server, bare: BareServer, rounds: int, n: int, warmup: int,
            extra: list[Call]) -> dict[str, Any]:
    health = Call("health", "GET", "/api/health")
    targets = [("ours", ours.port, health, ours.cpu_seconds), ("bare", bare.port, health, bare.cpu_seconds)]
    targets += [(f"ours {c.path}", ours.port, c, ours.cpu_seconds) for c in extra]
    per: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in targets}
    for r in range(rounds):
        order = targets if r % 2 == 0 else list(reversed(targets))
        for name, port, call, cpu in order:
            per[name].append(asyncio.run(one_round(port, call, cpu, n, warmup)))
    result = {name: median_of(rs) for name, rs in per.items()}
    result["ratio_cpu"] = result["ours"]["cpu_ms"] / result["bare"]["cpu_ms"]
    result["ratio_per_round"] = [o["cpu_ms"] / b["cpu_ms"] for o, b in zip(per["ours"], per["bare"], strict=True)]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.request_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median reported)")
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per round and server")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--data-dir", type=Path, help="TD_DATA_DIR for our API (default: a fresh temp dir)")
    parser.add_argument("--app-root", type=Path, help="serve our API from this checkout (A/B)")
    parser.add_argument("--no-datasets", action="store_true", help="skip GET /api/datasets")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare-db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        import uvicorn

        # uvicorn configured as ``python -m training_dashboard.api`` runs it (access log on)
        uvicorn.run(bare_app(args.bare_db), host=HOST, port=args.serve_bare, log_level="info")
        return 0
    if args.rounds < 1 or args.requests < 1:
        parser.error("--rounds and --requests must be at least 1")
    with tempfile.TemporaryDirectory(prefix="td-reqcost-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        ours = Server(data_dir, None, Path(tmp) / "ours.log", app_root=args.app_root)
        bare = BareServer(Path(tmp) / "bare.db", Path(tmp) / "bare.log")
        try:
            ours.start()
            bare.start()
            extra = [] if args.no_datasets else [Call("datasets", "GET", "/api/datasets")]
            result = measure(ours, bare, args.rounds, args.requests, args.warmup, extra)
        finally:
            ours.stop()
            bare.stop()
    print(f"{args.rounds} interleaved rounds x {args.requests} sequential keep-alive requests; median per request")
    print(f"{'server':<22} {'cpu ms':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, row in result.items():
        if isinstance(row, dict):
            print(f"{name:<22} {row['cpu_ms']:8.3f} {row['p50_ms']:8.3f} {row['p99_ms']:8.3f}")
    rounds = " ".join(f"{x:.2f}" for x in result["ratio_per_round"])
    print(f"ratio ours/bare (cpu): {result['ratio_cpu']:.2f}  (per round: {rounds})  target <= 1.50")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
