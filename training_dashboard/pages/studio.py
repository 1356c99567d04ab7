"""`/`: write a prompt, pick the base model or an adapter, generate, listen and rate."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.feedback_panel import clips_section
from training_dashboard.components.history_list import history_list
from training_dashboard.components.layout import page_shell
from training_dashboard.components.prompt_editor import job_progress, prompt_editor
from training_dashboard.state.adapters import AdapterState
from training_dashboard.state.listen_gate import TRACKER_JS
from training_dashboard.state.model import ModelState
from training_dashboard.state.stats import StatsState
from training_dashboard.state.studio import StudioState


@rx.page(route="/", title="Studio · Training Dashboard",
         on_load=[ModelState.watch_model, AdapterState.load_adapters, StatsState.load_stats, rx.call_script(TRACKER_JS),
                  StudioState.load_listen_rule])
def studio() -> rx.Component:
    return page_shell(
        rx.grid(
            prompt_editor(),
            rx.vstack(job_progress(), clips_section(), history_list(), spacing="3", width="100%", align="stretch"),
            columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%",
        ),
        current="Studio",
    )
