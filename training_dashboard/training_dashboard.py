"""The Reflex app: UI pages plus the API, served by one backend."""

import asyncio
import logging
from contextlib import asynccontextmanager

import reflex as rx

from training_dashboard.api.app import create_app, start_worker, stop_worker
from training_dashboard.pages import account, admin, evaluate, login, rate, setup, studio, training  # noqa: F401
from training_dashboard.state.auth import handle_backend_exception

api = create_app()
_host = rx.config.get_config().backend_host
if _host not in ("127.0.0.1", "localhost", "::1"):
    logging.getLogger("training_dashboard").warning(
        "Backend listening on %s: UI and API are reachable from other machines. Set TD_API_TOKEN.", _host)


@asynccontextmanager
async def generation_worker():
    # A mounted FastAPI app's own lifespan never runs: start and stop the worker with Reflex's.
    start_worker(api)
    try:
        yield
    finally:
        await asyncio.to_thread(stop_worker, api)


# A handler that met a 401 (the session ended) sends the browser to /login (state/auth.py).
app = rx.App(api_transformer=api, stylesheets=["/td.css"], backend_exception_handler=handle_backend_exception)
app.register_lifespan_task(generation_worker)
