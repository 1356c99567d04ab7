"""The generation side of a Celery worker: one base model per process, jobs claimed through the API.

:func:`load_model` runs once when the process starts; :func:`execute_job` runs each ``td.generate``
message: claim the job (a new attempt under a lease), fetch the adapter it needs (cached under
``<TD_DATA_DIR>/adapter-cache/``), generate exactly as the in-process worker does
(:func:`~training_dashboard.engine.generate.generate_waves`), upload each clip and complete. A
409 or 404 from the app at any point means another attempt owns the job (or it is gone): the
job is dropped silently. Every other failure is reported to the app as the job's error.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from training_dashboard.engine.generate import generate_waves, load_error, load_runtime
from training_dashboard.files.adapter_files import CONFIG_FILE, WEIGHTS_FILE
from training_dashboard.files.archives import UnsafeArchive, extract
from training_dashboard.services.jobs import clip_name
from training_dashboard.worker.api import ApiRefused, ApiUnavailable
from training_dashboard.worker.context import WorkerContext

log = logging.getLogger(__name__)

ADAPTER_CACHE = "adapter-cache"
ADAPTER_FILES = (CONFIG_FILE, WEIGHTS_FILE)
MAX_ADAPTER_BYTES = 16 * 1024**3
MAX_ERROR_CHARS = 4000
PROGRESS_EVERY_S = 0.5
DROP = (404, 409)  # the job is gone, finished, or held by another attempt: nothing to report
_KEY = re.compile(r"^[0-9a-f]{8,64}$")


def load_model(ctx: WorkerContext) -> bool:
    """Load the base model once for this process. Never raises: a failure is reported (status + error).

    Returns:
        Whether the model is ready.
    """
    with ctx.lock:
        ctx.model_status, ctx.error = "loading", None
    ctx.beat()
    try:
        runtime = load_runtime(ctx.settings)
    except Exception as exc:  # noqa: BLE001 - reported through the heartbeat and each claimed job
        message = load_error(exc)
        log.error("base model %s failed to load: %s", ctx.settings.base_model, message)
        with ctx.lock:
            ctx.model_status, ctx.error = "failed", message
        ctx.beat()
        return False
    with ctx.lock:
        ctx.runtime, ctx.model_status, ctx.device, ctx.error = runtime, "ready", runtime.base.device, None
    log.info("base model %s ready on %s", ctx.settings.base_model, runtime.base.device)
    ctx.beat()
    return True


def execute_job(ctx: WorkerContext, job_id: int) -> None:
    """Run generation job ``job_id`` end to end; returns once the app knows the outcome (or the job was dropped).

    Raises:
        celery.exceptions.Reject: the app could not be reached to claim the job (the message goes back
            to the queue rather than being lost).
    """
    try:
        claim = ctx.api.json("POST", f"/jobs/{job_id}/claim", json={})
    except ApiRefused as exc:
        log.info("job %s not claimed: %s", job_id, exc)
        return
    except ApiUnavailable as exc:
        from celery.exceptions import Reject

        log.error("job %s: could not claim it: %s", job_id, exc)
        raise Reject(str(exc), requeue=True) from exc
    attempt = int(claim["attempt"])
    with ctx.lock:
        ctx.jobs[job_id] = attempt
    try:
        _run(ctx, claim)
    except ApiRefused as exc:
        log.info("job %s attempt %s dropped: %s", job_id, attempt, exc)
    except ApiUnavailable as exc:
        log.error("job %s attempt %s abandoned, the app is unreachable (it re-queues the job when the lease "
                  "expires): %s", job_id, attempt, exc)
    finally:
        with ctx.lock:
            ctx.jobs.pop(job_id, None)


def _run(ctx: WorkerContext, claim: dict[str, Any]) -> None:
    from training_dashboard.engine.audio import write_wav
    from training_dashboard.engine.runtime import AdapterError, Cancelled

    job_id, attempt, seeds = int(claim["job_id"]), int(claim["attempt"]), [int(s) for s in claim["seeds"]]
    url = f"/jobs/{job_id}"

    def fail(message: str) -> None:
        log.warning("job %s attempt %s failed: %s", job_id, attempt, message)
        _tell(ctx, f"{url}/fail", {"attempt": attempt, "error": _clean(message)})

    last_report = [0.0]

    def progress(fraction: float) -> bool:
        # At most every PROGRESS_EVERY_S (each report is a round trip the model waits for); also asks "cancel?".
        now = time.monotonic()
        if fraction < 1.0 and now - last_report[0] < PROGRESS_EVERY_S:
            return True
        last_report[0] = now
        answer = ctx.api.json("POST", f"{url}/progress", json={"attempt": attempt, "progress": round(fraction, 4)})
        return not answer.get("cancel", False)

    if ctx.model_status != "ready" or ctx.runtime is None:
        fail(f"The base model is not available on worker {ctx.name}. {ctx.error or ''}".strip())
        return
    if claim["base_model"] != ctx.settings.base_model:
        fail(f"Worker {ctx.name} runs base model {ctx.settings.base_model!r}, but the app runs "
             f"{claim['base_model']!r}: start the worker with TD_BASE_MODEL={claim['base_model']}")
        return
    try:
        ref = claim.get("adapter")
        adapter_dir = fetch_adapter(ctx, ref) if ref else None
        scratch = ctx.settings.resolved_data_dir
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".job-{job_id}-", dir=scratch) as tmp:
            waves = generate_waves(ctx.runtime, ctx.settings.base_model, claim["prompt_text"],
                                   claim["prompt_attributes"], claim["params"], seeds, adapter_dir,
                                   ref["base_model"] if ref else None, progress)
            if not progress(1.0):
                raise Cancelled()
            rate = ctx.runtime.base.sample_rate
            for index, (seed, wave) in enumerate(zip(seeds, waves, strict=True)):
                path = Path(tmp) / clip_name(index, seed)
                write_wav(path, wave, rate)
                ctx.api.request("PUT", f"{url}/clips/{index}", params={"attempt": attempt, "seed": seed},
                                content=path.read_bytes(), headers={"Content-Type": "audio/wav"})
        audio_ids = ctx.api.json("POST", f"{url}/complete", json={"attempt": attempt})["audio_ids"]
        log.info("job %s attempt %s completed: audio %s", job_id, attempt, audio_ids)
    except Cancelled:
        log.info("job %s attempt %s cancelled", job_id, attempt)
        _tell(ctx, f"{url}/cancelled", {"attempt": attempt})
    except AdapterError as exc:
        fail(str(exc))
    except ApiRefused as exc:
        if exc.status in DROP:
            raise
        fail(f"The app refused this worker's request: {exc.detail}")
    except ApiUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure becomes a readable job error
        log.exception("job %s failed", job_id)
        fail(f"Generation failed: {type(exc).__name__}: {exc}")


def fetch_adapter(ctx: WorkerContext, ref: dict[str, Any]) -> Path:
    """The adapter's directory in this worker's cache, downloaded from the app when the key is new.

    Raises:
        AdapterError: the app could not send it, or sent something that is not an adapter archive.
    """
    from training_dashboard.engine.runtime import AdapterError

    adapter_id = int(ref["id"])
    cache = ctx.settings.resolved_data_dir / ADAPTER_CACHE
    key = str(ref.get("key") or "")
    if _KEY.match(key) and (cache / f"{adapter_id}-{key}").is_dir():
        return cache / f"{adapter_id}-{key}"
    try:
        response = ctx.api.request("GET", f"/adapters/{adapter_id}/archive")
    except ApiRefused as exc:  # about the adapter, not the job's lease: the job fails with the reason
        raise AdapterError(f"The app could not send adapter {adapter_id}: {exc.detail}") from exc
    key = response.headers.get("X-TD-Adapter-Key", "")
    if not _KEY.match(key):
        raise AdapterError(f"The app sent adapter {adapter_id} without a valid X-TD-Adapter-Key ({key[:80]!r})")
    target = cache / f"{adapter_id}-{key}"
    if not target.is_dir():
        extract_adapter(response.content, target)
    for old in cache.glob(f"{adapter_id}-*"):  # earlier saves of the same adapter
        if old != target and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return target


def extract_adapter(archive: bytes, target: Path) -> None:
    """Unpack an adapter archive into ``target`` (atomically): exactly the adapter's regular files.

    Unpacked by :func:`training_dashboard.files.archives.extract` (no paths outside, no links, a size
    limit), then checked to hold the adapter's files and nothing else.

    Raises:
        AdapterError: not a tar, unsafe or unexpected members, too large, or a file missing.
    """
    from training_dashboard.engine.runtime import AdapterError

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        try:
            written = extract(io.BytesIO(archive), tmp, max_bytes=MAX_ADAPTER_BYTES, max_members=len(ADAPTER_FILES))
        except UnsafeArchive as exc:
            raise AdapterError(f"Adapter archive refused: {exc}") from exc
        unexpected = sorted(set(written) - set(ADAPTER_FILES))
        if unexpected or len(written) != len(set(written)):
            raise AdapterError(f"Adapter archive holds unexpected member(s) {unexpected or written} (only the "
                               f"regular files {', '.join(ADAPTER_FILES)} are accepted)")
        missing = [name for name in ADAPTER_FILES if name not in written]
        if missing:
            raise AdapterError(f"Adapter archive lacks {', '.join(missing)}")
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # else another download of the same key won the race: use it
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _tell(ctx: WorkerContext, path: str, body: dict[str, Any]) -> None:
    """Report an outcome; a refusal means another attempt owns the job (nothing more to do)."""
    try:
        ctx.api.json("POST", path, json=body)
    except ApiRefused as exc:
        log.info("%s refused: %s", path, exc)


def _clean(message: str) -> str:
    """A job error the app accepts: printable (newlines and tabs kept), 1..4000 characters."""
    text = "".join(c if c.isprintable() or c in "\n\t" else "?" for c in message).strip() or "Generation failed"
    return text[:MAX_ERROR_CHARS]
