"""Frontend figures from a production build (``reflex run --env prod``) in headless Chromium.

The app is built in a copy of the working tree under ``bench/results/frontend-app`` (its
``.web`` is kept between runs), so the benchmark never touches the ``.web`` another
developer's ``reflex run`` is using. The first build runs ``npm install`` (~1-3 min).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.server import HOST, free_port, stop_process_group

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = Path(__file__).parent / "results" / "frontend-app"
# data-testids that only the /training page's components render.
TRAINING_MARKERS = ("ds-row-name", "tab-datasets", "ds-new")
CHART_MARKER = "recharts-line"  # a class name in recharts' code: the Runs tab's chart library
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ROW = '[data-testid="ds-row-name"]'
COLD_LIMIT_S = 0.8  # issue 21: median cold /training load, driver clock, on a quiet machine


def sync_tree(dest: Path) -> None:
    """Copy the tracked and untracked-not-ignored files (not bench/ or tests/) into ``dest``."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                         capture_output=True).stdout.decode()
    for rel in filter(None, out.split("\0")):
        if rel.startswith(("bench/", "tests/")):
            continue
        src, dst = ROOT / rel, dest / rel
        if not src.is_file():
            continue
        st = src.stat()
        if dst.exists() and dst.stat().st_size == st.st_size and dst.stat().st_mtime >= st.st_mtime:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def start_app(data_dir: Path, database_url: str | None, log: Path, timeout: float,  # type: ignore[type-arg]
              app_dir: Path = APP_DIR) -> tuple[subprocess.Popen, str]:
    port = free_port()
    venv_bin = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TD_", "REFLEX_"))}
    env.update(PATH=f"{venv_bin}{os.pathsep}{env.get('PATH', '')}", REFLEX_USE_NPM="1",
               REFLEX_TELEMETRY_ENABLED="false", REFLEX_CHECK_LATEST_VERSION="false", TD_DATA_DIR=str(data_dir),
               TD_WORKER="false", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    if database_url:
        env["TD_DATABASE_URL"] = database_url
    cmd = [str(venv_bin / "reflex"), "run", "--env", "prod", "--single-port", "--backend-host", HOST,
           "--backend-port", str(port), "--frontend-port", str(port)]
    proc = subprocess.Popen(cmd, cwd=app_dir, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                            start_new_session=True)
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"reflex exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(base + "/", timeout=3).status_code == 200 and \
                    httpx.get(base + "/api/health", timeout=3).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    stop_process_group(proc)
    raise RuntimeError(f"the production app did not come up within {timeout:.0f} s; see {log}")


def scripts_loaded(browser, url: str, wait_for: str | None = None,  # type: ignore[no-untyped-def]
                   click: str | None = None) -> dict[str, dict[str, Any]]:
    """Every JavaScript response a fresh context fetches for ``url``: decoded bytes and body text.
    With ``click``: only what clicking that selector afterwards fetches (a lazily loaded chunk)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    context = browser.new_context()
    page = context.new_page()
    seen: dict[str, Any] = {}

    def on_response(response) -> None:  # type: ignore[no-untyped-def]
        ctype = response.headers.get("content-type", "")
        if response.request.resource_type == "script" or "javascript" in ctype or response.url.endswith(".js"):
            seen[response.url] = response

    page.on("response", on_response)
    page.goto(url, wait_until="networkidle")
    if wait_for:
        page.wait_for_selector(wait_for, timeout=30_000)
        page.wait_for_load_state("networkidle")
    if click:
        seen.clear()
        try:
            with page.expect_response(lambda r: r.url.endswith(".js"), timeout=5_000):
                page.click(click)
        except PlaywrightTimeoutError:  # the click fetched no script: nothing was left to load
            pass
        page.wait_for_timeout(500)  # any further chunk of the same import
    out = {}
    for u, response in seen.items():
        try:
            body = response.body()
        except Exception:  # noqa: BLE001 - a redirected or aborted response has no body
            continue
        out[u] = {"bytes": len(body), "transfer_bytes": int(response.headers.get("content-length") or len(body)),
                  "text": body.decode("utf-8", "replace")}
    context.close()
    return out


# Where a cold load's time goes, in ms since navigation start, on the page's own clock: the
# socket (created, open), the first message carrying a seeded dataset name, and the first row in
# the DOM (a MutationObserver, so no polling delay of the test driver is included).
PAGE_CLOCK_JS = """
window.__bench = {};
(() => {
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    window.__bench.ws_created ??= performance.now();
    ws.addEventListener('open', () => { window.__bench.ws_open ??= performance.now(); });
    ws.addEventListener('message', (m) => {
      if (String(m.data).includes('bench-')) window.__bench.rows_message ??= performance.now();
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  new MutationObserver(() => {
    if (!window.__bench.rows_in_dom && document.querySelector('[data-testid="ds-row-name"]'))
      window.__bench.rows_in_dom = performance.now();
  }).observe(document, {subtree: true, childList: true});
})();
"""
BREAKDOWN_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const js = performance.getEntriesByType('resource').filter(r => r.name.endsWith('.js'));
  return {html_done: nav.responseEnd, js_done: Math.max(0, ...js.map(r => r.responseEnd)),
          js_files: js.length, ...window.__bench};
}"""


def server_cpu_s(pid: int | None) -> float:
    """CPU seconds used so far by the app's process tree (the figure that contention does not inflate)."""
    if pid is None:
        return 0.0
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in (root, *root.children(recursive=True)):
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
    except psutil.Error:
        return 0.0
    return total


def _chromium_cpu_s(cdp) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds used so far by every Chromium process (renderers included)."""
    return sum(p["cpuTime"] for p in cdp.send("SystemInfo.getProcessInfo")["processInfo"])


def _cold_load(page, base: str, row: str, pid: int | None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """One cold load: wall seconds (driver clock), the page-clock breakdown in ms, and the CPU time that
    Chromium and the server spent on it (figures that a busy machine does not inflate)."""
    page.add_init_script(PAGE_CLOCK_JS)
    chromium = page.context.browser.new_browser_cdp_session()
    cpu, browser_cpu = server_cpu_s(pid), _chromium_cpu_s(chromium)
    t = time.perf_counter()
    page.goto(base + "/training", wait_until="commit")
    page.wait_for_selector(row, timeout=30_000)
    out = {"wall_ms": round(1000 * (time.perf_counter() - t))}
    out.update({k: round(v) for k, v in page.evaluate(BREAKDOWN_JS).items()})
    out["browser_cpu_ms"] = round(1000 * (_chromium_cpu_s(chromium) - browser_cpu))
    time.sleep(0.3)  # let the remaining (non-visible tabs') loads finish before reading the server's CPU
    out["server_cpu_ms"] = round(1000 * (server_cpu_s(pid) - cpu))
    return out


def time_to_rows(browser, base: str, runs: int, pid: int | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Seconds from navigation to the first dataset row with a seeded name on screen."""
    row = f'{ROW}:has-text("bench-")'
    cold, warm, client_side, breakdown = [], [], [], []
    for _ in range(runs):
        context = browser.new_context()
        page = context.new_page()
        breakdown.append(_cold_load(page, base, row, pid))
        cold.append(breakdown[-1]["wall_ms"] / 1000)
        page.goto(base + "/", wait_until="networkidle")
        t = time.perf_counter()
        page.goto(base + "/training", wait_until="commit")
        page.wait_for_selector(row, timeout=30_000)
        warm.append(time.perf_counter() - t)
        page.goto(base + "/", wait_until="networkidle")
        t = time.perf_counter()
        page.click('[data-testid="nav-training"]')
        page.wait_for_selector(row, timeout=30_000)
        client_side.append(time.perf_counter() - t)
        context.close()
    in_page = [b["rows_in_dom"] / 1000 for b in breakdown if "rows_in_dom" in b]
    medians = {f"cold_{k}_median": statistics.median(b[k] for b in breakdown)
               for k in ("server_cpu_ms", "browser_cpu_ms")}
    return {"cold_load_s": cold, "warm_load_s": warm, "client_side_nav_s": client_side, "cold_breakdown_ms": breakdown,
            "cold_median_s": statistics.median(cold), "cold_in_page_median_s": statistics.median(in_page or [0.0]),
            **medians, "warm_median_s": statistics.median(warm),
            "client_side_median_s": statistics.median(client_side)}


def measure_frontend(data_dir: Path, database_url: str | None, meta: dict[str, Any], runs: int = 5,
                     build_timeout: float = 900.0) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    if not (ROOT / "training_dashboard" / "pages").is_dir():
        return {"status": "pending: training_dashboard/pages does not exist yet"}
    APP_DIR.mkdir(parents=True, exist_ok=True)
    sync_tree(APP_DIR)
    log = APP_DIR.parent / "frontend-app.log"
    t = time.perf_counter()
    proc, base = start_app(data_dir, database_url, log, build_timeout)
    result: dict[str, Any] = {"status": "ok", "build_and_start_s": time.perf_counter() - t, "log": str(log)}
    try:
        with sync_playwright() as pw:
            exe = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            index = scripts_loaded(browser, base + "/")
            training = scripts_loaded(browser, base + "/training", wait_for=ROW)
            runs_tab = scripts_loaded(browser, base + "/training", wait_for=ROW, click='[data-testid="tab-runs"]')
            only_training = sorted(set(training) - set(index))
            leaked = sorted(u for u, s in index.items() if any(m in s["text"] for m in TRAINING_MARKERS))
            result.update({
                "index_js_bytes": sum(s["bytes"] for s in index.values()),
                "index_js_transfer_bytes": sum(s["transfer_bytes"] for s in index.values()),
                "index_js_files": len(index),
                "training_js_bytes": sum(s["bytes"] for s in training.values()),
                "training_js_transfer_bytes": sum(s["transfer_bytes"] for s in training.values()),
                "training_js_files": len(training),
                "training_only_js_bytes": sum(training[u]["bytes"] for u in only_training),
                "training_only_files": [u.rsplit("/", 1)[-1] for u in only_training],
                "markers_found_in_training_js": any(m in s["text"] for s in training.values()
                                                     for m in TRAINING_MARKERS),
                "training_loads_chart_code": any(CHART_MARKER in s["text"] for s in training.values()),
                "runs_tab_js_bytes": sum(s["bytes"] for s in runs_tab.values()),
                "runs_tab_files": [u.rsplit("/", 1)[-1] for u in runs_tab],
                "runs_tab_loads_chart_code": any(CHART_MARKER in s["text"] for s in runs_tab.values()),
                "index_loads_training_code": bool(leaked),
                "index_files_with_training_markers": [u.rsplit("/", 1)[-1] for u in leaked],
            })
            nav = time_to_rows(browser, base, runs, proc.pid)
            result["navigation"] = nav
            result["training_data_visible_s"] = nav["cold_median_s"]
            browser.close()
    finally:
        stop_process_group(proc)
    return result


def export_ref(ref: str, dest: Path) -> None:
    """The files of git ``ref`` in ``dest`` (its ``.web`` build folder is kept between runs)."""
    dest.mkdir(parents=True, exist_ok=True)
    for child in dest.iterdir():
        if child.name != ".web":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def compare(data_dir: Path, database_url: str | None, ref: str, runs: int, timeout: float = 900.0) -> dict[str, Any]:
    """Cold /training loads alternating between git ``ref`` and the working tree, both served at once,
    so that both see the same contention on a shared machine."""
    from playwright.sync_api import sync_playwright

    base_dir = APP_DIR.parent / "frontend-baseline"
    export_ref(ref, base_dir)
    APP_DIR.mkdir(parents=True, exist_ok=True)
    sync_tree(APP_DIR)
    dirs = {ref: base_dir, "working tree": APP_DIR}
    procs: dict[str, Any] = {}
    loads: dict[str, list[dict[str, float]]] = {name: [] for name in dirs}
    row = f'{ROW}:has-text("bench-")'
    try:
        for name, app_dir in dirs.items():
            log = APP_DIR.parent / f"{app_dir.name}.log"
            procs[name] = start_app(data_dir, database_url, log, timeout, app_dir=app_dir)
        with sync_playwright() as pw:
            exe = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            for i in range(runs):
                for name in (list(dirs) if i % 2 == 0 else list(dirs)[::-1]):
                    proc, base = procs[name]
                    context = browser.new_context()
                    loads[name].append(_cold_load(context.new_page(), base, row, proc.pid))
                    context.close()
            browser.close()
    finally:
        for proc, _ in procs.values():
            stop_process_group(proc)
    keys = ("wall_ms", "rows_in_dom", "ws_open", "rows_message", "server_cpu_ms", "browser_cpu_ms")
    return {name: {k: statistics.median(load.get(k, 0) for load in series) for k in keys}
            for name, series in loads.items()}


def main(argv: list[str] | None = None) -> int:
    """Only the UI figures: ``python -m bench.frontend --data-dir /tmp/td-small [--runs 7] [--baseline REF]``."""
    import argparse
    import json

    from bench.workload import DEFAULT_DATA_DIR

    p = argparse.ArgumentParser(prog="python -m bench.frontend", description=main.__doc__)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="a dir filled by bench.seed")
    p.add_argument("--database-url", default=None)
    p.add_argument("--runs", type=int, default=5, help="cold / warm / client-side loads each (default 5)")
    p.add_argument("--baseline", metavar="GIT_REF", default=None,
                   help="instead: cold loads alternating between GIT_REF and the working tree (A/B)")
    args = p.parse_args(argv)
    if args.baseline:
        medians = compare(args.data_dir, args.database_url, args.baseline, args.runs)
        print(f"cold /training, medians of {args.runs} alternating loads (ms; wall = driver clock, rows_in_dom and "
              f"ws_* = page clock since navigation start; CPU per load); load average {os.getloadavg()[0]:.1f}")
        for name, med in medians.items():
            print(f"{name:>14}: " + ", ".join(f"{k} {v:.0f}" for k, v in med.items()))
        return 0
    result = measure_frontend(args.data_dir, args.database_url, {}, runs=args.runs)
    nav = result.pop("navigation", {})
    print(json.dumps(result, indent=1))
    for row in nav.get("cold_breakdown_ms", []):
        print("cold load (ms since navigation start):", row)
    for label, key, series in (("cold", "cold_median_s", "cold_load_s"), ("warm", "warm_median_s", "warm_load_s"),
                               ("client-side", "client_side_median_s", "client_side_nav_s")):
        runs = ", ".join(f"{v:.2f}" for v in nav.get(series, []))
        print(f"{label:12s} median {nav.get(key, float('nan')):.3f} s   runs: {runs}")
    med = {k: nav.get(f"cold_{k}_median", 0) for k in ("server_cpu_ms", "browser_cpu_ms")}
    print(f"cold, first row in the DOM (page clock) median {nav.get('cold_in_page_median_s', float('nan')):.3f} s; "
          f"CPU per cold load: server {med['server_cpu_ms']:.0f} ms, Chromium {med['browser_cpu_ms']:.0f} ms")
    met = nav.get("cold_median_s", 99.0) <= COLD_LIMIT_S
    print(f"cold /training <= {COLD_LIMIT_S} s: {'MET' if met else 'NOT MET'}; / loads /training code: "
          f"{result.get('index_loads_training_code')}; /training loads chart code: "
          f"{result.get('training_loads_chart_code')}, the Runs tab adds {result.get('runs_tab_js_bytes', 0):,} bytes; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
