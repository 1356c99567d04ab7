"""Training runs on the worker: each run is the training CLI in a child process.

The child is exactly ``python -m training_dashboard.training sft|dpo ...`` (the command a
run shows, plus ``--output``, ``--no-register`` and ``--run-id``), so a crash or an
out-of-memory in training never takes the app down. Its output becomes the run's log and
its ``metrics.jsonl`` is read into the database as it grows. Cancel is SIGTERM: the CLI
stops after the current step and saves a checkpoint. A run whose worker died is found by
the next worker (same host: the pid is gone; any host: no heartbeat for a minute) and
continues from its last checkpoint; the adapter is registered by this worker, once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

import training_dashboard
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.services import run_worker
from training_dashboard.services.errors import ServiceError
from training_dashboard.services.run_metrics import append_log, last_lines, log_path
from training_dashboard.services.runs import cli_flags
from training_dashboard.training.stopping import EXIT_STOPPED

log = logging.getLogger(__name__)
HOST = socket.gethostname()
STATE_FILE = "trainer_state.pt"  # training.trainer.STATE_FILE (not imported: that module imports torch)
STALE_AFTER_S = 60.0
RECOVER_EVERY_S = 10.0
POLL_S = 0.25


def latest_checkpoint_step(run_dir: Path) -> int | None:
    """The step of the newest complete checkpoint (the one ``--resume RUN_DIR`` picks)."""
    steps = [int(p.name[5:]) for p in (run_dir / "checkpoints").glob("step-*")
             if p.name[5:].isdigit() and (p / STATE_FILE).is_file()]
    return max(steps) if steps else None


def planned_steps(sample_count: int, config: dict[str, Any]) -> int:
    """The optimizer steps the trainer will take (its split and batching, before early stopping)."""
    held_out = int(round(sample_count * config["eval_fraction"])) if sample_count >= 4 else 0
    micro = -(-(sample_count - held_out) // config["batch_size"])
    total = config["epochs"] * -(-micro // config["grad_accum"])
    return min(total, config["max_steps"]) if config["max_steps"] else total


def trim_metrics_file(path: Path, last_step: int) -> None:
    """Drop lines logged after the checkpoint a resume starts from (the trainer does the same)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line)["step"] <= last_step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


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


class TrainingRunner:
    """Claims queued runs (at most ``settings.max_training_runs`` at once) and executes them."""

    def __init__(self, settings: Settings, db: Database, poll_interval: float = 0.5) -> None:
        self.settings, self.db, self.poll_interval = settings, db, poll_interval
        self.max_runs = settings.max_training_runs
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._active: dict[int, RunExecution] = {}

    def start(self) -> None:
        if self.max_runs <= 0 or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="td-training-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop claiming; running children checkpoint and stop, and their runs continue at the next start."""
        self._stop.set()
        for execution in list(self._active.values()):
            execution.interrupt()
        deadline = time.monotonic() + timeout
        for execution in list(self._active.values()):
            execution.join(max(0.1, deadline - time.monotonic()))
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))
            self._thread = None

    def _loop(self) -> None:
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


class RunExecution(threading.Thread):
    """One attempt of one run: start the child, stream its log and metrics, settle the outcome."""

    def __init__(self, settings: Settings, db: Database, run: run_worker.ClaimedRun) -> None:
        super().__init__(name=f"td-training-run-{run.id}", daemon=True)
        self.settings, self.db, self.run_info = settings, db, run
        self.data_dir = settings.resolved_data_dir
        self._interrupt = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None

    def interrupt(self) -> None:
        """The worker is stopping: the child checkpoints and stops; the run goes back to the queue."""
        self._interrupt.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    def note(self, text: str) -> None:
        append_log(self.data_dir, self.run_info.id, f"[worker] {text}")

    def run(self) -> None:
        try:
            self._execute()
        except Exception as exc:  # noqa: BLE001 - any failure becomes a readable run error
            log.exception("training run %s failed", self.run_info.id)
            if self._proc is not None and self._proc.poll() is None:  # never leave the child unattended
                self._proc.send_signal(signal.SIGTERM)
                try:
                    self._proc.wait(60)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
            self.note(f"failed: {type(exc).__name__}: {exc}")
            run_worker.finish_run(self.db, self.run_info.id, "failed",
                                  f"The worker failed: {type(exc).__name__}: {exc}")

    def _argv(self, out: Path, resume: bool) -> list[str]:
        run = self.run_info
        head = [sys.executable, "-m", "training_dashboard.training", run.task]
        tail = ["--no-register", "--run-id", str(run.id)]
        if resume:
            return [*head, "--resume", str(out), *tail]
        return [*head, "--data", run.export_path, "--name", run.name, *cli_flags(run.config), "--output", str(out),
                "--base-model", self.settings.base_model, *tail]

    def _execute(self) -> None:
        run, out = self.run_info, Path(self.run_info.output_dir)
        if run.resume and (out / "training_report.json").is_file():
            self.note("training had finished before the worker stopped; registering the adapter")
            self._complete()
            return
        info_file = Path(run.export_path) / "td_export.json"
        try:
            sample_count = int(json.loads(info_file.read_text(encoding="utf-8"))["sample_count"])
        except (OSError, ValueError, KeyError, TypeError):
            self._settle("failed", f"The dataset export {run.export_path} is missing or unreadable (was the dataset "
                                   "deleted?). Start a new run from the dataset.")
            return
        checkpoint = latest_checkpoint_step(out) if run.resume else None
        if checkpoint is None:
            if out.exists():
                shutil.rmtree(out)
            self.note("restarting from step 0: no checkpoint had been saved yet" if run.resume else "starting")
        else:
            trim_metrics_file(out / "metrics.jsonl", checkpoint)
            self.note(f"resumed from step {checkpoint}")
        argv = self._argv(out, checkpoint is not None)
        self.note("$ " + " ".join(argv[1:]))
        env = {**os.environ, "TD_DATA_DIR": str(self.data_dir), "TD_BASE_MODEL": self.settings.base_model,
               "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1", "TD_PARENT_PID": str(os.getpid())}
        run_worker.start_attempt(self.db, run.id, planned_steps(sample_count, run.config), checkpoint, 0)
        self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                      cwd=Path(training_dashboard.__file__).resolve().parents[1])
        run_worker.set_child(self.db, run.id, self._proc.pid)
        if self._interrupt.is_set():
            self._proc.send_signal(signal.SIGTERM)
        cancelled = self._watch(self._proc, MetricsTail(out / "metrics.jsonl"))
        self._outcome(self._proc.returncode, cancelled)

    def _watch(self, proc: subprocess.Popen[bytes], metrics: MetricsTail) -> bool:
        reader = threading.Thread(target=self._copy_output, args=(proc,), daemon=True)
        reader.start()
        cancelled, last_beat, pending = False, 0.0, []
        while True:
            finished = proc.poll() is not None
            pending += metrics.read()
            try:
                if pending or time.monotonic() - last_beat > 2.0:
                    wants_cancel = run_worker.report_progress(self.db, self.run_info.id, pending)
                    pending, last_beat = [], time.monotonic()
                else:
                    wants_cancel = run_worker.cancel_requested(self.db, self.run_info.id)
            except OperationalError:  # e.g. the database is busy: keep the records for the next round
                log.warning("run %s: could not store progress this round", self.run_info.id, exc_info=True)
                wants_cancel = False
            if wants_cancel and not cancelled and not finished:
                cancelled = True
                self.note("cancel requested: stopping after the current step")
                proc.send_signal(signal.SIGTERM)
            if finished:
                break
            time.sleep(POLL_S)
        proc.wait()
        reader.join(timeout=10)
        run_worker.report_progress(self.db, self.run_info.id, pending + metrics.read())
        return cancelled

    def _copy_output(self, proc: subprocess.Popen[bytes]) -> None:
        path = log_path(self.data_dir, self.run_info.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        assert proc.stdout is not None
        with path.open("ab") as fh:
            for line in iter(proc.stdout.readline, b""):
                fh.write(line.replace(b"\r", b"\n"))
                fh.flush()

    def _outcome(self, code: int, cancelled: bool) -> None:
        if code == 0:
            self._complete()
        elif cancelled:
            self._settle("cancelled", None, "cancelled; the checkpoint is kept: resume to continue")
        elif self._interrupt.is_set():
            self._settle("queued", None, "the worker is stopping; the run continues from its checkpoint at the next "
                                         "start")
        elif code == EXIT_STOPPED:
            self._settle("cancelled", "The training process was stopped by a signal; its checkpoint is kept: "
                                      "resume to continue.")
        else:
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() \
                else f"exited with status {code}"
            tail = last_lines(self.data_dir, self.run_info.id, 15)
            self._settle("failed", f"The training process {how}. Resume continues from the last checkpoint. "
                                   f"Last log lines:\n{tail}")

    def _settle(self, status: str, error: str | None, message: str | None = None) -> None:
        self.note(message or f"{status}: {error}")
        run_worker.finish_run(self.db, self.run_info.id, status, error)

    def _complete(self) -> None:
        try:
            adapter_id = run_worker.complete_run(self.db, self.run_info.id, self.settings.resolved_adapter_roots)
        except ServiceError as exc:
            self._settle("failed", f"Training finished but the adapter could not be registered: {exc.message}")
            return
        self.note(f"completed; registered adapter {adapter_id} (inactive: activate it on the Adapters tab)")
