"""PromptEditor and the job progress block under it."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.adapter_selector import adapter_selector
from training_dashboard.components.favourite_star import favourite_star
from training_dashboard.components.layout import field
from training_dashboard.state.model import ModelState
from training_dashboard.state.studio import StudioState


def _input(value: rx.Var, on_change: rx.EventHandler, name: str, **props: object) -> rx.Component:
    return rx.input(value=value, on_change=on_change, name=name, custom_attrs={"data-testid": f"prompt-{name}"},
                    width="100%", **props)


def prompt_editor() -> rx.Component:
    s = StudioState
    return rx.card(
        rx.vstack(
            field("Prompt", rx.text_area(
                value=s.text, on_change=s.set_text, placeholder="A warm lo-fi beat with soft piano and vinyl crackle",
                rows="4", width="100%", name="text", custom_attrs={"data-testid": "prompt-text"},
                color_scheme=rx.cond(s.over_limit, "red", "gray"),
            ), rx.flex(
                rx.text(s.char_count, " characters", size="1", color_scheme=rx.cond(s.over_limit, "red", "gray"),
                        custom_attrs={"data-testid": "char-count"}),
                rx.cond(s.reuses_prompt, held_prompt()),
                justify="between", align="center", spacing="2", wrap="wrap", width="100%")),
            rx.grid(
                field("Style", _input(s.style, s.set_style, "style", placeholder="lo-fi hip hop")),
                field("Mood", _input(s.mood, s.set_mood, "mood", placeholder="relaxed")),
                field("Tempo (BPM, 40–200)", _input(s.tempo, s.set_tempo, "tempo", type="number", min=40, max=200)),
                field("Duration (seconds)", _input(s.duration, s.set_duration, "duration", type="number", min=0.5,
                                                   max=30, step=0.5)),
                columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
            ),
            field("Instruments", _input(s.instruments, s.set_instruments, "instruments",
                                        placeholder="piano, drums, bass"), "Comma-separated"),
            field("Number of samples", rx.segmented_control.root(
                *(rx.segmented_control.item(str(n), value=str(n)) for n in range(1, 5)),
                value=s.num_samples, on_change=s.set_num_samples, custom_attrs={"data-testid": "num-samples"},
            )),
            adapter_selector(s.adapter_choice, s.set_adapter_choice),
            field("Seed", _input(s.seed, s.set_seed, "seed", placeholder="random", inputmode="numeric"),
                  "Same seed, settings and adapter reproduce a clip"),
            rx.cond(s.form_problem, rx.callout(s.form_problem, color_scheme="red", size="1", icon="triangle_alert",
                                               custom_attrs={"data-testid": "prompt-problem"})),
            model_status(),
            rx.hstack(
                rx.button("Generate", on_click=s.generate, disabled=~s.can_generate | ModelState.failed,
                          loading=s.generating,
                          size="3", custom_attrs={"data-testid": "generate"}),
                rx.cond(s.generating, rx.button("Cancel", on_click=s.cancel_job, variant="soft", color_scheme="red",
                                                size="3", custom_attrs={"data-testid": "cancel-job"})),
                spacing="2",
            ),
            spacing="3", width="100%", align="stretch",
        ),
        width="100%",
    )


def held_prompt() -> rx.Component:
    """The stored prompt the editor holds (loaded or generated): its star, and that Generate reuses it."""
    s = StudioState
    return rx.flex(
        favourite_star(s.prompt_id, s.prompt_favourite, "editor-star"),
        rx.text("Prompt #", s.prompt_id.to_string(), " · Generate adds to it", size="1", color_scheme="gray",
                custom_attrs={"data-testid": "editor-prompt"}),
        align="center", spacing="1",
    )


def _model_callout(color: str, icon: str) -> rx.Component:
    return rx.callout(ModelState.text, icon=icon, size="1", color_scheme=color,
                      custom_attrs={"data-testid": "model-status", "data-status": ModelState.status})


def model_status() -> rx.Component:
    """The base model's state from the moment the page opens: loading, failed (why, what to do), ready."""
    m = ModelState
    return rx.match(
        m.status,
        ("", rx.fragment()),
        ("ready", rx.text("✓ ", m.text, size="1", color_scheme="green",
                          custom_attrs={"data-testid": "model-status", "data-status": m.status})),
        ("failed", _model_callout("red", "circle_alert")),
        ("unreachable", _model_callout("orange", "triangle_alert")),
        _model_callout("blue", "info"),
    )


def job_progress() -> rx.Component:
    s = StudioState
    return rx.cond(
        s.job_status != "",
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.text(rx.cond(s.job_id, "Job #" + s.job_id.to_string(), "Job"), weight="bold", size="2"),
                    rx.badge(s.job_status, color_scheme=rx.match(
                        s.job_status, ("completed", "green"), ("failed", "red"), ("cancelled", "gray"), "blue"),
                        custom_attrs={"data-testid": "job-status"}),
                    rx.cond(s.job_adapter & ((s.clips.length() < 2) | (s.pref_result != "")),
                            rx.text("with ", s.job_adapter, size="1", color_scheme="gray",
                                    custom_attrs={"data-testid": "job-adapter"})),
                    spacing="2", align="center", wrap="wrap",
                ),
                rx.progress(value=s.job_progress, max=100, width="100%", custom_attrs={"data-testid": "job-progress"}),
                rx.cond(s.job_error, rx.callout(s.job_error, color_scheme="red", size="1", icon="circle_alert",
                                                custom_attrs={"data-testid": "job-error"})),
                spacing="2", width="100%", align="stretch",
            ),
            width="100%",
        ),
    )
