"""AudioPlayer: one clip, streamed (the API honours Range requests, so seeking works); what is heard
reaches the listen gate of the clip's rating and of the A/B choice."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.listening import tracked_audio
from training_dashboard.state.studio import Clip, StudioState


def audio_player(clip: Clip) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.badge(clip.label, size="3", variant="solid", custom_attrs={"data-testid": "clip-label"}),
            rx.text("seed ", clip.seed.to_string(), size="1", color_scheme="gray"),
            # Blind A/B: which model made a clip shows only once the choice between clips is stored.
            rx.cond((StudioState.clips.length() < 2) | (StudioState.pref_result != ""),
                    rx.badge(clip.adapter_label, variant="soft", custom_attrs={"data-testid": "clip-adapter"}),
                    rx.badge("model hidden until you choose", variant="outline", color_scheme="gray",
                             custom_attrs={"data-testid": "clip-adapter-hidden"})),
            spacing="2", align="center", wrap="wrap",
        ),
        tracked_audio(clip.src, "clip-audio-" + clip.id.to_string(), StudioState.track, testid="clip-audio",
                      preload="metadata"),
        spacing="2", width="100%", align="stretch",
    )
