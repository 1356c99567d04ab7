"""The studio's History list: latest jobs, clips to play and rate, "Use this prompt"."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.favourite_star import favourite_star
from training_dashboard.components.layout import stack_card
from training_dashboard.state.auth import AuthState
from training_dashboard.state.history import HistoryClip, HistoryJob, HistoryState


def _clip(clip: HistoryClip) -> rx.Component:
    return rx.hstack(
        # Its figures are read when it is rated (the listen gate), so it needs an id, not live reports.
        rx.el.audio(src=clip.src, controls=True, preload="none", id="history-audio-" + clip.id.to_string(),
                    style={"height": "32px", "flex": "1"}),
        rx.text("seed ", clip.seed.to_string(), size="1", color_scheme="gray"),
        rx.select(["1", "2", "3", "4", "5"], value=clip.rated, placeholder="Rate", size="1",
                  on_change=lambda v: HistoryState.collect_and_rate_clip(clip.id, v),
                  custom_attrs={"data-testid": "history-rate"}),
        align="center", width="100%", spacing="2", custom_attrs={"data-testid": "history-clip"},
    )


def _job(job: HistoryJob) -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.text("#", job.id.to_string(), weight="bold", size="2"),
                rx.badge(job.status, size="1", color_scheme=rx.match(
                    job.status, ("completed", "green"), ("failed", "red"), ("cancelled", "gray"), "blue")),
                rx.badge(job.adapter_label, variant="soft", size="1"),
                rx.text(job.created, size="1", color_scheme="gray"),
                rx.spacer(),
                favourite_star(job.prompt_id, job.favourite, "history-star"),
                rx.cond(AuthState.is_trainer,
                        rx.button("Use this prompt", size="1", variant="soft", on_click=HistoryState.use_prompt(job.id),
                                  custom_attrs={"data-testid": "history-use"})),
                align="center", width="100%", wrap="wrap", spacing="2",
            ),
            rx.text(job.prompt_text, size="2", trim="end"),
            rx.cond(job.attributes, rx.text(job.attributes, size="1", color_scheme="gray")),
            rx.foreach(job.clips, _clip),
            spacing="1", width="100%", align="stretch",
        ),
        padding_y="0.5em", border_top="1px solid var(--gray-a4)", width="100%",
        custom_attrs={"data-testid": "history-job"},
    )


def history_list() -> rx.Component:
    s = HistoryState
    return stack_card(
        rx.hstack(rx.heading("History", size="3"), rx.spacer(),
                  rx.button("Refresh", size="1", variant="ghost", on_click=s.load_history, loading=s.loading),
                  width="100%", align="center"),
        rx.cond(s.jobs.length() > 0, rx.foreach(s.jobs, _job),
                rx.text(rx.cond(AuthState.is_trainer, "Jobs you generate appear here, newest first.",
                                "Clips the trainers generate appear here, newest first."),
                        size="2", color_scheme="gray")),
        testid="history", on_mount=[s.load_history, s.load_listen_rule],
    )
