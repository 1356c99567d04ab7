"""Training runs on the embedded worker: each run is the training CLI in a child process
(:mod:`worker.training_child`), its metrics and log stored in the database as they grow.
A run whose worker died is found by the next worker (same host: the pid is gone; any host:
no heartbeat for a minute) and continues from its last checkpoint; the adapter is registered
by this worker, once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.services import run_worker
from training_dashboard.services.errors import ServiceError
from training_dashboard.services.run_metrics import append_log, last_lines, log_path
from training_dashboard.training.layout import latest_checkpoint_step, planned_steps, trim_metrics_file
from training_dashboard.worker.loop import LoopThread
from training_dashboard.worker.training_child import RunBackend, TrainingChild, child_argv, child_env

log = logging.getLogger(__name__)
HOST = socket.gethostname()
STALE_AFTER_S = 60.0
RECOVER_EVERY_S = 10.0


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _our_child(pid: int | None, run_id: int) -> bool:
    """Whether ``pid`` is still the training child of ``run_id`` (not a reused pid)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"training_dashboard.training" in args and b"--run-id" in args and str(run_id).encode() in args


class TrainingRunner(LoopThread):
    """Claims queued runs (at most ``settings.max_training_runs`` at once) and executes them."""

    thread_name = "td-training-runner"

    def __init__(self, settings: Settings, db: Database, poll_interval: float = 0.5) -> None:
        super().__init__()
        self.settings, self.db, self.poll_interval = settings, db, poll_interval
        self.max_runs = settings.max_training_runs
        self._active: dict[int, RunExecution] = {}

    def start(self) -> None:
        if self.max_runs > 0:
            super().start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop claiming; running children checkpoint and stop, and their runs continue at the next start."""
        self._stop.set()
        for execution in list(self._active.values()):
            execution.interrupt()
        deadline = time.monotonic() + timeout
        for execution in list(self._active.values()):
            execution.join(max(0.1, deadline - time.monotonic()))
        self.join(max(0.1, deadline - time.monotonic()))

    def loop(self) -> None:
        last_recovery = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_recovery > RECOVER_EVERY_S:
                    self.recover()
                    last_recovery = time.monotonic()
                self._active = {k: v for k, v in self._active.items() if v.is_alive()}
                while len(self._active) < self.max_runs and not self._stop.is_set():
                    claimed = run_worker.claim_next_run(self.db, HOST, os.getpid())
                    if claimed is None:
                        break
                    execution = RunExecution(self.settings, self.db, claimed)
                    self._active[claimed.id] = execution
                    execution.start()
            except Exception:  # noqa: BLE001 - the loop must survive e.g. a locked database
                log.exception("training runner iteration failed")
            self._stop.wait(self.poll_interval)

    def recover(self) -> int:
        """Runs left ``running`` by a dead worker go back to the queue, to continue from their checkpoint."""
        recovered = 0
        for run in run_worker.running_runs(self.db):
            if run.id in self._active:
                continue
            here = run.worker_host == HOST
            dead = here and (run.worker_pid == os.getpid() or not _alive(run.worker_pid))
            stale = run.heartbeat_age_s is None or run.heartbeat_age_s > STALE_AFTER_S
            if not (dead or stale):
                continue
            if here and _alive(run.child_pid) and _our_child(run.child_pid, run.id):
                _end_orphan(run.child_pid or 0)
            append_log(self.settings.resolved_data_dir, run.id,
                       "[worker] the worker running this run stopped; it continues from its last checkpoint")
            run_worker.finish_run(self.db, run.id, "queued")
            recovered += 1
        if recovered:
            log.warning("re-queued %d training run(s) left running by a stopped worker", recovered)
        return recovered


def _end_orphan(pid: int, grace_s: float = 60.0) -> None:
    """SIGTERM a training child whose worker died (it checkpoints and exits), SIGKILL if it lingers."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class DbBackend(RunBackend):
    """The embedded worker: progress straight into the database, the log in the app's data dir."""

    transient = (OperationalError,)

    def __init__(self, settings: Settings, db: Database, run_id: int) -> None:
        self.settings, self.db, self.run_id = settings, db, run_id
        self.data_dir = settings.resolved_data_dir

    def note(self, text: str) -> None:
        append_log(self.data_dir, self.run_id, f"[worker] {text}")

    def output(self) -> AbstractContextManager[Any]:
        path = log_path(self.data_dir, self.run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("ab")

    def started(self, pid: int) -> None:
        run_worker.set_child(self.db, self.run_id, pid)

    def progress(self, records: list[dict[str, Any]]) -> bool:
        return run_worker.report_progress(self.db, self.run_id, records)

    def cancel_requested(self) -> bool:
        return run_worker.cancel_requested(self.db, self.run_id)

    def finish(self, status: str, error: str | None) -> None:
        run_worker.finish_run(self.db, self.run_id, status, error)

    def complete(self) -> None:
        try:
            adapter_id = run_worker.complete_run(self.db, self.run_id, self.settings.resolved_adapter_roots)
        except ServiceError as exc:
            self.note(f"failed: Training finished but the adapter could not be registered: {exc.message}")
            self.finish("failed", f"Training finished but the adapter could not be registered: {exc.message}")
            return
        self.note(f"completed; registered adapter {adapter_id} (inactive: activate it on the Adapters tab)")

    def last_lines(self, count: int) -> str:
        return last_lines(self.data_dir, self.run_id, count)


class RunExecution(threading.Thread):
    """One attempt of one run in the embedded worker: prepare it from the database, then a
    :class:`TrainingChild` reporting through a :class:`DbBackend`."""

    def __init__(self, settings: Settings, db: Database, run: run_worker.ClaimedRun) -> None:
        super().__init__(name=f"td-training-run-{run.id}", daemon=True)
        self.settings, self.db, self.run_info = settings, db, run
        self.data_dir = settings.resolved_data_dir
        self.backend = DbBackend(settings, db, run.id)
        self.child = TrainingChild(self.backend, run.id, Path(run.output_dir))

    def interrupt(self) -> None:
        """The worker is stopping: the child checkpoints and stops; the run goes back to the queue."""
        self.child.interrupt()

    def note(self, text: str) -> None:
        self.backend.note(text)

    def run(self) -> None:
        try:
            self._execute()
        except Exception as exc:  # noqa: BLE001 - any failure becomes a readable run error
            log.exception("training run %s failed", self.run_info.id)
            self.child.end()
            self.note(f"failed: {type(exc).__name__}: {exc}")
            run_worker.finish_run(self.db, self.run_info.id, "failed",
                                  f"The worker failed: {type(exc).__name__}: {exc}")

    def _execute(self) -> None:
        run, out = self.run_info, Path(self.run_info.output_dir)
        if run.resume and (out / "training_report.json").is_file():
            self.note("training had finished before the worker stopped; registering the adapter")
            self.backend.complete()
            return
        info_file = Path(run.export_path) / "td_export.json"
        try:
            sample_count = int(json.loads(info_file.read_text(encoding="utf-8"))["sample_count"])
        except (OSError, ValueError, KeyError, TypeError):
            self.child.settle("failed", f"The dataset export {run.export_path} is missing or unreadable (was the "
                                        "dataset deleted?). Start a new run from the dataset.")
            return
        checkpoint = latest_checkpoint_step(out) if run.resume else None
        if checkpoint is None:
            if out.exists():
                shutil.rmtree(out)
            self.note("restarting from step 0: no checkpoint had been saved yet" if run.resume else "starting")
        else:
            trim_metrics_file(out / "metrics.jsonl", checkpoint)
            self.note(f"resumed from step {checkpoint}")
        argv = child_argv(run.id, run.task, run.name, run.config, run.export_path, out, self.settings.base_model,
                          checkpoint is not None)
        self.note("$ " + " ".join(argv[1:]))
        env = child_env(self.data_dir, self.settings.base_model)
        run_worker.start_attempt(self.db, run.id, planned_steps(sample_count, run.config), checkpoint, 0)
        self.child.run(argv, env)
