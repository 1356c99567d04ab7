"""Reflex configuration. Environment variables (REFLEX_*) override every field."""

import os

import reflex as rx

config = rx.Config(
    app_name="training_dashboard",
    # The API and the generation worker live in this backend: keep it on loopback unless asked.
    backend_host=os.environ.get("REFLEX_BACKEND_HOST", "127.0.0.1"),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="iris", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
