"""The Celery application shared by the app (which sends) and the workers (which consume).

Messages carry only an id (``td.generate(job_id)``, ``td.train(run_id)``); everything else a
worker learns by claiming through the API, so the app stays the system of record. Delivery
is "late acknowledgement, one message at a time": a message is acknowledged when its task
returns, a worker that dies holding one has it delivered again, and a duplicate delivery is
refused by the claim (the job is done, or held by a worker that is still alive).
"""

from __future__ import annotations

from typing import Any

from celery import Celery

GENERATE_QUEUE = "generate"
TRAIN_QUEUE = "train"
QUEUES = (GENERATE_QUEUE, TRAIN_QUEUE)
GENERATE_TASK = "td.generate"
TRAIN_TASK = "td.train"
# Redis hands an unacknowledged message to another consumer after this long; the claim refuses a
# duplicate while the first holder is alive, and the app re-sends anything whose worker went silent.
VISIBILITY_TIMEOUT_S = 6 * 3600


def make_celery(broker_url: str, **overrides: Any) -> Celery:
    """A Celery app on ``broker_url`` with the delivery settings long GPU jobs need."""
    app = Celery("training_dashboard", broker=broker_url)
    app.conf.update(
        task_acks_late=True,  # acknowledge after the task ran, so a killed worker's job is delivered again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a busy worker holds no second message another worker could run
        task_routes={GENERATE_TASK: {"queue": GENERATE_QUEUE}, TRAIN_TASK: {"queue": TRAIN_QUEUE}},
        task_default_queue=GENERATE_QUEUE,
        task_ignore_result=True,  # results go to the API, not to a result backend
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        enable_utc=True,
    )
    app.conf.update(overrides)
    return app
