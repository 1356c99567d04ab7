"""The timed heavy operations (snapshots, exports) and the exactness checks, over HTTP."""

from __future__ import annotations

import math
import os
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from bench import checks
from bench.endpoints import feedback_page_query, preview_filters, prompt_searches
from bench.load import auth_headers
from bench.server import RssSampler

TIMEOUT = httpx.Timeout(900.0, connect=10.0)


def _db_bytes(engine: Engine) -> int | None:
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    base = Path(engine.url.database)
    return sum(p.stat().st_size for p in (base, Path(f"{base}-wal")) if p.exists())


def export_size(path: Path) -> dict[str, Any]:
    """Files, manifest bytes, apparent bytes (every link counted) and bytes on disk (per inode)."""
    files = apparent = manifest = linked = 0
    inodes: dict[tuple[int, int], int] = {}
    for root, _, names in os.walk(path):
        for name in names:
            st = os.stat(os.path.join(root, name))
            files += 1
            apparent += st.st_size
            inodes[(st.st_dev, st.st_ino)] = st.st_blocks * 512
            linked += st.st_nlink > 1
            if name == "manifest.jsonl":
                manifest = st.st_size
    return {"files": files, "manifest_bytes": manifest, "apparent_bytes": apparent,
            "disk_bytes_unique_inodes": sum(inodes.values()), "hard_linked_files": linked}


def _timed(sampler: RssSampler, engine: Engine, fn) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    before = _db_bytes(engine)
    with sampler.window() as w:
        cpu, db_cpu = sampler.server.cpu_seconds(), sampler.server.db_cpu_seconds()
        t = time.perf_counter()
        response = fn()
        wall = time.perf_counter() - t
        cpu = sampler.server.cpu_seconds() - cpu
        db_after = sampler.server.db_cpu_seconds()
    response.raise_for_status()
    after = _db_bytes(engine)
    return {"wall_s": wall, "server_cpu_s": cpu, "peak_rss_bytes": w.peak, "response": response.json(),
            "db_cpu_s": None if db_cpu is None or db_after is None else db_after - db_cpu,
            "db_growth_bytes": None if before is None or after is None else after - before}


def _snapshot(http: httpx.Client, sampler: RssSampler, engine: Engine, name: str, kind: str,
              flt: dict[str, Any], created: list[int]) -> dict[str, Any]:
    r = _timed(sampler, engine, lambda: http.post("/api/datasets", json={"name": name, "type": kind, "filter": flt}))
    body = r.pop("response")
    created.append(body["id"])
    return {**r, "dataset_id": body["id"], "rows": body["sample_count"], "filter": flt,
            "output_size": {"rows": body["sample_count"], "db_growth_bytes": r["db_growth_bytes"]}}


def _export(http: httpx.Client, sampler: RssSampler, engine: Engine, dataset_id: int, fmt: str) -> dict[str, Any]:
    r = _timed(sampler, engine, lambda: http.post(f"/api/datasets/{dataset_id}/export", json={"format": fmt}))
    body = r.pop("response")
    path = Path(body["export_path"])
    return {**r, "dataset_id": dataset_id, "rows": body["sample_count"], "export_path": str(path),
            "output_size": export_size(path)}


def _export_window(http: httpx.Client, meta: dict[str, Any], target: int) -> dict[str, Any]:
    """A date-range filter (from the first feedback day) holding at least ``target`` ratings."""
    start = date.fromisoformat(meta["window_start"])
    per_day = meta["counts"]["ratings"] / meta["days"]
    days = max(1, math.ceil(target / per_day))
    for _ in range(meta["days"]):
        flt = {"start_date": start.isoformat(), "end_date": (start + timedelta(days=days - 1)).isoformat()}
        count = http.post("/api/datasets/preview", json={"type": "supervised", "filter": flt}).json()["count"]
        if count >= target or days >= meta["days"]:
            return flt
        days += 1
    return flt


def run_all(base: str, engine: Engine, meta: dict[str, Any], sampler: RssSampler,
            created: list[int], exports: bool = True) -> dict[str, Any]:
    stamp = time.strftime("%Y%m%d%H%M%S")
    ops: dict[str, Any] = {}
    with httpx.Client(headers=auth_headers(), base_url=base, timeout=TIMEOUT) as http:
        ops["supervised_snapshot"] = _snapshot(http, sampler, engine, f"bench-run-{stamp}-supervised", "supervised",
                                               {"min_rating": 4}, created)
        print(f"supervised snapshot: {ops['supervised_snapshot']['rows']:,} rows "
              f"in {ops['supervised_snapshot']['wall_s']:.2f} s", flush=True)
        ops["preference_snapshot"] = _snapshot(http, sampler, engine, f"bench-run-{stamp}-preference", "preference",
                                               {}, created)
        print(f"preference snapshot: {ops['preference_snapshot']['rows']:,} pairs "
              f"in {ops['preference_snapshot']['wall_s']:.2f} s", flush=True)
        if not exports:
            return ops
        target = max(100, round(100_000 * meta["scale"]))
        flt = _export_window(http, meta, target)
        ops["export_dataset"] = _snapshot(http, sampler, engine, f"bench-run-{stamp}-export", "supervised", flt,
                                          created)
        ds = ops["export_dataset"]["dataset_id"]
        for fmt in ("jsonl", "huggingface"):
            ops[f"export_{fmt}"] = _export(http, sampler, engine, ds, fmt)
            print(f"{fmt} export: {ops[f'export_{fmt}']['rows']:,} rows in {ops[f'export_{fmt}']['wall_s']:.2f} s",
                  flush=True)
    return ops


def exactness(base: str, engine: Engine, meta: dict[str, Any], ops: dict[str, Any]) -> list[dict[str, Any]]:
    """API answers against direct SQL counts."""
    out: list[dict[str, Any]] = []
    with httpx.Client(headers=auth_headers(), base_url=base, timeout=TIMEOUT) as http:
        out += checks.stats_checks(engine, http.get("/api/feedback/stats").json())
        for name, flt in preview_filters(meta).items():
            api = http.post("/api/datasets/preview", json={"type": "supervised", "filter": flt}).json()["count"]
            out.append(checks.check(name, api, checks.rating_count_sql(engine, flt)))
        q = feedback_page_query(meta)
        page = http.get("/api/feedback", params=q).json()
        out.append(checks.check("feedback_page.total", page["total"], checks.rating_count_sql(
            engine, {"adapter_id": q["adapter_id"], "min_rating": q["min_rating"]})))
        a = meta["adapter_ids"][0]
        out += checks.adapter_checks(engine, a, http.get(f"/api/adapters/{a}").json())
        searches = prompt_searches(meta)
        out += checks.prompt_checks(engine, searches, lambda path, params: http.get(path, params=params).json())
    if "supervised_snapshot" in ops:
        s = ops["supervised_snapshot"]
        out.append(checks.check("supervised_snapshot.rows", s["rows"], checks.rating_count_sql(engine, s["filter"])))
        p = ops["preference_snapshot"]
        out.append(checks.check("preference_snapshot.rows", p["rows"],
                                checks.scalar(engine, "SELECT COUNT(*) FROM preference WHERE NOT tie")))
    if "export_jsonl" in ops:
        e = ops["export_jsonl"]
        with open(Path(e["export_path"]) / "manifest.jsonl", "rb") as fh:
            lines = sum(1 for _ in fh)
        out.append(checks.check("export_jsonl.manifest_lines", lines, ops["export_dataset"]["rows"]))
    bad = [c["name"] for c in out if not c["ok"]]
    print(f"exactness: {len(out) - len(bad)}/{len(out)} checks agree with SQL" + (f"; MISMATCH: {bad}" if bad else ""),
          flush=True)
    return out


def star_prompts(base: str, meta: dict[str, Any], n: int = 200) -> None:
    """Star ``n`` prompts spread over all of them for the bench's user (what the favourites filter reads)."""
    prompts = meta["counts"]["prompts"]
    with httpx.Client(headers=auth_headers(), base_url=base, timeout=TIMEOUT) as http:
        for prompt_id in range(1, prompts + 1, max(1, prompts // n)):
            http.put(f"/api/prompts/{prompt_id}/favourite").raise_for_status()


def cleanup(base: str, created: list[int]) -> None:
    with httpx.Client(headers=auth_headers(), base_url=base, timeout=TIMEOUT) as http:
        for dataset_id in created:
            try:
                http.delete(f"/api/datasets/{dataset_id}")
            except httpx.HTTPError as exc:
                print(f"could not delete dataset {dataset_id}: {exc}", file=__import__("sys").stderr)
