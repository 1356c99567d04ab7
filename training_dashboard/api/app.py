"""The FastAPI application: routers under /api, error mapping, limits and access control.

``create_app`` is used three ways: mounted into Reflex (``api_transformer``), served alone
by uvicorn (``python -m training_dashboard.api``), and in-process by the tests.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from training_dashboard.api import (
    adapters,
    audio,
    auth,
    datasets,
    feedback,
    generation,
    health,
    listening,
    prompts,
    templates,
    tokens,
    users,
)
from training_dashboard.api import audit as audit_api
from training_dashboard.api import oidc as oidc_api
from training_dashboard.api import queue as queue_api
from training_dashboard.api import raters as raters_api
from training_dashboard.api import runs as runs_api
from training_dashboard.api import worker_runs as worker_runs_api
from training_dashboard.api.access import PREFIX, AudioSigner, Authenticate, send_json
from training_dashboard.api.evaluations import router as evaluations_router
from training_dashboard.api.leaderboard import router as leaderboard_router
from training_dashboard.api.worker_jobs import router as worker_jobs_router
from training_dashboard.api.worker_registry import router as worker_registry_router
from training_dashboard.config import VERSION, Settings, check_bind, get_settings
from training_dashboard.db import Database
from training_dashboard.db.migrate import upgrade
from training_dashboard.services import accounts, credentials
from training_dashboard.services.errors import ServiceError
from training_dashboard.services.exports import recover_exports

log = logging.getLogger("training_dashboard")

# CPython hands the GIL to a waiting thread only every ``switchinterval`` (5 ms by default).
# A SQLite write transaction releases the GIL in every statement (~20 for a rating) and then
# waits up to that long to get it back from a request thread that grabbed it meanwhile: under
# 16 busy clients a 10 ms rating held the write lock ~100 ms, and every queued writer waited for
# it (the "convoy effect"). 0.5 ms cut the write p99 of bench.write_load by about half.
GIL_SWITCH_INTERVAL_S = 0.0005


def create_app(settings: Settings | None = None, *, with_worker: bool | None = None) -> FastAPI:
    """Build the API; migrates the database, cleans interrupted exports and makes sure there is a first
    admin (or prints the setup link) first.

    Raises:
        BindRefused: ``TD_AUTH=off`` with a non-loopback bind address (``TD_HOST`` / ``REFLEX_BACKEND_HOST``).
    """
    settings = settings or get_settings()
    check_bind(settings, settings.host)
    check_bind(settings, os.environ.get("REFLEX_BACKEND_HOST"))
    settings.ensure_dirs()
    if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:  # never raise a shorter one set by the host
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    db = Database(settings.db_url)
    upgrade(db)
    recover_exports(settings.exports_dir)
    if settings.auth_on:
        bootstrap_admin(settings, db)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        start_worker(app)
        yield
        stop_worker(app)

    app = FastAPI(title="Training Dashboard API", version=VERSION, lifespan=lifespan,
                  openapi_url=f"{PREFIX}/openapi.json", docs_url=f"{PREFIX}/docs", redoc_url=None)
    app.state.settings, app.state.db, app.state.worker, app.state.dispatcher = settings, db, None, None
    app.state.signer = AudioSigner(settings.resolved_secret_key() if settings.auth_on else None)
    app.state.with_worker = settings.worker if with_worker is None else with_worker
    app.state.oidc = oidc_api.make_client(settings)
    for module in (auth, oidc_api, users, tokens, audit_api, prompts, templates, generation, audio, feedback, listening,
                   datasets, adapters, health):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(leaderboard_router, prefix=PREFIX)
    app.include_router(evaluations_router, prefix=PREFIX)

    for module in (raters_api, queue_api):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(runs_api.router, prefix=PREFIX)
    app.include_router(worker_runs_api.router, prefix=PREFIX)
    app.include_router(worker_registry_router, prefix=PREFIX)
    app.include_router(worker_jobs_router, prefix=PREFIX)
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, upload_bytes=settings.max_upload_bytes)
    app.add_middleware(Authenticate, db=db, settings=settings, signer=app.state.signer)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])
    return app


def bootstrap_admin(settings: Settings, db: Database) -> None:
    """``TD_ADMIN_USER`` + ``TD_ADMIN_PASSWORD``: create or refresh that admin. Otherwise, while no user has a
    password, print a one-time setup link (30 minutes) that creates the first admin in the browser."""
    if settings.admin_user and settings.admin_password:
        accounts.ensure_admin(db, settings.admin_user, settings.admin_password)
        return
    if accounts.any_password_user(db):
        return
    port = os.environ.get("REFLEX_FRONTEND_PORT") or settings.port
    link = f"http://127.0.0.1:{port}/setup?token={credentials.new_setup_link(db)}"
    message = f"No admin yet. Open {link} within 30 minutes to create the first admin (single use)."
    log.warning(message)
    print(f"\n  {message}\n", file=sys.stderr, flush=True)


def start_worker(app: FastAPI) -> None:
    """Start the embedded worker (a thread: generation and training runs) if enabled; with a broker, the
    dispatcher instead."""
    if not app.state.with_worker or app.state.worker is not None or app.state.dispatcher is not None:
        return
    if app.state.settings.broker_url:
        from training_dashboard.worker.dispatcher import Dispatcher

        app.state.dispatcher = Dispatcher(app.state.settings, app.state.db)
        app.state.dispatcher.start()
        return
    from training_dashboard.worker.embedded import EmbeddedWorker  # no torch import here; it loads lazily

    app.state.worker = EmbeddedWorker(app.state.settings, app.state.db)
    app.state.worker.start()


def stop_worker(app: FastAPI) -> None:
    if app.state.dispatcher is not None:
        app.state.dispatcher.stop()
        app.state.dispatcher = None
    if app.state.worker is not None:
        app.state.worker.stop()
        app.state.worker = None


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.message})

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
            errors.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid")})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "Invalid request"
        return JSONResponse(status_code=422, content={"detail": detail, "errors": errors[:50]})

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": f"Internal error: {type(exc).__name__}"})


class BodyLimit:
    """Reject request bodies over ``max_bytes`` (413), declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int | None = None) -> None:
        self.app, self.default_bytes = app, max_bytes
        self.upload_bytes = upload_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Workers upload clips, checkpoints and adapters (token-guarded): their own, larger limit.
        limit = self.upload_bytes if scope["path"].startswith(f"{PREFIX}/worker/") else self.default_bytes
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                await send_json(send, 413, f"Request body larger than {max_bytes} bytes")
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await send_json(send, 413, f"Request body larger than {max_bytes} bytes")


class _TooLarge(Exception):
    pass
