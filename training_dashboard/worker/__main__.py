"""``python -m training_dashboard.worker``: a Celery worker for generation and/or training.

Examples::

    # on a GPU box: the broker, the app's API and the shared worker token; nothing else
    TD_BROKER_URL=redis://10.0.0.2:6379/0 TD_API_URL=http://10.0.0.5:8000/api TD_WORKER_TOKEN=... \\
        python -m training_dashboard.worker --queues generate,train

    # a tiny CPU worker for trying it out
    TD_BASE_MODEL=tiny TD_DATA_DIR=/tmp/w1 python -m training_dashboard.worker --queues generate

With several queues, one process per queue is started and supervised (a generation process
loads the base model once and hot-swaps adapters; a training process runs the training CLI as
a child per run). ``TD_DATA_DIR`` is this worker's own scratch space (model cache, adapters it
downloaded, run directories), never the app's.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time

from training_dashboard.config import Settings
from training_dashboard.worker.celery_app import GENERATE_QUEUE, QUEUES, TRAIN_QUEUE, make_celery

log = logging.getLogger("training_dashboard.worker")
EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training_dashboard.worker", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queues", default=",".join(QUEUES), help="comma-separated: generate, train (both)")
    parser.add_argument("--name", help="this worker's name (default host:pid:queue)")
    parser.add_argument("--loglevel", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per heartbeat
    queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
    unknown = [q for q in queues if q not in QUEUES]
    if not queues or unknown:
        print(f"error: --queues takes {', '.join(QUEUES)} (got {args.queues!r})", file=sys.stderr)
        return EXIT_CONFIG
    settings = Settings()
    missing = [n for n, v in (("TD_BROKER_URL", settings.broker_url), ("TD_WORKER_TOKEN", settings.worker_token))
               if not v]
    if missing:
        print(f"error: set {' and '.join(missing)} (the same values as the app's)", file=sys.stderr)
        return EXIT_CONFIG
    if len(queues) > 1:
        return supervise(queues, args)
    return serve(settings, queues[0], args.name, args.loglevel)


def supervise(queues: tuple[str, ...], args: argparse.Namespace) -> int:
    """One child process per queue; stop them all when one ends or on SIGTERM/SIGINT."""
    children = []
    for queue in queues:
        argv = [sys.executable, "-m", "training_dashboard.worker", "--queues", queue, "--loglevel", args.loglevel]
        if args.name:
            argv += ["--name", f"{args.name}:{queue}"]
        children.append(subprocess.Popen(argv, env={**os.environ, "TD_PARENT_PID": str(os.getpid())}))
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    if not stopping:
        forward(signal.SIGTERM, None)
    codes = [child.wait() for child in children]
    return next((c for c in codes if c), 0)


def serve(settings: Settings, queue: str, name: str | None, loglevel: str) -> int:
    """Run one Celery worker consuming ``queue`` in this process."""
    from celery import signals

    from training_dashboard.worker import tasks
    from training_dashboard.worker.api import WorkerApi
    from training_dashboard.worker.context import WorkerContext, default_name, set_context

    _die_with_parent()
    settings.ensure_dirs()
    if os.environ.get("TD_TORCH_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["TD_TORCH_THREADS"]))
    name = name or default_name(queue)
    ctx = WorkerContext(settings=settings, api=WorkerApi(settings.api_url, settings.worker_token or ""), name=name,
                        queues=(queue,))
    ctx.api.http.headers["X-TD-Worker"] = name
    set_context(ctx)
    ctx.start_heartbeat()
    signals.worker_shutting_down.connect(lambda **_: ctx.stopping.set(), weak=False)
    if queue == GENERATE_QUEUE:
        from training_dashboard.worker.generation import load_model

        load_model(ctx)
    app = make_celery(settings.broker_url or "")
    tasks.register(app)
    concurrency = 1 if queue == GENERATE_QUEUE else max(1, settings.max_training_runs)
    pool = "solo" if concurrency == 1 else "threads"
    assert queue in (GENERATE_QUEUE, TRAIN_QUEUE)
    app.worker_main(["worker", "-Q", queue, "--pool", pool, "--concurrency", str(concurrency), "--hostname",
                     f"{name}@td", "--loglevel", loglevel, "--without-gossip", "--without-mingle",
                     "--without-heartbeat"])
    ctx.stopping.set()
    ctx.beat()
    return 0


def _die_with_parent() -> None:
    """A supervised child ends with its supervisor (even a SIGKILLed one): no orphan consumers."""
    if not os.environ.get("TD_PARENT_PID") or not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != int(os.environ["TD_PARENT_PID"]):
        os._exit(1)


if __name__ == "__main__":
    raise SystemExit(main())
