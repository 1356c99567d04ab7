"""The dev server of ``reflex run`` (``./scripts/run.sh``) listens where the backend does.

Reflex starts it as ``react-router dev --host``: Vite on every interface, while the backend stays
on loopback (``--backend-host``, ``TD_HOST``). This plugin adds a Vite plugin to the generated
``vite.config.js`` whose ``config`` hook sets ``server.host`` to ``TD_HOST`` (127.0.0.1 unless set);
Vite applies plugin hooks after the command line, so it wins over ``--host``. Production (one port,
the backend serving the built UI) has no dev server and is unaffected.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

VITE_CONFIG = "vite.config.js"
ANCHOR = "  ].concat(["
PLUGIN = ('{ name: "td-loopback", config: () => '
          '({ server: { host: process.env.TD_HOST || "127.0.0.1" } }) }, ')


def bind_dev_server_to_host(source: str) -> str:
    """``vite.config.js`` with the plugin in its plugin list (once; unchanged if the template moved on)."""
    if "td-loopback" in source or ANCHOR not in source:
        return source
    return source.replace(ANCHOR, ANCHOR + PLUGIN, 1)


class LoopbackDevServer(rx.plugins.Plugin):
    def pre_compile(self, **context: Any) -> None:
        context["add_modify_task"](VITE_CONFIG, bind_dev_server_to_host)
