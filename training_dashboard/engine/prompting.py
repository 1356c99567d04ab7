"""The conditioning text: one function shared by generation and training.

Training and generation must condition on exactly the same text, or an adapter learns
a prompt format it never sees at generation time.
"""

from __future__ import annotations

from typing import Any


def conditioning_text(prompt: str, attributes: dict[str, Any] | None = None) -> str:
    """The text MusicGen is conditioned on: the prompt plus its structured attributes.

    Args:
        prompt: the user's prompt text ("" for an unconditional example).
        attributes: optional ``style``, ``tempo``, ``instruments``, ``mood``.

    Returns:
        e.g. ``"calm piano loop. style: lofi. tempo: 80 bpm. instruments: piano, drums. mood: calm"``.
    """
    parts = [prompt.strip()] if prompt and prompt.strip() else []
    attrs = attributes or {}
    if attrs.get("style"):
        parts.append(f"style: {attrs['style']}")
    if attrs.get("tempo"):
        parts.append(f"tempo: {attrs['tempo']} bpm")
    if attrs.get("instruments"):
        parts.append("instruments: " + ", ".join(str(i) for i in attrs["instruments"]))
    if attrs.get("mood"):
        parts.append(f"mood: {attrs['mood']}")
    return ". ".join(parts)
