"""The daemon thread behind the app's in-process workers (embedded worker, training runner, dispatcher)."""

from __future__ import annotations

import threading


class LoopThread:
    """Runs :meth:`loop` in a daemon thread named ``thread_name`` from :meth:`start` until stopped.

    Subclasses implement :meth:`loop`, which returns once ``self._stop`` is set; their ``stop``
    sets it, wakes what needs waking and calls :meth:`join`.
    """

    thread_name = "td-loop"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def loop(self) -> None:
        raise NotImplementedError

    def join(self, timeout: float) -> None:
        """Wait for the thread to end (after ``self._stop`` was set)."""
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
