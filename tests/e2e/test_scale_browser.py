"""Broker mode in the browser: the app (two backend processes sharing UI state through Redis,
``REFLEX_REDIS_URL``) runs no generation worker of its own; one ``python -m
training_dashboard.worker --queues generate`` process (its own dir, no database URL) does the
work through Celery. Prompt -> generate -> the clips play -> rate, as a user does it."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator

import pytest
import redis
from playwright.sync_api import Page, expect

from tests.e2e.conftest import CONTEXT_ARGS, ROOT, Server, free_port, sign_in, start_app
from tests.scale.conftest import WorkerProcess, broker_env

pytestmark = [pytest.mark.e2e, pytest.mark.own_app]

GENERATION_TIMEOUT_MS = 240_000
# A page load here is a hydrate that may wait for the tab's state lock held by the other backend
# process: Reflex hands a Redis lock over by keyspace notification, or after its 10 s expiry when a
# loaded machine missed it. The first look after each navigation waits for that.
PAGE_LOAD_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def broker_server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[Server, WorkerProcess]]:
    root = tmp_path_factory.mktemp("scale-e2e")
    base = redis_url.rsplit("/", 1)[0]
    broker = f"{base}/{1 + uuid.uuid4().int % 15}"
    redis.Redis.from_url(broker).flushdb()
    port = free_port()
    # Its own frontend build: the build holds the backend's port, and the suite's app on the other
    # port still serves ROOT/.web. The npm packages are shared (read only).
    web = root / "web"
    if (ROOT / ".web" / "node_modules").is_dir():
        shutil.copytree(ROOT / ".web", web, symlinks=True, ignore=shutil.ignore_patterns("node_modules", "build"))
        (web / "node_modules").symlink_to(ROOT / ".web" / "node_modules")
    shared = broker_env(broker, f"http://127.0.0.1:{port}/api", lease_s=30.0)
    worker = WorkerProcess(root, "e2e-gen", "generate", shared).start()  # it waits for the app's API
    try:
        # two backend processes: a tab's events and its reload may land on either one
        env = {**shared, "REFLEX_REDIS_URL": redis_url, "GRANIAN_WORKERS": "2", "REFLEX_WEB_WORKDIR": str(web)}
        with start_app(root / "data", env, port=port) as app:
            yield app, worker
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def browser_context_args() -> dict:  # type: ignore[type-arg]
    """This module's app is not the suite's (nor is its admin): its browser starts signed out and signs
    in on /login. Not built on the suite's fixture, which would start the suite's app too."""
    return dict(CONTEXT_ARGS)


def test_the_loop_through_a_worker(page: Page, broker_server: tuple[Server, WorkerProcess]) -> None:
    server, worker = broker_server
    sign_in(page, server, server.admin_user, server.admin_password, "/")
    health = server.get("health").json()
    assert health["mode"] == "broker" and health["worker"] is True
    assert [w["name"] for w in health["workers"]] == ["e2e-gen"]

    expect(page.get_by_test_id("model-status")).to_have_text("✓ 1 generation worker ready (tiny, cpu)",
                                                             timeout=PAGE_LOAD_TIMEOUT_MS)
    page.get_by_test_id("prompt-text").fill("A slow cello drone, generated on a worker")
    page.get_by_test_id("prompt-duration").fill("0.5")
    expect(page.get_by_test_id("generate")).to_be_enabled()
    page.get_by_test_id("generate").click()
    status = page.get_by_test_id("job-status")
    expect(status).to_have_text(re.compile("completed|failed|cancelled"), timeout=GENERATION_TIMEOUT_MS)
    assert status.inner_text() == "completed", (page.get_by_test_id("job-error").all_inner_texts(), worker.tail())
    expect(page.get_by_test_id("clip-card")).to_have_count(2)
    job_id = int(re.search(r"#(\d+)", page.get_by_text(re.compile(r"^Job #\d+$")).inner_text()).group(1))
    job = server.get(f"generate/{job_id}").json()
    assert len(job["audio_ids"]) == 2, job
    # the app has no generation worker of its own: the clips are the worker's uploads, stored once
    assert len(list((server.data_dir / "audio" / f"job-{job_id}").glob("*.wav"))) == 2

    # the clips the worker uploaded stream from the app and play
    audio = page.get_by_test_id("clip-audio").first
    assert re.search(r"/api/audio/\d+/stream(\?exp=\d+&sig=[\w-]+)?$", audio.get_attribute("src") or "")
    handle = audio.element_handle()
    page.wait_for_function("el => el.readyState >= 1 && el.duration > 0.4", arg=handle)
    audio.evaluate("el => { el.muted = true; return el.play(); }")
    page.wait_for_function("el => el.currentTime > 0 || el.ended", arg=handle)

    _shot(page, "broker-studio")
    clip = page.get_by_test_id("clip-card").first
    clip.get_by_role("radio", name="5", exact=True).click()
    clip.get_by_test_id("submit-rating").click()
    expect(clip.get_by_test_id("rating-saved")).to_be_visible()
    assert server.get(f"audio/{job['audio_ids'][0]}").json()["rating_count"] == 1

    # state survives a reload, whichever backend process the new connection reaches
    page.reload()
    expect(page.get_by_test_id("clip-card")).to_have_count(2, timeout=PAGE_LOAD_TIMEOUT_MS)
    expect(page.get_by_test_id("clip-card").first.get_by_test_id("rating-saved")).to_be_visible()

    # the Runs tab lists the worker
    page.goto(server.url + "/training?tab=runs")
    row = page.get_by_test_id("worker-row")
    expect(row).to_have_count(1, timeout=PAGE_LOAD_TIMEOUT_MS)
    expect(row.get_by_test_id("worker-name")).to_have_text("e2e-gen")
    expect(row.get_by_test_id("worker-status")).to_have_text("ready (tiny, cpu)")
    _shot(page, "broker-runs")


def _shot(page: Page, name: str) -> None:
    """Screenshots to look at (``TD_E2E_SHOTS=/some/dir``); nothing otherwise."""
    folder = os.environ.get("TD_E2E_SHOTS")
    if folder:
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)
