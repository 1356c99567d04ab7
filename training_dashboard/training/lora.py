"""The one LoRA wrapping used by training and generation: PEFT on the FULL MusicGen model.

Wrapping only ``model.decoder`` for training and loading onto the full model at
generation time gives key prefixes that do not match, and PEFT only warns: every
"trained" adapter would then sound exactly like the base. The target regex below is a
full-path match on the MusicGen decoder, so it never touches the T5 text encoder.
"""

from __future__ import annotations

from typing import Any

TARGET_CHOICES = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")
DEFAULT_TARGETS = ("q_proj", "v_proj")


def target_regex(targets: tuple[str, ...] | list[str] = DEFAULT_TARGETS) -> str:
    """A PEFT ``target_modules`` regex for the MusicGen decoder's attention/FFN projections.

    Raises:
        ValueError: an unknown module name.
    """
    unknown = sorted(set(targets) - set(TARGET_CHOICES))
    if unknown or not targets:
        choices = ", ".join(TARGET_CHOICES)
        raise ValueError(f"unknown LoRA target module(s) {unknown or '(none)'}; choose from {choices}")
    attn = [t for t in targets if t.endswith("_proj")]
    ffn = [t for t in targets if t.startswith("fc")]
    parts = []
    if attn:
        parts.append(rf"(?:self_attn|encoder_attn)\.(?:{'|'.join(attn)})")
    if ffn:
        parts.append(rf"(?:{'|'.join(ffn)})")
    return rf"decoder\.model\.decoder\.layers\.\d+\.(?:{'|'.join(parts)})"


def lora_config(rank: int = 16, alpha: int = 32, dropout: float = 0.05,
                targets: tuple[str, ...] | list[str] = DEFAULT_TARGETS) -> Any:
    """A ``peft.LoraConfig`` for MusicGen with the shared target regex."""
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_regex(targets),
                      bias="none")
