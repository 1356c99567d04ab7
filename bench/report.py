"""Targets (issue 6) evaluated against a result, and the printed table."""

from __future__ import annotations

from typing import Any

from bench.endpoints import TARGET_P50_MS

GIB = 1024**3
IDLE_RSS_LIMIT = 250 * 1000**2  # "250 MB"
SNAPSHOT_LIMIT_S, JSONL_EXPORT_LIMIT_S, NAVIGATION_LIMIT_S = 10.0, 15.0, 0.8


def mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:,.0f} MB"


def endpoint_line(name: str, e: dict[str, Any]) -> str:
    s, c = e["sequential"], e["concurrent"]
    rps = f"{c['rps']:8.1f} req/s" if c else ""
    return f"{name:<22} p50 {s['p50_ms']:8.1f}  p95 {s['p95_ms']:8.1f}  max {s['max_ms']:8.1f} ms  {rps}"


def _target(name: str, target: str, value: Any, met: bool | None, note: str = "") -> dict[str, Any]:
    return {"name": name, "target": target, "value": value, "met": met, "note": note}


def evaluate(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, e in result.get("endpoints", {}).items():
        limit = TARGET_P50_MS.get(name)
        if limit is not None:
            p50 = e["sequential"]["p50_ms"]
            out.append(_target(f"{name} p50", f"<= {limit} ms", round(p50, 2), p50 <= limit))
    ops = result.get("operations", {})
    if "supervised_snapshot" in ops:
        s = ops["supervised_snapshot"]
        out.append(_target("supervised snapshot", f"<= {SNAPSHOT_LIMIT_S:.0f} s", round(s["wall_s"], 2),
                           s["wall_s"] <= SNAPSHOT_LIMIT_S, f"{s['rows']:,} rows"))
    if "export_jsonl" in ops:
        e = ops["export_jsonl"]
        out.append(_target("JSONL export", f"<= {JSONL_EXPORT_LIMIT_S:.0f} s", round(e["wall_s"], 2),
                           e["wall_s"] <= JSONL_EXPORT_LIMIT_S, f"{e['rows']:,} rows"))
    srv = result.get("server", {})
    if srv.get("peak_rss_bytes"):
        out.append(_target("server peak RSS", "< 1 GiB", mb(srv["peak_rss_bytes"]), srv["peak_rss_bytes"] < GIB))
    out.append(_target("server idle RSS", "< 250 MB", mb(srv.get("idle_rss_bytes")),
                       (srv.get("idle_rss_bytes") or 0) < IDLE_RSS_LIMIT))
    out.append(_target("no torch at start-up", "not loaded", "loaded" if srv.get("torch_loaded_at_idle") else
                       "not loaded", not srv.get("torch_loaded_at_idle")))
    fe = result.get("frontend", {})
    if "index_loads_training_code" in fe:
        out.append(_target("/ loads none of /training's code", "none", fe["index_loads_training_code"],
                           not fe["index_loads_training_code"]))
    if fe.get("training_data_visible_s") is not None:
        v = fe["training_data_visible_s"]
        out.append(_target("/training shows data", f"<= {NAVIGATION_LIMIT_S:g} s", round(v, 3),
                           v <= NAVIGATION_LIMIT_S))
    if result.get("scale") != 1.0:
        for t in out:
            t["note"] = (t["note"] + "; " if t["note"] else "") + f"scale {result.get('scale')}: indicative only"
    return out


def table(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "", "cpu ms / cpu s: CPU time the server process used (per request / per operation): a figure that\n"
        "does not grow when other processes compete for the cores, unlike the wall-clock columns.\n"
        "db cpu: the same for the PostgreSQL server (all its processes; '-' for SQLite, which runs in the API).",
        "", f"machine: {m['cores_logical']} logical cores ({m['cores_physical']} physical), "
        f"{m['memory_bytes'] / GIB:.1f} GiB RAM, {m['platform']}, Python {m['python']}",
        f"load average at start {m.get('load_average_1_5_15')}, at end {m.get('load_average_at_end')} "
        "(other processes on the machine skew latencies)",
        f"database: {result['database']}   scale: {result['scale']}   seed counts: "
        + ", ".join(f"{k}={v:,}" for k, v in result["seed_counts"].items()),
        "", f"{'endpoint':<22}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'n':>5}{'cpu ms':>8}{'db cpu':>8}{'req/s':>9}"
        f"{'conc p50':>10}{'err':>5}",
    ]
    for name, e in result.get("endpoints", {}).items():
        s, c = e["sequential"], e["concurrent"] or {}
        db = s.get("db_cpu_ms_per_request")
        lines.append(f"{name:<22}{s['p50_ms']:9.1f}{s['p95_ms']:9.1f}{s['max_ms']:9.1f}{s['n']:5d}"
                     f"{s.get('server_cpu_ms_per_request', 0):8.1f}{'-' if db is None else f'{db:.1f}':>8}"
                     f"{c.get('rps', 0):9.1f}{(c.get('p50_ms') or 0):10.1f}{s['errors'] + c.get('errors', 0):5d}")
    ops = result.get("operations", {})
    if ops:
        lines += ["", f"{'operation':<22}{'rows':>9}{'wall s':>9}{'cpu s':>8}{'db cpu':>8}{'peak RSS':>11}  output"]
        for name in ("supervised_snapshot", "preference_snapshot", "export_jsonl", "export_huggingface"):
            if name in ops:
                o = ops[name]
                size = o["output_size"]
                desc = (f"{size['files']:,} files, manifest {mb(size['manifest_bytes'])}, apparent "
                        f"{mb(size['apparent_bytes'])}, on disk {mb(size['disk_bytes_unique_inodes'])}"
                        if "files" in size
                        else f"{size['rows']:,} member rows, DB file growth {mb(size['db_growth_bytes'])}")
                db = o.get("db_cpu_s")
                lines.append(f"{name:<22}{o['rows']:9,}{o['wall_s']:9.2f}{o.get('server_cpu_s', 0):8.2f}"
                             f"{'-' if db is None else f'{db:.2f}':>8}{mb(o['peak_rss_bytes']):>11}  {desc}")
    srv = result.get("server", {})
    lines += ["", f"server: start-up {srv.get('startup_s', 0):.1f} s, idle RSS {mb(srv.get('idle_rss_bytes'))}, "
              f"peak RSS {mb(srv.get('peak_rss_bytes'))}, torch at idle: {srv.get('torch_loaded_at_idle')}"]
    fe = result.get("frontend", {})
    lines.append("frontend: " + ", ".join(f"{k}={v}" for k, v in fe.items() if not isinstance(v, (dict, list))))
    checks = result.get("checks", [])
    lines.append(f"exactness: {sum(c['ok'] for c in checks)}/{len(checks)} API answers equal direct SQL counts")
    lines += ["", f"{'target':<36}{'limit':>12}{'value':>14}  met"]
    for t in result.get("targets", []):
        met = {True: "MET", False: "NOT MET", None: "?"}[t["met"]]
        lines.append(f"{t['name']:<36}{t['target']:>12}{t['value']!s:>14}  {met}  {t['note']}")
    lines.append(f"\nrunner wall time: {result.get('runner_seconds', 0):.0f} s")
    return "\n".join(lines)
