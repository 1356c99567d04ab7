"""Where a cold ``/training`` load spends the browser's main thread, from a Chromium trace.

    .venv/bin/python -m bench.seed --scale 0.01 --data-dir /tmp/td-small
    .venv/bin/python -m bench.frontend_profile --data-dir /tmp/td-small --runs 5

Builds and serves the working tree like ``python -m bench.frontend`` (same copy under
``bench/results/frontend-app``), then records a trace of each cold load (fresh context,
empty cache) from navigation until the first seeded dataset row is in the DOM, and sums the
renderer main thread's self time by kind of work (script compile and run, style, layout,
paint, HTML parsing) plus the scripts that took longest to compile and run. The figures are
CPU time on the main thread, so a busy machine inflates them less than wall clocks, but only
their proportions should be compared across machines.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.frontend import APP_DIR, CHROMIUM_ARGS, ROW, start_app, sync_tree
from bench.server import stop_process_group

CATEGORIES = ("devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink.user_timing",
              "loading")
MARK_JS = """new MutationObserver((_, observer) => {
  if (document.querySelector('[data-testid="ds-row-name"]')) { performance.mark('td-rows'); observer.disconnect(); }
}).observe(document, {subtree: true, childList: true});"""
KINDS = {
    "script: compile": ("v8.compile", "v8.compileModule", "V8.CompileCode", "CompileScript", "v8.produceModuleCache",
                        "v8.parseOnBackground", "V8.ParseProgram", "V8.CompileLazy"),
    "script: run": ("EvaluateScript", "v8.evaluateModule", "FunctionCall", "EventDispatch", "TimerFire",
                    "FireAnimationFrame", "RunMicrotasks", "v8.run", "v8.callFunction", "RunTask"),
    "garbage collection": ("MinorGC", "MajorGC", "V8.GC_SCAVENGER", "BlinkGC.AtomicPhase", "V8.GCScavenger",
                           "V8.GCFinalizeMC", "ThreadState::performIdleLazySweep"),
    "style (CSS parse + recalc)": ("UpdateLayoutTree", "ParseAuthorStyleSheet", "RecalculateStyles",
                                  "ScheduleStyleRecalculation", "Document::updateStyle"),
    "layout": ("Layout", "UpdateLayerTree", "PrePaint", "IntersectionObserverController::computeIntersections"),
    "paint + composite": ("Paint", "Layerize", "Commit", "PaintImage", "RasterTask", "UpdateLayer", "CompositeLayers"),
    "HTML parse": ("ParseHTML",),
}
KIND_OF = {name: kind for kind, names in KINDS.items() for name in names}


Span = tuple[float, float, str, float]  # wall start and end (µs), name, thread (CPU) time (µs)


def _complete_events(events: list[dict[str, Any]]) -> dict[tuple[int, int], list[Span]]:
    """Complete (X) and begin/end (B/E) events per thread, with the CPU time the thread spent in
    them (``tdur``: a busy machine stretches wall durations while the thread waits for a core)."""
    out: dict[tuple[int, int], list[Span]] = defaultdict(list)
    open_: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        key = (e.get("pid", 0), e.get("tid", 0))
        if e.get("ph") == "X" and "dur" in e:
            out[key].append((e["ts"], e["ts"] + e["dur"], e["name"], e.get("tdur", e["dur"])))
        elif e.get("ph") == "B":
            open_[key].append(e)
        elif e.get("ph") == "E" and open_[key]:
            b = open_[key].pop()
            cpu = e["tts"] - b["tts"] if "tts" in e and "tts" in b else e["ts"] - b["ts"]
            out[key].append((b["ts"], e["ts"], b["name"], cpu))
    return out


def _self_times(spans: list[Span], start: float, end: float) -> dict[str, float]:
    """CPU self time (ms) per event name, over the events that start within [start, end]
    (an event's children's time is theirs)."""
    by_name: dict[str, float] = defaultdict(float)
    stack: list[list[Any]] = []  # [wall end, name, CPU time, children's CPU time]

    def close(item: list[Any]) -> None:
        by_name[item[1]] += max(0.0, item[2] - item[3]) / 1000

    for s, e, name, cpu in sorted((s for s in spans if start <= s[0] < end), key=lambda s: (s[0], -s[1])):
        while stack and stack[-1][0] <= s:
            close(stack.pop())
        if stack:
            stack[-1][3] += cpu
        stack.append([e, name, cpu, 0.0])
    while stack:
        close(stack.pop())
    return by_name


def _js_self_times(profile: dict[str, Any]) -> dict[str, float]:
    """A V8 CPU profile's self time (ms) per script file (``(program)``: the engine's own work)."""
    nodes = {n["id"]: n["callFrame"] for n in profile["nodes"]}
    by_file: dict[str, float] = defaultdict(float)
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[node_id]
        file = frame["url"].rsplit("/", 1)[-1].split("?")[0] or f"({frame['functionName'] or 'program'})"
        file = re.sub(r"-[A-Za-z0-9_-]{8}\.js$", ".js", file)  # the same chunk across builds
        by_file[file] += delta / 1000
    return by_file


def _top(times: dict[str, float], n: int) -> dict[str, int]:
    return {k: round(v) for k, v in sorted(times.items(), key=lambda kv: -kv[1])[:n]}


def profile_load(browser, url: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """One traced cold load: main-thread CPU time by kind of work and JavaScript time by file,
    up to the first row."""
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(MARK_JS)
    cdp = context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 200})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        browser.start_tracing(page=page, path=str(path), categories=list(CATEGORIES))
        cdp.send("Profiler.start")
        page.goto(url, wait_until="commit")
        page.wait_for_selector(f'{ROW}:has-text("bench-")', timeout=30_000)
        js = cdp.send("Profiler.stop")["profile"]
        rows_ms = page.evaluate("performance.getEntriesByName('td-rows')[0]?.startTime ?? 0")
        browser.stop_tracing()
        trace = json.loads(path.read_text())
    context.close()
    js_files = _js_self_times(js)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    mains = {(e["pid"], e["tid"]) for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    marks = [e for e in events if e.get("name") == "td-rows" and (e.get("pid"), e.get("tid")) in mains]
    navs = [e for e in events if e.get("name") == "navigationStart" and (e.get("pid"), e.get("tid")) in mains]
    end = marks[0]["ts"] if marks else max(e.get("ts", 0) for e in events)
    start = max((e["ts"] for e in navs if e["ts"] <= end), default=end - rows_ms * 1000)
    by_kind: dict[str, float] = defaultdict(float)
    for key, spans in _complete_events(events).items():
        if key not in mains:
            continue
        for name, ms in _self_times(spans, start, end).items():
            by_kind[KIND_OF.get(name, "other")] += ms
    busy = sum(by_kind.values())
    return {"rows_in_dom_ms": round(rows_ms), "main_thread_cpu_ms": round(busy),
            "not_on_main_thread_ms": round(max(0.0, (end - start) / 1000 - busy)),
            "by_kind_ms": {k: round(v) for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])},
            "js_by_file_ms": _top(js_files, 12)}


def _medians(loads: list[dict[str, Any]], key: str) -> dict[str, float]:
    names = {k for load in loads for k in load[key]}
    return {k: statistics.median(load[key].get(k, 0) for load in loads) for k in names}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.frontend_profile --data-dir DIR [--runs 5] [--baseline REF]``: where the
    browser's main thread spends a cold /training load."""
    import argparse

    from playwright.sync_api import sync_playwright

    from bench.frontend import export_ref
    from bench.workload import DEFAULT_DATA_DIR

    p = argparse.ArgumentParser(prog="python -m bench.frontend_profile", description=main.__doc__)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="a dir filled by bench.seed")
    p.add_argument("--database-url", default=None)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--baseline", metavar="GIT_REF", default=None,
                   help="also profile GIT_REF, served side by side, loads alternating (A/B)")
    args = p.parse_args(argv)
    dirs = {"working tree": APP_DIR}
    if args.baseline:
        dirs = {args.baseline: APP_DIR.parent / "frontend-baseline", **dirs}
        export_ref(args.baseline, dirs[args.baseline])
    APP_DIR.mkdir(parents=True, exist_ok=True)
    sync_tree(APP_DIR)
    procs: dict[str, Any] = {}
    loads: dict[str, list[dict[str, Any]]] = {name: [] for name in dirs}
    try:
        for name, app_dir in dirs.items():
            log = APP_DIR.parent / f"{app_dir.name}-profile.log"
            procs[name] = start_app(args.data_dir, args.database_url, log, 900.0, app_dir=app_dir)
        with sync_playwright() as pw:
            exe = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            for _, base in procs.values():
                profile_load(browser, base + "/training")  # warm each server (first request compiles, caches)
            for i in range(args.runs):
                for name in (list(dirs) if i % 2 == 0 else list(dirs)[::-1]):
                    loads[name].append(profile_load(browser, procs[name][1] + "/training"))
            browser.close()
    finally:
        for proc, _ in procs.values():
            stop_process_group(proc)
    for name, series in loads.items():
        for load in series:
            print(name, json.dumps(load))
    names = list(loads)
    print(f"medians of {args.runs} cold loads, ms until the first row is in the DOM (CPU time of the renderer's "
          "main thread, by kind of work; JavaScript by file from a sampling profile)")
    print(f"{'':32s}" + "".join(f"{n[:14]:>15s}" for n in names))
    for key in ("rows_in_dom_ms", "main_thread_cpu_ms", "not_on_main_thread_ms"):
        print(f"  {key:30s}" + "".join(f"{statistics.median(load[key] for load in loads[n]):15.0f}" for n in names))
    for key in ("by_kind_ms", "js_by_file_ms"):
        med = {n: _medians(loads[n], key) for n in names}
        order = sorted({k for m in med.values() for k in m}, key=lambda k: -max(m.get(k, 0) for m in med.values()))
        for k in order[:10 if key == "js_by_file_ms" else None]:
            print(f"  {k[:30]:30s}" + "".join(f"{med[n].get(k, 0):15.0f}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
