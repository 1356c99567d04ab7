"""Scale-out: generation jobs and training runs executed by Celery workers on other machines.

``celery_app`` holds the Celery application (queues, delivery settings, task names) that both
the app (to send) and the workers (to consume) use; ``api`` is the worker's HTTP client for the
worker-only endpoints (``/api/worker/*``): a worker needs the broker URL, the API URL and the
worker token, never the database or the app's data dir. ``python -m training_dashboard.worker``
starts one.
"""
