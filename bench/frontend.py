"""Frontend figures from a production build (``reflex run --env prod``) in headless Chromium.

The app is built in a copy of the working tree under ``bench/results/frontend-app`` (its
``.web`` is kept between runs), so the benchmark never touches the ``.web`` another
developer's ``reflex run`` is using. The first build runs ``npm install`` (~1-3 min).
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.server import HOST, free_port

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = Path(__file__).parent / "results" / "frontend-app"
# data-testids that only the /training page's components render.
TRAINING_MARKERS = ("ds-row-name", "tab-datasets", "ds-new")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ROW = '[data-testid="ds-row-name"]'


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


def start_app(data_dir: Path, database_url: str | None, log: Path, timeout: float) -> tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
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
    proc = subprocess.Popen(cmd, cwd=APP_DIR, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
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
    stop_app(proc)
    raise RuntimeError(f"the production app did not come up within {timeout:.0f} s; see {log}")


def stop_app(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def scripts_loaded(browser, url: str, wait_for: str | None = None) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Every JavaScript response a fresh context fetches for ``url``: decoded bytes and body text."""
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


# Where a cold load's time goes, in ms since navigation start (the page's own clock).
BREAKDOWN_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const js = res.filter(r => r.initiatorType === 'script' || r.name.endsWith('.js'));
  const last = (xs, f) => xs.length ? Math.max(...xs.map(f)) : 0;
  return {html_done: nav.responseEnd, dom_content_loaded: nav.domContentLoadedEventEnd,
          js_files: js.length, js_done: last(js, r => r.responseEnd),
          rows_visible: performance.now()};
}"""


def _cold_breakdown(page, base: str, row: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """One cold load with timestamps: HTML, scripts, socket open, first and data-carrying frames."""
    frames: list[tuple[str, float]] = []

    def on_ws(ws) -> None:  # type: ignore[no-untyped-def]
        frames.append(("open", time.perf_counter()))
        ws.on("framesent", lambda payload: frames.append(("sent:" + str(payload)[:40], time.perf_counter())))
        ws.on("framereceived", lambda payload: frames.append(
            ("recv:" + ("rows" if "bench-" in str(payload) else str(payload)[:40]), time.perf_counter())))

    page.on("websocket", on_ws)
    t = time.perf_counter()
    page.goto(base + "/training", wait_until="commit")
    page.wait_for_selector(row, timeout=30_000)
    total = time.perf_counter() - t
    out = {k: round(v) for k, v in page.evaluate(BREAKDOWN_JS).items()}
    out["total_ms"] = round(1000 * total)
    for name, at in frames:
        key = {"open": "ws_open", "recv:rows": "ws_rows_frame"}.get(name)
        if name.startswith("sent:") and "hydrate" in name:
            key = "ws_hydrate_sent"
        if key and key not in out:
            out[key] = round(1000 * (at - t))
    out["ws_frames_before_rows"] = next((i for i, (n, _) in enumerate(frames) if n == "recv:rows"), len(frames))
    return out


def time_to_rows(browser, base: str, runs: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Seconds from navigation to the first dataset row with a seeded name on screen."""
    row = f'{ROW}:has-text("bench-")'
    cold, warm, client_side, breakdown = [], [], [], []
    for _ in range(runs):
        context = browser.new_context()
        page = context.new_page()
        t = time.perf_counter()
        breakdown.append(_cold_breakdown(page, base, row))
        cold.append(time.perf_counter() - t)
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
    return {"cold_load_s": cold, "warm_load_s": warm, "client_side_nav_s": client_side, "cold_breakdown_ms": breakdown,
            "cold_median_s": statistics.median(cold), "warm_median_s": statistics.median(warm),
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
                "index_loads_training_code": bool(leaked),
                "index_files_with_training_markers": [u.rsplit("/", 1)[-1] for u in leaked],
            })
            nav = time_to_rows(browser, base, runs)
            result["navigation"] = nav
            result["training_data_visible_s"] = nav["cold_median_s"]
            browser.close()
    finally:
        stop_app(proc)
    return result


def main(argv: list[str] | None = None) -> int:
    """Only the UI figures: ``python -m bench.frontend --data-dir /tmp/td-small [--runs 7]``."""
    import argparse
    import json

    from bench.seed import DEFAULT_DATA_DIR

    p = argparse.ArgumentParser(prog="python -m bench.frontend", description=main.__doc__)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="a dir filled by bench.seed")
    p.add_argument("--database-url", default=None)
    p.add_argument("--runs", type=int, default=5, help="cold / warm / client-side loads each (default 5)")
    args = p.parse_args(argv)
    result = measure_frontend(args.data_dir, args.database_url, {}, runs=args.runs)
    nav = result.pop("navigation", {})
    print(json.dumps(result, indent=1))
    for row in nav.get("cold_breakdown_ms", []):
        print("cold breakdown (ms):", row)
    for key in ("cold", "warm", "client_side"):
        runs = ", ".join(f"{v:.2f}" for v in nav.get(f"{key}_load_s" if key != "client_side" else "client_side_nav_s", []))
        print(f"{key:12s} median {nav.get(key + '_median_s', float('nan')):.3f} s   runs: {runs}")
    target = nav.get("cold_median_s", 99) <= 1.0
    print(f"cold /training <= 1 s: {'MET' if target else 'NOT MET'}; / loads /training code: "
          f"{result.get('index_loads_training_code')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
