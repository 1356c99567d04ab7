"""Execution: the floor that runs generation jobs and training runs, above services and the model.

In the app without a broker, ``embedded.EmbeddedWorker`` is a thread that serves the job queue on
one loaded model, with ``training_runner.TrainingRunner`` beside it running each training run as a
child process (``training_child``). With ``TD_BROKER_URL`` the app runs ``dispatcher.Dispatcher``
instead, and Celery workers on other machines (``python -m training_dashboard.worker``) execute the
work: ``celery_app`` holds the Celery application (queues, delivery settings, task names) that both
the app (to send) and the workers (to consume) use; ``api`` is a Celery worker's HTTP client for
the worker-only endpoints (``/api/worker/*``): such a worker needs the broker URL, the API URL and
the worker token, never the database or the app's data dir.
"""
