"""The app's side of the broker: a thread that sends queued work to Celery and takes back work
whose worker went silent (see services/dispatch.py). Runs in the app instead of the embedded
worker when ``TD_BROKER_URL`` is set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.services import dispatch
from training_dashboard.worker.celery_app import GENERATE_QUEUE, GENERATE_TASK, TRAIN_QUEUE, TRAIN_TASK, make_celery
from training_dashboard.worker.loop import LoopThread

log = logging.getLogger(__name__)
LOST_AFTER_S = 120.0
LOST_CHECK_EVERY_S = 15.0
ROUTES = {dispatch.GENERATE: (GENERATE_TASK, GENERATE_QUEUE), dispatch.TRAIN: (TRAIN_TASK, TRAIN_QUEUE)}


class Dispatcher(LoopThread):
    """Outbox sender and lease watcher.

    Args:
        settings: broker URL, lease length, data dir.
        db: the app's database.
        poll_interval: seconds between rounds when nothing pokes it.
        send: ``send(task_name, id, queue)``; default: Celery's ``send_task`` on the broker.
    """

    thread_name = "td-dispatcher"

    def __init__(self, settings: Settings, db: Database, poll_interval: float = 0.25,
                 send: Callable[[str, int, str], None] | None = None) -> None:
        super().__init__()
        self.settings, self.db, self.poll_interval = settings, db, poll_interval
        self._send = send
        self._celery = None
        self._wake = threading.Event()
        self.started_at = time.monotonic()
        self.broker_error: str | None = None

    def start(self) -> None:
        if not self.running:
            self.started_at = time.monotonic()
            super().start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self.join(timeout)
        if self._celery is not None:
            self._celery.close()

    def poke(self) -> None:
        """Something was queued: send it now rather than at the next round."""
        self._wake.set()

    def loop(self) -> None:
        last_expiry = last_lost_check = 0.0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.send_pending()
                if time.monotonic() - last_lost_check > LOST_CHECK_EVERY_S:
                    last_lost_check = time.monotonic()
                    self.resend_lost()
                # Workers could not renew leases while the app was down: give them one lease to come back.
                now = time.monotonic()
                if now - self.started_at > self.settings.worker_lease_s and now - last_expiry > 1.0:
                    last_expiry = now
                    jobs, runs = dispatch.expire_leases(self.db, self.settings.worker_lease_s,
                                                        self.settings.resolved_data_dir)
                    if jobs or runs:
                        log.warning("re-queued %d job(s) and %d run(s) whose worker stopped answering", jobs, runs)
                        continue  # send them at once
            except Exception:  # noqa: BLE001 - the loop must survive a busy database or a broker outage
                log.exception("dispatcher round failed")
                self._stop.wait(1.0)
            self._wake.wait(self.poll_interval)

    def send_pending(self) -> int:
        """Send every queued job and run not sent yet. Returns how many were sent."""
        sent = 0
        for item in dispatch.pending(self.db):
            if not dispatch.take_for_sending(self.db, item):
                continue  # another app process sends it, or it was cancelled meanwhile
            if not self._send_one(item):
                dispatch.unmark(self.db, item)
                return sent
            sent += 1
        return sent

    def resend_lost(self) -> int:
        """Send again what was sent long ago, never claimed, while its broker queue is empty: a message
        lost between stamp and send (an app process killed) or with the broker's memory (a restart
        without persistence). A duplicate is harmless (the claim refuses it), so the rule errs that way."""
        older = max(LOST_AFTER_S, 2 * self.settings.worker_lease_s)
        sent = 0
        for kind, (_, queue) in ROUTES.items():
            waiting = dispatch.waiting_since(self.db, kind, older)
            if not waiting or self._queue_length(queue) != 0:
                continue
            for item, stamped_at in waiting:
                if dispatch.take_for_sending(self.db, item, stamped_at) and self._send_one(item):
                    sent += 1
        if sent:
            log.warning("sent %d queued item(s) again: their messages were no longer in the broker", sent)
        return sent

    def _send_one(self, item: dispatch.Pending) -> bool:
        task, queue = ROUTES[item.kind]
        try:
            self._deliver(task, item.id, queue)
        except Exception as exc:  # noqa: BLE001 - broker down: they stay queued and are sent later
            if self.broker_error is None:
                log.error("cannot reach the broker %s: %s (queued work waits)", self.settings.broker_url, exc)
            self.broker_error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(1.0)
            return False
        self.broker_error = None
        return True

    def _queue_length(self, queue: str) -> int | None:
        """Messages waiting in ``queue`` on the broker (None when it cannot be asked)."""
        if self._send is not None:
            return None
        try:
            with self._app().connection_for_write() as conn:
                return int(conn.default_channel.queue_declare(queue=queue, passive=False).message_count)
        except Exception as exc:  # noqa: BLE001 - an unreachable broker: nothing to decide now
            log.debug("cannot read the length of queue %s: %s", queue, exc)
            return None

    def _app(self):  # type: ignore[no-untyped-def]
        if self._celery is None:
            self._celery = make_celery(self.settings.broker_url or "")
        return self._celery

    def _deliver(self, task: str, item_id: int, queue: str) -> None:
        if self._send is not None:
            self._send(task, item_id, queue)
            return
        self._app().send_task(task, args=[item_id], queue=queue, retry=True,
                               retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})
