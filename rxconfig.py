"""Reflex configuration. Environment variables (REFLEX_*) override every field."""

import os
from pathlib import Path

import reflex as rx

from training_dashboard.loopback import LoopbackDevServer


def _keep_data_out_of_hot_reload() -> None:
    """Dev mode reloads the backend when files under the project change. The database, audio,
    exports and benchmark data are written constantly (the worker polls the job queue), which
    would restart the backend forever: exclude them (``REFLEX_HOT_RELOAD_EXCLUDE_PATHS``)."""
    root = Path(__file__).resolve().parent
    data = Path(os.environ.get("TD_DATA_DIR") or root / "data").resolve()
    data.mkdir(parents=True, exist_ok=True)
    candidates = [data, root / "bench", root / "artifacts", root / "tests"]
    paths = [str(p) for p in candidates if p.exists() and p.parent == root]
    if paths:
        os.environ.setdefault("REFLEX_HOT_RELOAD_EXCLUDE_PATHS", ":".join(paths))


_keep_data_out_of_hot_reload()


def _allowed_origins() -> list[str]:
    """Only this app's own frontend may open the websocket or call the API from a browser.

    ``reflex run`` exports the ports it uses to the backend process, so dev mode (frontend and
    backend on two ports) and prod mode (one port) both work; ``TD_CORS_ORIGINS`` adds more.
    """
    ports = {os.environ.get("REFLEX_FRONTEND_PORT") or "3000", os.environ.get("REFLEX_BACKEND_PORT") or "8000"}
    origins = [f"http://{host}:{port}" for host in ("localhost", "127.0.0.1") for port in sorted(ports)]
    extra = os.environ.get("TD_CORS_ORIGINS", "")
    return origins + [o.strip() for o in extra.split(",") if o.strip()]


config = rx.Config(
    app_name="training_dashboard",
    # The API and the generation worker live in this backend: keep it on loopback unless asked.
    backend_host=os.environ.get("REFLEX_BACKEND_HOST", "127.0.0.1"),
    telemetry_enabled=False,
    cors_allowed_origins=_allowed_origins(),
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="iris", radius="medium")),
             LoopbackDevServer()],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
