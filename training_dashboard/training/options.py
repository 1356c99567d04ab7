"""Training options: defaults, validated ranges, and the merge of defaults < saved run
config (on resume) < ``--config FILE`` < command-line flags."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from training_dashboard.training.lora import DEFAULT_TARGETS, TARGET_CHOICES

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")

# name: (type, default, low, high, help). Ranges are inclusive unless noted in the help.
OPTIONS: dict[str, tuple[type, Any, float | None, float | None, str]] = {
    "epochs": (int, 3, 1, 1000, "passes over the training split"),
    "lr": (float, 1e-4, 1e-7, 1.0, "peak learning rate (linear warm-up, then linear decay)"),
    "batch_size": (int, 4, 1, 256, "clips (or preference pairs) per micro-batch"),
    "grad_accum": (int, 1, 1, 1024, "micro-batches per optimizer step"),
    "lora_rank": (int, 16, 1, 512, "LoRA rank r"),
    "lora_alpha": (int, 32, 1, 4096, "LoRA alpha (scale = alpha / r)"),
    "lora_dropout": (float, 0.05, 0.0, 0.9, "dropout on the LoRA input"),
    "beta": (float, 0.1, 1e-4, 10.0, "DPO temperature beta"),
    "max_clip_seconds": (float, 10.0, 0.1, 40.0, "clips are cut to this length (MusicGen's limit is ~40 s)"),
    "seed": (int, 0, 0, 2**32 - 1, "seed of the split, batch order and LoRA init"),
    "val_fraction": (float, 0.1, 0.0, 0.5, "held-out fraction for evaluation and early stopping (0 = none)"),
    "patience": (int, 3, 0, 1000, "evaluations without held-out improvement before stopping (0 = never)"),
    "eval_every": (int, 0, 0, 10**7, "also evaluate every N steps (0 = once per epoch)"),
    "checkpoint_every": (int, 50, 0, 10**7, "save a resumable checkpoint every N steps (0 = never)"),
    "keep_checkpoints": (int, 2, 1, 1000, "how many checkpoints to keep"),
    "max_steps": (int, 0, 0, 10**7, "stop after this optimizer step (0 = run all epochs)"),
    "cond_dropout": (float, 0.1, 0.0, 1.0, "SFT: share of examples trained without their prompt (keeps guidance)"),
}
LIST_OPTIONS = {"target_modules": list(DEFAULT_TARGETS)}
TRAINING_KEYS = set(OPTIONS) | set(LIST_OPTIONS)


class OptionError(ValueError):
    """An option is out of range or malformed."""


def defaults() -> dict[str, Any]:
    return {name: spec[1] for name, spec in OPTIONS.items()} | {k: list(v) for k, v in LIST_OPTIONS.items()}


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a ``--config`` JSON file (keys as the flags, with ``_`` or ``-``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise OptionError(f"--config {path}: file not found") from exc
    except (OSError, ValueError) as exc:
        raise OptionError(f"--config {path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise OptionError(f"--config {path}: must hold a JSON object of option names to values")
    return {key.replace("-", "_"): value for key, value in data.items()}


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """Coerce and range-check the training options; unknown keys are an error.

    Raises:
        OptionError: naming the flag, the allowed range and the bad value.
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        flag = "--" + key.replace("_", "-")
        if key in LIST_OPTIONS:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or not items:
                raise OptionError(f"{flag} must be a comma-separated list")
            items = [str(i).strip() for i in items if str(i).strip()]
            bad = sorted(set(items) - set(TARGET_CHOICES))
            if bad or not items:
                raise OptionError(f"{flag}: unknown module(s) {bad}; choose from {', '.join(TARGET_CHOICES)}")
            out[key] = items
            continue
        if key not in OPTIONS:
            raise OptionError(f"unknown option {key!r} (known: {', '.join(sorted(TRAINING_KEYS))})")
        kind, _, low, high, _ = OPTIONS[key]
        try:
            if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
                raise ValueError
            number = kind(value)
        except (TypeError, ValueError):
            raise OptionError(f"{flag} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None
        if number != number or (low is not None and number < low) or (high is not None and number > high):
            raise OptionError(f"{flag} must be between {low:g} and {high:g}, got {value!r}")
        out[key] = number
    return out


def merge(saved: dict[str, Any] | None, config_file: dict[str, Any] | None, cli: dict[str, Any]) -> dict[str, Any]:
    """defaults < saved run config < config file < CLI, validated."""
    merged = defaults()
    for layer in (saved or {}, config_file or {}, cli):
        merged.update(validate({k: v for k, v in layer.items() if k in TRAINING_KEYS}))
    return merged


def check_version(version: str) -> str:
    if not SEMVER.match(version):
        raise OptionError(f"--version must be semantic (e.g. 1.0.0), got {version!r}")
    return version
