"""Stopping a run cleanly: SIGTERM or Ctrl-C ends it after the current step with a checkpoint.

A run started by the dashboard's worker also stops this way when the worker dies
(``TD_PARENT_PID`` asks the kernel for a SIGTERM on the parent's death), so a crash of the
app never leaves a training process running unattended.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

from training_dashboard.schemas import parse_int

# Stopped on request after a checkpoint: resumable, not a failure of the data or options. The same
# status as Ctrl-C (cli.EXIT_INTERRUPTED); 3 means "saved but not registered".
EXIT_STOPPED = 130
_PR_SET_PDEATHSIG = 1


class Stopped(Exception):
    """The run stopped on request; the message says where its checkpoint is."""


class StopSignals:
    """From construction until :meth:`restore`, the first SIGTERM/SIGINT sets ``requested``; a second
    Ctrl-C interrupts at once.

    Signal handlers exist only in the main thread; elsewhere (tests calling ``main`` in a
    thread) ``requested`` simply never turns on.
    """

    def __init__(self, echo: Callable[[str], None] = print) -> None:
        self.requested = False
        self._echo = echo
        self._previous: dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGTERM, signal.SIGINT)}
            _exit_with_parent()

    def _handle(self, signum: int, _frame: object) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        self._echo(f"{signal.Signals(signum).name}: stopping after this step and saving a checkpoint")

    def restore(self) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        self._previous = {}


def _exit_with_parent() -> None:
    parent = parse_int(os.environ.get("TD_PARENT_PID", ""))
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
