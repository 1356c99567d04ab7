"""The training CLI as a child process, for one attempt of one run; shared by the embedded
worker (``worker.training_runner``, reporting to the database) and the Celery worker
(``worker.training``, reporting to the app's API).

The child is exactly ``python -m training_dashboard.training sft|dpo ...`` (the command a
run shows, plus ``--output``, ``--no-register`` and ``--run-id``), so a crash or an
out-of-memory in training never takes its worker down. Its output becomes the run's log and
its ``metrics.jsonl`` is handed to the backend as it grows. Cancel is SIGTERM: the CLI stops
after the current step and saves a checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import training_dashboard
from training_dashboard.services.runs import cli_flags
from training_dashboard.training.layout import latest_checkpoint_step
from training_dashboard.training.stopping import EXIT_STOPPED

log = logging.getLogger(__name__)
POLL_S = 0.25


class MetricsTail:
    """New complete lines of a growing ``metrics.jsonl``; starts over if the file is rewritten."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def read(self) -> list[dict[str, Any]]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset = 0
        if size == self.offset:
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read(size - self.offset)
        end = data.rfind(b"\n") + 1
        self.offset += end
        out = []
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                out.append(record)
        return out


def child_argv(run_id: int, task: str, name: str, config: dict[str, Any], export_path: str, out: Path,
               base_model: str, resume: bool, data_on_resume: bool = False) -> list[str]:
    """The training CLI command of one attempt (a resume continues ``out`` from its newest checkpoint).

    ``data_on_resume``: pass ``--data`` and ``--base-model`` on a resume too (a worker's export lies
    at another path than the one recorded in the checkpoint's train_config.json).
    """
    head = [sys.executable, "-m", "training_dashboard.training", task]
    tail = ["--no-register", "--run-id", str(run_id)]
    if resume:
        extra = ["--data", export_path, "--base-model", base_model] if data_on_resume else []
        return [*head, "--resume", str(out), *extra, *tail]
    return [*head, "--data", export_path, "--name", name, *cli_flags(config), "--output", str(out),
            "--base-model", base_model, *tail]


def child_env(data_dir: Path, base_model: str) -> dict[str, str]:
    return {**os.environ, "TD_DATA_DIR": str(data_dir), "TD_BASE_MODEL": base_model, "PYTHONUNBUFFERED": "1",
            "TQDM_DISABLE": "1", "TD_PARENT_PID": str(os.getpid())}


class RunBackend:
    """Where one attempt of a run reports: the database (the embedded worker, :class:`DbBackend`) or
    the app's worker API (a Celery worker, ``worker.training.ApiBackend``).

    ``poll_s``: how often the child is looked at; ``beat_s``: the longest wait between two progress
    reports; ``transient``: errors of :meth:`progress` after which its records are kept for the next
    round; ``watch_checkpoints``: call :meth:`checkpointed` for each new complete checkpoint.
    """

    poll_s = POLL_S
    beat_s = 2.0
    transient: tuple[type[Exception], ...] = ()
    watch_checkpoints = False

    def note(self, text: str) -> None:
        """A ``[worker]`` line in the run's log."""
        raise NotImplementedError

    def output(self) -> AbstractContextManager[Any]:
        """Where the child's output lines go (an object with ``write(bytes)`` and ``flush()``)."""
        raise NotImplementedError

    def started(self, pid: int) -> None:
        """The child is running as ``pid``."""

    def progress(self, records: list[dict[str, Any]]) -> bool:
        """Store new metric records and renew the lease; True when the user asked to cancel."""
        raise NotImplementedError

    def cancel_requested(self) -> bool:
        return self.progress([])

    def checkpointed(self, step: int) -> None:
        """A new complete checkpoint at ``step`` (only with ``watch_checkpoints``)."""

    def finish(self, status: str, error: str | None) -> None:
        """End the attempt: failed, cancelled, or queued (handed back, continues from the checkpoint)."""
        raise NotImplementedError

    def complete(self) -> None:
        """The child exited 0: register the adapter (once)."""
        raise NotImplementedError

    def last_lines(self, count: int) -> str:
        raise NotImplementedError


class TrainingChild:
    """The training CLI as a child process for one attempt: start it, copy its output, feed its
    ``metrics.jsonl`` to the backend, stop it on cancel or interrupt, and settle the outcome."""

    def __init__(self, backend: RunBackend, run_id: int, out: Path, stop: threading.Event | None = None) -> None:
        self.backend, self.run_id, self.out = backend, run_id, out
        self.stop = stop  # set from outside (e.g. a worker's warm shutdown): like :meth:`interrupt`
        self.interrupted = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.last_checkpoint = latest_checkpoint_step(out) if backend.watch_checkpoints else None

    def interrupt(self) -> None:
        """The worker is stopping: the child checkpoints and stops; the run goes back to the queue."""
        self.interrupted.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def end(self, grace_s: float = 60.0) -> None:
        """Never leave the child unattended: SIGTERM (it checkpoints), SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def run(self, argv: list[str], env: dict[str, str]) -> None:
        """Start the child, watch it to the end and settle the attempt."""
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                     cwd=Path(training_dashboard.__file__).resolve().parents[1])
        self.backend.started(self.proc.pid)
        if self.interrupted.is_set():
            self.proc.send_signal(signal.SIGTERM)
        cancelled = self.watch(self.proc, MetricsTail(self.out / "metrics.jsonl"))
        self.outcome(self.proc.returncode, cancelled)

    def watch(self, proc: subprocess.Popen[bytes], metrics: MetricsTail) -> bool:
        reader = threading.Thread(target=self.copy_output, args=(proc,), daemon=True)
        reader.start()
        backend = self.backend
        cancelled, last_beat, pending = False, 0.0, []
        while True:
            finished = proc.poll() is not None
            pending += metrics.read()
            try:
                if pending or time.monotonic() - last_beat > backend.beat_s:
                    wants_cancel = backend.progress(pending)
                    pending, last_beat = [], time.monotonic()
                else:
                    wants_cancel = backend.cancel_requested()
            except backend.transient:  # e.g. the database is busy: keep the records for the next round
                log.warning("run %s: could not store progress this round", self.run_id, exc_info=True)
                wants_cancel = False
            if wants_cancel and not cancelled and not finished:
                cancelled = True
                backend.note("cancel requested: stopping after the current step")
                proc.send_signal(signal.SIGTERM)
            if self.stop is not None and self.stop.is_set() and not self.interrupted.is_set() and not finished:
                backend.note("the worker is stopping: checkpointing and handing the run back")
                self.interrupt()
            if backend.watch_checkpoints:
                self.check_checkpoint()
            if finished:
                break
            time.sleep(backend.poll_s)
        proc.wait()
        reader.join(timeout=10)
        backend.progress(pending + metrics.read())
        if backend.watch_checkpoints:
            self.check_checkpoint()
        return cancelled

    def check_checkpoint(self) -> None:
        step = latest_checkpoint_step(self.out)
        if step is not None and step != self.last_checkpoint:
            self.backend.checkpointed(step)
            self.last_checkpoint = step

    def copy_output(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with self.backend.output() as fh:
            for line in iter(proc.stdout.readline, b""):
                fh.write(line.replace(b"\r", b"\n"))
                fh.flush()

    def outcome(self, code: int, cancelled: bool) -> None:
        if code == 0:
            self.backend.complete()
        elif cancelled:
            self.settle("cancelled", None, "cancelled; the checkpoint is kept: resume to continue")
        elif self.interrupted.is_set() or (self.stop is not None and self.stop.is_set()):
            self.settle("queued", None, "the worker is stopping; the run continues from its checkpoint at the next "
                                        "start")
        elif code == EXIT_STOPPED:
            self.settle("cancelled", "The training process was stopped by a signal; its checkpoint is kept: "
                                     "resume to continue.")
        else:
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() \
                else f"exited with status {code}"
            tail = self.backend.last_lines(15)
            self.settle("failed", f"The training process {how}. Resume continues from the last checkpoint. "
                                  f"Last log lines:\n{tail}")

    def settle(self, status: str, error: str | None, message: str | None = None) -> None:
        self.backend.note(message or f"{status}: {error}")
        self.backend.finish(status, error)
