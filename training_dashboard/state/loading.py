"""The one loader: a background handler fetches through the client and shows what came back.

Every list in the UI loads the same way: return if it is already loading, set the flag, call
the client, store the result, report a failure, clear the flag. :func:`load` is that sequence;
a handler names only what differs::

    @rx.event(background=True)
    async def load_runs(self):
        if error := await load(self, api_client, lambda api: api.list_runs(limit=50), self._show_runs):
            yield rx.toast.error(f"Could not load runs: {error}")

A handler that must check its state before it may call (and sets its busy flag itself, under
the lock) uses :func:`call`, the same sequence without the guard. Both also work from a plain
``@rx.event`` handler, where ``async with self`` does nothing.

The state module passes its own ``api_client`` (tests point each module's at an in-process API);
it is called with the state, so the call acts as the person signed in on that tab. A 401 is not
shown: :func:`~training_dashboard.state.api.error_text` raises ``SignedOut`` and the app sends the
browser to /login.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import reflex as rx

from training_dashboard.client import ApiClient
from training_dashboard.state.api import error_text

T = TypeVar("T")


async def load(state: rx.State, client: Callable[[rx.State], ApiClient], fetch: Callable[[ApiClient], Awaitable[T]],
               show: Callable[[T], Any] | None = None, *, failed: Callable[[str], Any] | None = None,
               flag: str | None = "loading") -> str:
    """Load from a background handler (``@rx.event(background=True)``), once at a time.

    Args:
        state: The handler's ``self``; it is locked (``async with state``) only to change it.
        client: The calling module's ``api_client`` factory (given ``state``: it reads the session).
        fetch: What to ask the API, given an open client.
        show: Stores the answer on the state (called with the state locked).
        failed: Stores the error text on the state (called with the state locked, before the
            flag clears) when the page shows errors in place rather than as a toast.
        flag: The boolean var that marks a fetch in flight: while it is set, another call returns
            at once. ``None``: no flag, every call fetches.

    Returns:
        ``""`` when the answer was stored or a fetch was already running; otherwise the error
        text for the user (a toast's or a callout's).
    """
    async with state:
        if flag:
            if getattr(state, flag):
                return ""
            setattr(state, flag, True)
    return await call(state, client, fetch, show, failed=failed, flag=flag)


async def call(state: rx.State, client: Callable[[rx.State], ApiClient], fetch: Callable[[ApiClient], Awaitable[T]],
               show: Callable[[T], Any] | None = None, *, failed: Callable[[str], Any] | None = None,
               flag: str | None = None) -> str:
    """Call the API and store the answer, as :func:`load` does, for a handler that checked its
    state and set its busy ``flag`` itself (under the lock); the flag is cleared at the end.

    Returns:
        ``""`` when the answer was stored, otherwise the error text for the user.
    """
    try:
        async with client(state) as api:
            answer = await fetch(api)
        if show is not None:
            async with state:
                show(answer)
        return ""
    except Exception as exc:  # noqa: BLE001 - every failure is shown to the user
        error = error_text(exc)
        if failed is not None:
            async with state:
                failed(error)
        return error
    finally:
        if flag:
            async with state:
                setattr(state, flag, False)
