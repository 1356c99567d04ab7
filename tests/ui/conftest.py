"""UI state tests: real states on a real in-process API (no browser, no mocks of our code)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import reflex as rx

from training_dashboard.client import ApiClient
from training_dashboard.state import adapters, datasets, model, stats, studio

STATE_MODULES = (adapters, datasets, model, stats, studio)


class CountingTransport(httpx.AsyncBaseTransport):
    """The in-process API, remembering which paths were asked for."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.paths: list[str] = []
        self.bodies: dict[str, list[bytes]] = {}  # "METHOD /path" -> the request bodies sent

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.method} {request.url.path}")
        self.bodies.setdefault(f"{request.method} {request.url.path}", []).append(await request.aread())
        return await self.inner.handle_async_request(request)


@pytest.fixture
def transport(app, monkeypatch: pytest.MonkeyPatch) -> CountingTransport:  # type: ignore[no-untyped-def]
    """Point every state module's ``api_client()`` at the test API."""
    counting = CountingTransport(app)
    for module in STATE_MODULES:
        monkeypatch.setattr(module, "api_client", lambda *_: ApiClient("http://test/api", transport=counting))
    return counting


@pytest.fixture
async def root() -> AsyncIterator[rx.State]:
    yield rx.State(_reflex_internal_init=True)


async def run(handler: Any, state: rx.State, *args: Any) -> list[Any]:
    """Run an event handler's function on a state; return what it yielded or returned."""
    result = handler.fn(state, *args)
    if inspect.isasyncgen(result):
        return [item async for item in result]
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        return []
    return result if isinstance(result, list) else [result]
