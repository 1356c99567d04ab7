"""The embedded worker: a thread inside the app process that claims queued generation jobs and
runs them on one loaded model, with a :class:`TrainingRunner` beside it for training runs.

It runs when no broker is configured. Otherwise other machines run ``python -m
training_dashboard.worker`` (Celery) instead, sharing only the broker, the API and a token;
:func:`~training_dashboard.engine.generate.generate_waves` is the generation both use.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.engine.generate import generate_waves, load_error, load_runtime
from training_dashboard.schemas import ModelStatus
from training_dashboard.services import jobs
from training_dashboard.services.jobs import clip_name, job_seeds
from training_dashboard.worker.loop import LoopThread
from training_dashboard.worker.training_runner import TrainingRunner

log = logging.getLogger(__name__)


class EmbeddedWorker(LoopThread):
    """Owns the base model and the worker thread. Torch is imported only in the thread.

    Args:
        settings: product settings (base model, data dir).
        db: the database holding the job queue.
        poll_interval: seconds between queue polls when idle.
        max_adapters: how many LoRA adapters stay loaded (LRU).
    """

    thread_name = "td-generation-worker"

    def __init__(self, settings: Settings, db: Database, poll_interval: float = 0.5, max_adapters: int = 4) -> None:
        super().__init__()
        self.settings = settings
        self.db = db
        self.poll_interval = poll_interval
        self.max_adapters = max_adapters
        self._runtime: Any = None
        self._state, self._device, self._error = "not_loaded", None, None
        self._lock = threading.Lock()
        self.runs = TrainingRunner(settings, db)  # training runs: CLI children, beside generation

    def status(self) -> ModelStatus:
        """Which base model, whether it is loaded, on which device, and why it failed."""
        with self._lock:
            return ModelStatus(base_model=self.settings.base_model, status=self._state,  # type: ignore[arg-type]
                               device=self._device, error=self._error)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the worker to stop after the current job and wait for it."""
        self._stop.set()
        self.runs.stop(timeout)
        self.join(timeout)

    def loop(self) -> None:
        """The worker thread (from :meth:`start` until :meth:`stop`): recover stuck jobs, load the model,
        then serve the queue."""
        recovered = jobs.recover_stuck_jobs(self.db)
        if recovered:
            log.warning("re-queued %d job(s) left processing by a previous run", recovered)
        self.runs.start()
        self.load_model()
        while not self._stop.is_set():
            try:
                worked = self.process_next_job()
            except Exception:  # noqa: BLE001 - the loop must survive e.g. a locked database
                log.exception("worker iteration failed")
                worked = False
            if not worked:
                self._stop.wait(self.poll_interval)

    def load_model(self) -> bool:
        """Load the base model if not yet loaded. Returns whether it is ready."""
        with self._lock:
            if self._state in ("ready", "failed"):
                return self._state == "ready"
            self._state = "loading"
        try:
            runtime = load_runtime(self.settings, self.max_adapters)
        except Exception as exc:  # noqa: BLE001 - reported through status() and failed jobs
            message = load_error(exc)
            log.error("base model %s failed to load: %s", self.settings.base_model, message)
            with self._lock:
                self._state, self._error = "failed", message
            return False
        with self._lock:
            self._runtime, self._state, self._device, self._error = runtime, "ready", runtime.base.device, None
        log.info("base model %s ready on %s", self.settings.base_model, runtime.base.device)
        return True

    def process_next_job(self) -> bool:
        """Claim and run one queued job. Returns False when the queue was empty."""
        job = jobs.claim_next_job(self.db)
        if job is None:
            return False
        if not self.load_model():
            jobs.fail_job(self.db, job.id, f"The base model is not available. {self.status().error}")
            return True
        self._run_job(job)
        return True

    def _run_job(self, job: jobs.ClaimedJob) -> None:
        from training_dashboard.engine.runtime import AdapterError, Cancelled

        job_dir = self.settings.audio_dir / f"job-{job.id}"
        try:
            samples = self._generate(job, job_dir)
            if not jobs.set_progress(self.db, job.id, 1.0):
                raise Cancelled()
            jobs.complete_job(self.db, job.id, samples)
        except Cancelled:
            shutil.rmtree(job_dir, ignore_errors=True)
            jobs.mark_cancelled(self.db, job.id)
        except AdapterError as exc:
            shutil.rmtree(job_dir, ignore_errors=True)
            jobs.fail_job(self.db, job.id, str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure becomes a readable job error
            log.exception("job %s failed", job.id)
            shutil.rmtree(job_dir, ignore_errors=True)
            jobs.fail_job(self.db, job.id, f"Generation failed: {type(exc).__name__}: {exc}")

    def _generate(self, job: jobs.ClaimedJob, job_dir: Path) -> list[jobs.GeneratedSample]:
        from training_dashboard.engine.audio import write_wav

        seeds = job_seeds(job.params.get("seed"), job.num_samples)
        waves = generate_waves(
            self._runtime, self.settings.base_model, job.prompt_text, job.prompt_attributes, job.params, seeds,
            job.adapter_path, job.adapter_base_model, lambda fraction: jobs.set_progress(self.db, job.id, fraction))
        rate = self._runtime.base.sample_rate
        samples = []
        for index, (seed, wave) in enumerate(zip(seeds, waves, strict=True)):
            path = job_dir / clip_name(index, seed)
            write_wav(path, wave, rate)
            rel = path.relative_to(self.settings.resolved_data_dir).as_posix()
            recorded = {**job.params, "seed": seed, "base_model": self.settings.base_model}
            samples.append(jobs.GeneratedSample(seed=seed, duration=len(wave) / rate, sample_rate=rate,
                                                file_path=rel, params=recorded))
        return samples
