"""The generation worker: claims queued jobs and runs them on one loaded model.

It runs as a thread inside the app process (see :class:`Engine`) when no broker is configured.
Other machines run ``python -m training_dashboard.worker`` (Celery) instead, sharing only the
broker, the API and a token; :func:`generate_waves` is the generation both use.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.engine.training_runner import TrainingRunner
from training_dashboard.schemas import ModelStatus
from training_dashboard.services import jobs
from training_dashboard.services.jobs import clip_name, job_seeds

__all__ = ["Engine", "generate_waves", "job_seeds", "load_error", "load_runtime"]

log = logging.getLogger(__name__)


class Engine:
    """Owns the base model and the worker thread. Torch is imported only in the thread.

    Args:
        settings: product settings (base model, data dir).
        db: the database holding the job queue.
        poll_interval: seconds between queue polls when idle.
        max_adapters: how many LoRA adapters stay loaded (LRU).
    """

    def __init__(self, settings: Settings, db: Database, poll_interval: float = 0.5, max_adapters: int = 4) -> None:
        self.settings = settings
        self.db = db
        self.poll_interval = poll_interval
        self.max_adapters = max_adapters
        self._runtime: Any = None
        self._state, self._device, self._error = "not_loaded", None, None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = TrainingRunner(settings, db)  # training runs: CLI children, beside generation

    def status(self) -> ModelStatus:
        """Which base model, whether it is loaded, on which device, and why it failed."""
        with self._lock:
            return ModelStatus(base_model=self.settings.base_model, status=self._state,  # type: ignore[arg-type]
                               device=self._device, error=self._error)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the worker thread: recover stuck jobs, load the model, then serve the queue."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="td-generation-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the worker to stop after the current job and wait for it."""
        self._stop.set()
        self.runs.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_forever(self) -> None:
        """The worker loop (blocks until :meth:`stop`)."""
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


def load_runtime(settings: Settings, max_adapters: int = 4) -> Any:
    """Load ``settings.base_model`` and wrap it in a :class:`~training_dashboard.engine.runtime.MusicGenRuntime`.

    Raises:
        Exception: whatever loading raised; :func:`load_error` words it for users.
    """
    from training_dashboard.engine.loader import load_base_model
    from training_dashboard.engine.runtime import MusicGenRuntime

    base = load_base_model(settings.base_model, settings.resolved_data_dir)
    return MusicGenRuntime(base, max_adapters=max_adapters)


def load_error(exc: Exception) -> str:
    """The message shown for a base model that failed to load."""
    from training_dashboard.engine.loader import ModelLoadError

    return str(exc) if isinstance(exc, ModelLoadError) else f"{type(exc).__name__}: {exc}"


def generate_waves(runtime: Any, base_model: str, prompt_text: str, prompt_attributes: dict[str, Any],
                   params: dict[str, Any], seeds: list[int], adapter_path: str | Path | None,
                   adapter_base_model: str | None, progress: Callable[[float], bool]) -> Any:
    """Generate one job's clips (one per seed) on ``runtime``: the one implementation both workers use.

    Args:
        runtime: the loaded MusicGenRuntime.
        base_model: the base model this worker runs (TD_BASE_MODEL).
        prompt_text, prompt_attributes: the prompt.
        params: the job's sampling parameters.
        seeds: one seed per clip.
        adapter_path, adapter_base_model: the LoRA adapter directory and the base model it was trained for
            (None: the bare base model).
        progress: called with the fraction done (0..0.95, about 20 times); returns False to cancel.

    Returns:
        float32 array (len(seeds), samples).

    Raises:
        AdapterError: the adapter cannot be used with this base model.
        Cancelled: ``progress`` returned False.
    """
    from training_dashboard.engine.prompting import conditioning_text
    from training_dashboard.engine.runtime import AdapterError, Cancelled, SamplingParams

    if adapter_path is not None:
        if adapter_base_model is not None and adapter_base_model != base_model:
            raise AdapterError(
                f"This adapter was trained for base model {adapter_base_model!r}, but this server runs "
                f"{base_model!r}")
        runtime.check_adapter(adapter_path)  # refuse before any decoding work
    sampling = SamplingParams.from_job(params)
    last = [0.0]

    def on_step(step: int, total: int) -> None:
        # ~20 progress writes per job; each also tells us whether to cancel.
        fraction = 0.95 * step / total  # the rest is decoding the audio and writing files
        if fraction - last[0] >= 0.05 or step == 1:
            last[0] = fraction
            if not progress(fraction):
                raise Cancelled()

    with runtime.using(adapter_path):
        return runtime.generate(conditioning_text(prompt_text, prompt_attributes), seeds, sampling, on_step=on_step)


def main(argv: list[str] | None = None) -> int:
    """The old database-sharing worker process, replaced by the Celery worker."""
    print("python -m training_dashboard.engine.worker is gone: it shared the app's database and data dir and a "
          "second one re-queued the first one's running job.\nThe app generates and trains by itself (nothing to "
          "start); to use other machines, run the app with TD_BROKER_URL and TD_WORKER_TOKEN and start\n"
          "  python -m training_dashboard.worker --queues generate,train\non each of them (README, \"Scale out\").",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
