"""FeedbackPanel per clip, the A/B comparison, and the readiness line under them."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.audio_player import audio_player
from training_dashboard.components.layout import empty_state
from training_dashboard.components.listening import listen_hint
from training_dashboard.schemas import MAX_REASON_CHARS
from training_dashboard.state.listen_gate import collect_js
from training_dashboard.state.stats import StatsState
from training_dashboard.state.studio import PREF_REASON, SUGGESTED_TAGS, Clip, StudioState


def _tag_toggle(clip: Clip, index: rx.Var[int], tag: str) -> rx.Component:
    return rx.badge(
        tag, variant=rx.cond(clip.tags.contains(tag), "solid", "outline"), cursor="pointer", as_="button",
        on_click=StudioState.toggle_tag(index, tag), custom_attrs={"data-testid": f"tag-{tag}"},
    )


def feedback_panel(clip: Clip, index: rx.Var[int]) -> rx.Component:
    return rx.vstack(
        rx.radio_group.root(
            # 1-5 never wrap apart (a lone "5" on the next line); the label may go above them on a narrow card.
            rx.flex(rx.text("Rating", size="2", weight="medium"),
                    rx.flex(*(rx.radio_group.item(str(n), value=str(n)) for n in range(1, 6)), spacing="4",
                            wrap="nowrap", custom_attrs={"data-testid": "rating-choices"}),
                    column_gap="0.75em", row_gap="0.25em", wrap="wrap", align="center"),
            value=clip.rating, on_change=lambda v: StudioState.set_rating(index, v),
            custom_attrs={"data-testid": "rating", "aria-label": "Rating 1 to 5"},
        ),
        rx.flex(*(_tag_toggle(clip, index, tag) for tag in SUGGESTED_TAGS), wrap="wrap", spacing="1"),
        rx.input(value=clip.free_tags, on_change=lambda v: StudioState.set_free_tags(index, v),
                 placeholder="Other tags, comma-separated", width="100%", custom_attrs={"data-testid": "free-tags"}),
        rx.text_area(value=clip.notes, on_change=lambda v: StudioState.set_notes(index, v), placeholder="Notes",
                     rows="2", width="100%", custom_attrs={"data-testid": "notes"}),
        rx.hstack(
            rx.button(rx.cond(clip.submitted, "Update rating", "Submit rating"),
                      on_click=StudioState.collect_and_submit_feedback(index),
                      disabled=(clip.rating == "") | (StudioState.clip_hints[index] != ""),
                      custom_attrs={"data-testid": "submit-rating"}),
            rx.cond(clip.submitted, rx.text("✓ Saved", color_scheme="green", size="2",
                                            custom_attrs={"data-testid": "rating-saved"})),
            align="center", spacing="2",
        ),
        listen_hint(StudioState.clip_hints[index], "rating-listen-hint"),
        spacing="2", width="100%", align="stretch",
    )


def clip_card(clip: Clip, index: rx.Var[int]) -> rx.Component:
    return rx.card(
        rx.vstack(audio_player(clip), rx.separator(size="4"), feedback_panel(clip, index), spacing="3",
                  width="100%"),
        width="100%", custom_attrs={"data-testid": "clip-card"},
    )


def _label_select(value: rx.Var[str], on_change: rx.EventHandler, testid: str) -> rx.Component:
    return rx.select(StudioState.clip_labels, value=value, on_change=on_change, size="2",
                     custom_attrs={"data-testid": testid})


def _prefer_button(text: str, choice: str, testid: str, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    s = StudioState
    return rx.button(text, on_click=rx.call_script(collect_js(PREF_REASON), callback=s.submit_preference(choice)),
                     disabled=s.pref_hint != "", variant="soft", custom_attrs={"data-testid": testid}, **props)


def preference_picker() -> rx.Component:
    s = StudioState
    return rx.cond(
        s.clips.length() >= 2,
        rx.card(
            rx.vstack(
                rx.text("Which one is better?", weight="bold", size="2"),
                rx.flex(
                    _label_select(s.pref_a, s.set_pref_a, "pref-a"), rx.text("vs", size="2"),
                    _label_select(s.pref_b, s.set_pref_b, "pref-b"),
                    _prefer_button("First", "a", "prefer-a"),
                    _prefer_button("Second", "b", "prefer-b"),
                    _prefer_button("Tie", "tie", "prefer-tie", color_scheme="gray"),
                    spacing="2", align="center", wrap="wrap",
                ),
                # Uncontrolled: the choice reads it; a stored choice (pref_result) starts it empty again.
                rx.input(rx.input.slot(rx.icon("message-square-text", size=16)),
                         placeholder="Why? (optional)", max_length=MAX_REASON_CHARS, id=PREF_REASON,
                         key=s.pref_result, width="100%", size="2", auto_complete="off",
                         custom_attrs={"data-testid": PREF_REASON, "aria-label": "Why? (optional)"}),
                listen_hint(s.pref_hint, "pref-listen-hint"),
                rx.cond(s.pref_result, rx.text(s.pref_result, size="2", color_scheme="green",
                                               custom_attrs={"data-testid": "pref-result"})),
                spacing="2", width="100%",
            ),
            width="100%",
        ),
    )


def readiness_line() -> rx.Component:
    return rx.hstack(
        rx.skeleton(rx.text(rx.cond(StatsState.loaded, StatsState.readiness_text, "Loading training readiness"),
                            size="2", custom_attrs={"data-testid": "readiness-line"}),
                    loading=~StatsState.loaded),
        rx.link("Training dashboard →", href="/training?tab=progress", size="2",
                custom_attrs={"data-testid": "readiness-link"}),
        spacing="3", align="center", wrap="wrap",
    )


def clips_section() -> rx.Component:
    return rx.vstack(
        rx.cond((StudioState.clips.length() == 0) & (StudioState.job_status == ""), empty_state(
            "No clips yet",
            "Write a prompt, pick the base model or an adapter, and press Generate. Each clip gets a player, a "
            "1–5 rating, tags and notes; with two or more you can also say which one is better.",
            testid="clips-empty",
        )),
        rx.grid(rx.foreach(StudioState.clips, clip_card), columns=rx.breakpoints(initial="1", md="2"), spacing="3",
                width="100%"),
        preference_picker(),
        readiness_line(),
        spacing="3", width="100%", align="stretch",
    )
