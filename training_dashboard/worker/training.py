"""A training run on a Celery worker: claim it, fetch what it needs, run the training CLI, report.

The same child handling as the embedded worker (``worker.training_child.TrainingChild``), with
an :class:`ApiBackend` instead of the database: new metric records and log lines go to
``POST /api/worker/runs/{id}/progress`` about twice a second (which renews the lease and
answers the cancel flag), each new complete checkpoint is uploaded (so another worker can
continue from it if this one dies), the finished run directory is uploaded and the app
registers its adapter once. Everything lives under ``<TD_DATA_DIR>/runs/run-<id>/`` on this
machine: ``export/`` (the dataset, downloaded), ``run/`` (the CLI's run directory), ``run.log``.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from training_dashboard.files.archives import UnsafeArchive, extract, pack_file
from training_dashboard.training.layout import latest_checkpoint_step, trim_metrics_file
from training_dashboard.worker.api import ApiRefused, ApiUnavailable
from training_dashboard.worker.api import detail as _detail
from training_dashboard.worker.context import WorkerContext
from training_dashboard.worker.training_child import RunBackend, TrainingChild, child_argv, child_env

log = logging.getLogger(__name__)
MAX_DOWNLOAD_BYTES = 1 << 40
MAX_LOG_CHUNK = 512 * 1024  # per progress call (the app takes up to 1 MiB)


class Dropped(Exception):
    """The app says this attempt no longer holds the run (409): stop and forget it."""


def execute_run(ctx: WorkerContext, run_id: int) -> None:
    """Claim run ``run_id`` and execute it to an outcome the app has been told about.

    Returns normally whatever happens (so the message is acknowledged), except when the worker
    dies; a refused claim (404 unknown, 409 finished or already running) is logged and dropped.
    """
    try:
        claim = ctx.api.json("POST", f"/runs/{run_id}/claim", json={})
    except ApiRefused as exc:
        log.info("run %s: claim refused (%s); dropping the message", run_id, exc)
        return
    except ApiUnavailable:
        log.exception("run %s: the app is unreachable; the message is dropped and the app sends it again", run_id)
        return
    attempt = int(claim["attempt"])
    with ctx.lock:
        ctx.runs[run_id] = attempt
    root = ctx.settings.resolved_data_dir / "runs" / f"run-{run_id}"
    backend = ApiBackend(ctx, run_id, attempt, root)
    child = TrainingChild(backend, run_id, backend.out, stop=ctx.stopping)
    try:
        _execute(ctx, claim, backend, child)
    except Dropped as exc:
        log.warning("run %s attempt %s: %s; stopping it here", run_id, attempt, exc)
        child.end()
    except ApiUnavailable:
        log.exception("run %s attempt %s: the app is unreachable; stopping (the app re-queues it)", run_id, attempt)
        child.end()
    except Exception as exc:  # noqa: BLE001 - any failure becomes a readable run error
        log.exception("training run %s failed", run_id)
        child.end()
        try:
            backend.note(f"failed: {type(exc).__name__}: {exc}")
            backend.finish("failed", f"The worker {ctx.name} failed: {type(exc).__name__}: {exc}")
        except (Dropped, ApiRefused, ApiUnavailable):
            log.warning("run %s attempt %s: could not report the failure; the app re-queues it when the lease ends",
                        run_id, attempt)
    finally:
        with ctx.lock:
            ctx.runs.pop(run_id, None)
        shutil.rmtree(root, ignore_errors=True)


def _execute(ctx: WorkerContext, claim: dict[str, Any], backend: ApiBackend, child: TrainingChild) -> None:
    run_id, out = int(claim["run_id"]), backend.out
    export = backend.root / "export"
    try:
        backend.download(f"/runs/{run_id}/export", export)
    except ApiRefused as exc:
        backend.note(f"failed: {exc.detail}")
        backend.finish("failed", exc.detail)
        return
    checkpoint = claim.get("checkpoint_step")
    if checkpoint is not None:
        backend.download(f"/runs/{run_id}/checkpoint", out)
        restored = latest_checkpoint_step(out)
        if restored != checkpoint:
            raise RuntimeError(f"the downloaded checkpoint holds step {restored}, not {checkpoint}")
        trim_metrics_file(out / "metrics.jsonl", checkpoint)
        child.last_checkpoint = checkpoint
        backend.note(f"resumed from step {checkpoint} on {ctx.name}")
    else:
        backend.note(f"restarting from step 0 on {ctx.name}: no checkpoint had been uploaded"
                     if claim["attempt"] > 1 else f"starting on {ctx.name}")
    argv = child_argv(run_id, claim["task"], claim["name"], claim["config"], str(export), out, claim["base_model"],
                      checkpoint is not None, data_on_resume=True)
    backend.note("$ " + " ".join(argv[1:]))
    env = child_env(ctx.settings.resolved_data_dir, claim["base_model"])
    if ctx.stopping.is_set():  # warm shutdown while downloading: hand it back before starting anything
        child.settle("queued", None, "the worker is stopping; the run continues from its checkpoint elsewhere")
        return
    child.run(argv, env)


class _LogSink:
    """The child's output: into this worker's copy of the log and the text not yet sent."""

    def __init__(self, backend: ApiBackend) -> None:
        self.backend = backend
        self.fh = backend.log_file.open("ab")

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.backend.buffer(data.decode("utf-8", errors="replace"))

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


class ApiBackend(RunBackend):
    """A Celery worker's attempt: everything reported through ``/api/worker/runs/{id}/*``."""

    poll_s = 0.5
    beat_s = 0.5
    watch_checkpoints = True

    def __init__(self, ctx: WorkerContext, run_id: int, attempt: int, root: Path) -> None:
        self.ctx, self.run_id, self.attempt = ctx, run_id, attempt
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        self.root, self.out, self.log_file = root, root / "run", root / "run.log"
        self._pending: list[str] = []
        self._lock = threading.Lock()

    # -- talking to the app ---------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.ctx.api.json(method, f"/runs/{self.run_id}{path}", **kwargs)
        except ApiRefused as exc:
            if exc.status == 409:
                raise Dropped(exc.detail) from exc
            raise

    def buffer(self, text: str) -> None:
        with self._lock:
            self._pending.append(text)

    def _take_log(self) -> str:
        with self._lock:
            text, self._pending = "".join(self._pending), []
        return text

    def download(self, path: str, dest: Path) -> None:
        """GET a tar from the app and unpack it (checked like any archive) into ``dest``."""
        spool = self.root / "download.tar"
        api = self.ctx.api
        deadline = time.monotonic() + api.patience_s
        while True:
            try:
                with api.http.stream("GET", api.base + path) as response:
                    if 400 <= response.status_code < 500 and response.status_code != 429:
                        response.read()
                        if response.status_code == 409:
                            raise Dropped(_detail(response))
                        raise ApiRefused(response.status_code, _detail(response))
                    if response.status_code < 400:
                        with spool.open("wb") as fh:
                            for chunk in response.iter_bytes(1 << 20):
                                fh.write(chunk)
                        break
                    problem = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise ApiUnavailable(f"GET {path}: {problem}")
            log.warning("GET %s: %s; retrying", path, problem)
            time.sleep(1.0)
        try:
            with spool.open("rb") as fh:
                extract(fh, dest, MAX_DOWNLOAD_BYTES)
        except UnsafeArchive as exc:
            raise RuntimeError(f"the app sent a bad archive for {path}: {exc}") from exc
        finally:
            spool.unlink(missing_ok=True)

    def upload(self, path: str, archive: Path, **params: Any) -> Any:
        with archive.open("rb") as fh:
            data = fh.read() if archive.stat().st_size < (64 << 20) else None
        if data is not None:
            return self.call("PUT", path, params={"attempt": self.attempt, **params}, content=data,
                             headers={"Content-Type": "application/x-tar"})
        with archive.open("rb") as fh:  # large: streamed (a retry after a partial send cannot rewind it)
            return self.call("PUT", path, params={"attempt": self.attempt, **params}, content=fh,
                             headers={"Content-Type": "application/x-tar"})

    # -- RunBackend -------------------------------------------------------------------------

    def note(self, text: str) -> None:
        line = f"[worker] {text}\n"
        with self.log_file.open("a", encoding="utf-8") as fh:
            fh.write(line)
        self.buffer(line)

    @contextmanager
    def _sink(self) -> Iterator[_LogSink]:
        sink = _LogSink(self)
        try:
            yield sink
        finally:
            sink.close()

    def output(self) -> AbstractContextManager[Any]:
        return self._sink()

    def progress(self, records: list[dict[str, Any]]) -> bool:
        with self.ctx.lock:
            self.ctx.runs[self.run_id] = self.attempt
        text, cancel = self._take_log(), False
        while True:
            head, text = _cut(text, MAX_LOG_CHUNK)
            cancel = bool(self.call("POST", "/progress", json={"attempt": self.attempt, "records": records[:10_000],
                                                               "log": head})["cancel"]) or cancel
            records = records[10_000:]
            if not text and not records:
                return cancel

    def checkpointed(self, step: int) -> None:
        archive = self.root / "checkpoint.tar"
        try:
            _pack_checkpoint(self.out, step, archive)
        except OSError as exc:  # the child removed or rewrote it meanwhile: the next one goes up
            log.warning("run %s: could not pack checkpoint %s: %s", self.run_id, step, exc)
            return
        try:
            self.call("PUT", "/checkpoint", params={"attempt": self.attempt, "step": step},
                      content=archive.read_bytes(), headers={"Content-Type": "application/x-tar"})
        finally:
            archive.unlink(missing_ok=True)
        self.note(f"checkpoint at step {step} uploaded")

    def finish(self, status: str, error: str | None) -> None:
        self.progress([])  # the notes first
        self.call("POST", "/finish", json={"attempt": self.attempt, "status": status, "error": error})

    def complete(self) -> None:
        self.note("training finished; uploading the run")
        self.progress([])
        archive = pack_file(self.out, self.root / "result.tar", exclude_top=("checkpoints",))
        try:
            self.upload("/result", archive)
        except ApiRefused as exc:
            self.note(f"failed: Training finished but the adapter could not be registered: {exc.detail}")
            self.finish("failed", f"Training finished but the adapter could not be registered: {exc.detail}")
        finally:
            archive.unlink(missing_ok=True)

    def last_lines(self, count: int) -> str:
        try:
            return "\n".join(self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-count:])
        except OSError:
            return ""


def _cut(text: str, limit: int) -> tuple[str, str]:
    """At most ``limit`` characters of ``text``, ending at a line end where possible."""
    if len(text) <= limit:
        return text, ""
    end = text.rfind("\n", 0, limit) + 1 or limit
    return text[:end], text[end:]


def _pack_checkpoint(out: Path, step: int, dest: Path) -> None:
    """What ``--resume`` needs: train_config.json, checkpoints/step-N, best/ (with best_eval.json),
    and metrics.jsonl up to ``step``."""
    with tarfile.open(dest, "w") as tar:
        tar.add(str(out / "train_config.json"), arcname="train_config.json")
        folder = out / "checkpoints" / f"step-{step:06d}"
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            tar.add(str(path), arcname=path.relative_to(out).as_posix(), recursive=False)
        best = out / "best"
        if best.is_dir():
            for path in sorted(p for p in best.rglob("*") if p.is_file()):
                tar.add(str(path), arcname=path.relative_to(out).as_posix(), recursive=False)
        metrics = out / "metrics.jsonl"
        if metrics.is_file():
            kept = []
            for line in metrics.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line)["step"] <= step:
                        kept.append(line + "\n")
                except (ValueError, KeyError, TypeError):
                    continue
            data = "".join(kept).encode()
            info = tarfile.TarInfo("metrics.jsonl")
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))

