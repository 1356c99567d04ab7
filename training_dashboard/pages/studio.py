"""`/`: write a prompt, pick the base model or an adapter, generate, listen and rate."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.feedback_panel import clips_section
from training_dashboard.components.history_list import history_list
from training_dashboard.components.layout import page_shell
from training_dashboard.components.prompt_editor import job_progress, prompt_editor
from training_dashboard.state.adapters import AdapterState
from training_dashboard.state.auth import AuthState, guard
from training_dashboard.state.model import ModelState
from training_dashboard.state.stats import StatsState


def _listener_note() -> rx.Component:
    """A rater cannot generate: the studio is their history to play and rate; the queue is on /rate."""
    return rx.callout(
        rx.text("You can listen to and rate the clips below; the listening queue is on ",
                rx.link("Rate", href="/rate"), ". Generating needs the trainer role."),
        icon="headphones", color_scheme="gray", width="100%", custom_attrs={"data-testid": "listener-note"})


@rx.page(route="/", title="Studio · Training Dashboard",
         on_load=guard("/", ModelState.watch_model, AdapterState.load_adapters, StatsState.load_stats, role="trainer"))
def studio() -> rx.Component:
    trainer = AuthState.is_trainer
    return page_shell(
        rx.grid(
            rx.cond(trainer, prompt_editor(), rx.cond(AuthState.signed_in, _listener_note())),
            rx.vstack(rx.cond(trainer, rx.fragment(job_progress(), clips_section())), history_list(), spacing="3",
                      width="100%", align="stretch"),
            columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%",
        ),
        current="Studio",
    )
