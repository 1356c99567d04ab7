"""AudioPlayer: one clip, streamed (the API honours Range requests, so seeking works)."""

from __future__ import annotations

import reflex as rx

from training_dashboard.state.studio import Clip


def audio_player(clip: Clip) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.badge(clip.label, size="3", variant="solid", custom_attrs={"data-testid": "clip-label"}),
            rx.text("seed ", clip.seed.to_string(), size="1", color_scheme="gray"),
            rx.badge(clip.adapter_label, variant="soft", custom_attrs={"data-testid": "clip-adapter"}),
            spacing="2", align="center", wrap="wrap",
        ),
        rx.el.audio(src=clip.src, controls=True, preload="metadata", style={"width": "100%"},
                    custom_attrs={"data-testid": "clip-audio"}),
        spacing="2", width="100%", align="stretch",
    )
