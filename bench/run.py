"""Benchmark the real API against a seeded data dir; print a table and write a JSON file.

Examples::

    python -m bench.seed --scale 0.01 --data-dir /tmp/td-small && \\
        python -m bench.run --data-dir /tmp/td-small --requests 20 --duration 2   # ~1 min
    python -m bench.seed && python -m bench.run                                 # full scale, ~6 min
    python -m bench.run --frontend                                              # + the UI figures

The API is started as ``python -m training_dashboard.api --no-worker`` on 127.0.0.1 (a free
port) with ``TD_DATA_DIR`` set; all traffic stays on loopback. Every loop is bounded by a
request count and by time. Datasets the runner creates are deleted at the end (``--keep``
keeps them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).parent / "results"


def build_parser() -> argparse.ArgumentParser:
    from bench.workload import data_dir_parser

    p = data_dir_parser("python -m bench.run", __doc__, "a dir filled by bench.seed",
                        "the URL given to bench.seed, if any (PostgreSQL)")
    p.add_argument("--requests", type=int, default=50, help="timed sequential requests per endpoint (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed requests first (default 5)")
    p.add_argument("--max-seconds", type=float, default=30.0, help="cap on each sequential series (default 30)")
    p.add_argument("--clients", type=int, default=20, help="concurrent clients for throughput (default 20)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of concurrent load (default 10)")
    p.add_argument("--skip-operations", action="store_true", help="no snapshots / exports")
    p.add_argument("--skip-exports", action="store_true", help="snapshots only, no JSONL / Hugging Face export")
    p.add_argument("--only", default=None, help="comma-separated endpoint names to measure (default all)")
    p.add_argument("--frontend", action="store_true", help="also measure the Reflex UI (production build)")
    p.add_argument("--app-root", type=Path, default=None,
                   help="serve the API from another checkout (A/B runs); default: this repository")
    p.add_argument("--keep", action="store_true", help="keep the datasets and exports the runner created")
    p.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/run-<time>.json)")
    return p


def machine() -> dict[str, Any]:
    return {"cores_physical": psutil.cpu_count(logical=False), "cores_logical": psutil.cpu_count(),
            "memory_bytes": psutil.virtual_memory().total, "platform": platform.platform(),
            "python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bench import checks, operations, report
    from bench.endpoints import endpoint_calls
    from bench.load import concurrent, sequential
    from bench.server import HOST, RssSampler, Server
    from bench.workload import META

    data_dir = args.data_dir.expanduser().resolve()
    if not (data_dir / META).exists():
        print(f"{data_dir} was not seeded: run `python -m bench.seed --data-dir {data_dir}` first", file=sys.stderr)
        return 2
    meta = json.loads((data_dir / META).read_text())
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"run-{stamp}.json"
    url = args.database_url or f"sqlite:///{data_dir / 'training_dashboard.db'}"
    engine = checks.open_engine(url)
    result: dict[str, Any] = {
        "started_at": stamp, "machine": machine(), "scale": meta["scale"], "seed": meta["seed"],
        "database": engine.dialect.name, "data_dir": str(data_dir), "seed_counts": meta["counts"],
        "seed_seconds": meta["seconds"], "app_root": str(args.app_root or "."),
        "settings": {k: v for k, v in vars(args).items() if k != "database_url"},
    }
    server = Server(data_dir, args.database_url, out.with_suffix(".server.log"), app_root=args.app_root)
    t_run = time.perf_counter()
    server.start()
    print(f"API up on {server.base} in {server.startup_s:.1f} s (log: {server.log_path})", flush=True)
    time.sleep(1.0)  # let start-up garbage settle before reading idle memory
    result["server"] = {"startup_s": server.startup_s, "idle_rss_bytes": server.rss(),
                        "torch_loaded_at_idle": server.torch_loaded()}
    created: list[int] = []
    try:
        with RssSampler(server) as sampler:
            ops: dict[str, Any] = {}
            if not args.skip_operations:
                ops = operations.run_all(server.base, engine, meta, sampler, created, exports=not args.skip_exports)
            result["operations"] = ops
            calls = endpoint_calls(meta, ops.get("supervised_snapshot", {}).get("dataset_id"))
            if args.only:
                wanted = set(args.only.split(","))
                calls = [c for c in calls if c.name in wanted]
            operations.star_prompts(server.base, meta)
            result["checks"] = operations.exactness(server.base, engine, meta, ops)
            endpoints: dict[str, Any] = {}
            for call in calls:
                with sampler.window() as w:
                    cpu, db_cpu = server.cpu_seconds(), server.db_cpu_seconds()
                    seq = asyncio.run(sequential(HOST, server.port, call, warmup=args.warmup, n=args.requests,
                                                 max_s=args.max_seconds))
                    seq["server_cpu_ms_per_request"] = (server.cpu_seconds() - cpu) * 1000 / (seq["n"] + args.warmup)
                    db_after = server.db_cpu_seconds()
                    if db_cpu is not None and db_after is not None:
                        seq["db_cpu_ms_per_request"] = (db_after - db_cpu) * 1000 / (seq["n"] + args.warmup)
                    conc = asyncio.run(concurrent(HOST, server.port, call, clients=args.clients,
                                                  seconds=args.duration)) if args.duration > 0 else None
                endpoints[call.name] = {"method": call.method, "path": call.path, "body": call.body,
                                        "sequential": seq, "concurrent": conc, "peak_rss_bytes": w.peak}
                print(report.endpoint_line(call.name, endpoints[call.name]), flush=True)
            result["endpoints"] = endpoints
            result["server"]["peak_rss_bytes"] = sampler.peak
            result["server"]["final_rss_bytes"] = server.rss()
            result["server"]["torch_loaded_at_end"] = server.torch_loaded()
    finally:
        if not args.keep:
            operations.cleanup(server.base, created)
        server.stop()
        engine.dispose()
    if args.frontend:
        from bench.frontend import measure_frontend

        result["frontend"] = measure_frontend(data_dir, args.database_url, meta)
    else:
        result["frontend"] = {"status": "not run (pass --frontend)"}
    result["runner_seconds"] = time.perf_counter() - t_run
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = report.evaluate(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(report.table(result))
    print(f"\nresults: {out}")
    failed = [c for c in result.get("checks", []) if not c["ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    raise SystemExit(main())
