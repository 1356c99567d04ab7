"""`/`: write a prompt, pick the base model or an adapter, generate, listen and rate."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.feedback_panel import clips_section
from training_dashboard.components.history_list import history_list
from training_dashboard.components.layout import page_shell
from training_dashboard.components.library_panel import library_panel
from training_dashboard.components.prompt_editor import job_progress, prompt_editor
from training_dashboard.state.adapters import AdapterState
from training_dashboard.state.auth import AuthState, guard
from training_dashboard.state.library import LibraryState
from training_dashboard.state.listen_gate import TRACKER_JS
from training_dashboard.state.model import ModelState
from training_dashboard.state.stats import StatsState
from training_dashboard.state.studio import StudioState
from training_dashboard.state.templates import TemplateState


def _listener_note() -> rx.Component:
    """A rater cannot generate: the studio is their history to play and rate; the queue is on /rate."""
    return rx.callout(
        rx.text("Play and rate the clips under History; the listening queue is on ",
                rx.link("Rate", href="/rate"), ". Generating needs the trainer role."),
        icon="headphones", color_scheme="gray", width="100%", custom_attrs={"data-testid": "listener-note"})


@rx.page(route="/", title="Studio · Training Dashboard",
         on_load=[*guard("/", ModelState.watch_model, AdapterState.load_adapters, StatsState.load_stats,
                          LibraryState.load_library, TemplateState.load_templates,
                          ("rater", StudioState.load_listen_rule), role="trainer"),
                  rx.call_script(TRACKER_JS)])
def studio() -> rx.Component:
    """Trainers: the library, the editor and what it made side by side on a wide screen (td.css
    ``td-studio``), stacked on a narrow one. Raters: their note and the History."""
    trainer = AuthState.is_trainer
    output = rx.vstack(rx.cond(trainer, rx.fragment(job_progress(), clips_section())), history_list(), spacing="3",
                       width="100%", align="stretch")
    return page_shell(
        rx.cond(
            trainer,
            rx.el.div(
                rx.el.div(library_panel(), class_name="td-studio-library"),
                rx.el.div(prompt_editor(), class_name="td-studio-editor"),
                rx.el.div(output, class_name="td-studio-output"),
                class_name="td-studio",
            ),
            rx.vstack(rx.cond(AuthState.signed_in, _listener_note()), output, spacing="4", width="100%",
                      align="stretch"),
        ),
        current="Studio", wide=True,
    )
