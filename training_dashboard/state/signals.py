"""Signals: how a lower state has the states above it refresh, without importing them.

Who is listening (:mod:`.rater`) and the studio's job (:mod:`.studio`) sit low in the house:
the /rate and /evaluate pages, and the studio's History, import them. When the rater changes
or a job ends, those higher states must load again; the lower module names the moment (a
:class:`Signal`), and each higher module connects its handler to it when it is imported::

    RATER_CHOSEN.connect(RateState.load_page, path="/rate")   # in state/rate.py

and the lower handler returns ``RATER_CHOSEN.handlers(self.router.url.path)`` as its follow-up
events. Every page module is imported when the app starts, so every connection is made.
"""

from __future__ import annotations

from reflex.event import EventHandler


class Signal:
    """Event handlers to run after something happened, each for the pages under a path."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str], EventHandler] = {}

    def connect(self, handler: EventHandler, *, path: str = "/") -> None:
        """Run ``handler`` after the signal while the browser shows ``path`` or a page below it."""
        fn = handler.fn
        self._handlers[path, f"{fn.__module__}.{fn.__qualname__}"] = handler  # importing twice adds nothing

    def handlers(self, path: str = "/") -> list[EventHandler]:
        """The handlers connected for the page at ``path``, in the order they were connected."""
        return [h for (prefix, _), h in self._handlers.items() if path.startswith(prefix)]
