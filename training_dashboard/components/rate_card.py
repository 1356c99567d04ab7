"""The /rate page's card: one clip, the 1-5 buttons, tags, submit and skip."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import empty_state
from training_dashboard.components.listening import listen_hint, listening_card, listening_panel, player
from training_dashboard.state.listen_gate import collect_js
from training_dashboard.state.rate import PLAYER, RATE_TAGS, RateState


def _star(n: int) -> rx.Component:
    chosen = RateState.rating == str(n)
    return rx.button(f"{n}★", on_click=RateState.set_rating(str(n)), variant=rx.cond(chosen, "solid", "outline"),
                     size="3", aria_pressed=chosen, custom_attrs={"data-testid": f"rate-star-{n}"})


def _tag(tag: str) -> rx.Component:
    return rx.badge(tag, variant=rx.cond(RateState.tags.contains(tag), "solid", "outline"), cursor="pointer",
                    as_="button", on_click=RateState.toggle_tag(tag), size="2",
                    custom_attrs={"data-testid": f"rate-tag-{tag}"})


def rate_card() -> rx.Component:
    s = RateState
    return listening_card(
        rx.text(s.prompt_text, size="4", weight="bold", custom_attrs={"data-testid": "rate-prompt"}),
        rx.cond(s.prompt_attributes, rx.text(s.prompt_attributes, size="2", color_scheme="gray")),
        player(s.src, PLAYER, s.track),
        rx.hstack(*(_star(n) for n in range(1, 6)), spacing="2", wrap="wrap"),
        rx.flex(*(_tag(t) for t in RATE_TAGS), wrap="wrap", spacing="1"),
        rx.hstack(
            rx.button("Submit (Enter)", on_click=rx.call_script(collect_js(), callback=s.submit),
                      disabled=~s.can_submit, loading=s.submitting, custom_attrs={"data-testid": "rate-submit"}),
            rx.button("Skip (S)", on_click=s.skip, variant="soft", color_scheme="gray",
                      custom_attrs={"data-testid": "rate-skip"}),
            spacing="2",
        ),
        listen_hint(s.listen_hint, "rate-listen-hint"),
        keys="Keys: 1–5 rate · Enter submits and moves on · Space plays/pauses · S skips. "
             "The model that made a clip is shown only after your rating is stored.",
        testid="rate-card", data={"data-audio-id": s.audio_id},
    )


def rate_panel() -> rx.Component:
    s = RateState
    return listening_panel(
        rx.heading("Listen and rate", size="5"),
        rx.badge(s.left_text, size="2", custom_attrs={"data-testid": "rate-left"}),
        rx.cond(s.last_result, rx.callout(s.last_result, icon="check", color_scheme="green", size="1",
                                          custom_attrs={"data-testid": "rate-last"})),
        s.error,
        rx.cond(
            s.has_clip,
            rate_card(),
            rx.cond(s.empty, empty_state(
                "Nothing left for you",
                "Every clip has enough ratings, or you have rated all of them. Generate more in the studio.",
                rx.link("Go to the studio →", href="/"), testid="rate-empty",
            ), rx.cond(s.loading, rx.skeleton(height="14em", width="100%", loading=True),
                       rx.text("Choose who is listening to start.", size="2", color_scheme="gray"))),
        ),
        max_width="44em",
    )
