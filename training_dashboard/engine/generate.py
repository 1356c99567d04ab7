"""Loading the base model for a worker and generating one job's clips: the model-level steps
the embedded worker and the Celery generation worker share.

Torch is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from training_dashboard.config import Settings

__all__ = ["generate_waves", "load_error", "load_runtime"]


def load_runtime(settings: Settings, max_adapters: int = 4) -> Any:
    """Load ``settings.base_model`` and wrap it in a :class:`~training_dashboard.engine.runtime.MusicGenRuntime`.

    Raises:
        Exception: whatever loading raised; :func:`load_error` words it for users.
    """
    from training_dashboard.engine.loader import load_base_model
    from training_dashboard.engine.runtime import MusicGenRuntime

    base = load_base_model(settings.base_model, settings.resolved_data_dir)
    return MusicGenRuntime(base, max_adapters=max_adapters)


def load_error(exc: Exception) -> str:
    """The message shown for a base model that failed to load."""
    from training_dashboard.engine.loader import ModelLoadError

    return str(exc) if isinstance(exc, ModelLoadError) else f"{type(exc).__name__}: {exc}"


def generate_waves(runtime: Any, base_model: str, prompt_text: str, prompt_attributes: dict[str, Any],
                   params: dict[str, Any], seeds: list[int], adapter_path: str | Path | None,
                   adapter_base_model: str | None, progress: Callable[[float], bool]) -> Any:
    """Generate one job's clips (one per seed) on ``runtime``: the one implementation both workers use.

    Args:
        runtime: the loaded MusicGenRuntime.
        base_model: the base model this worker runs (TD_BASE_MODEL).
        prompt_text, prompt_attributes: the prompt.
        params: the job's sampling parameters.
        seeds: one seed per clip.
        adapter_path, adapter_base_model: the LoRA adapter directory and the base model it was trained for
            (None: the bare base model).
        progress: called with the fraction done (0..0.95, about 20 times); returns False to cancel.

    Returns:
        float32 array (len(seeds), samples).

    Raises:
        AdapterError: the adapter cannot be used with this base model.
        Cancelled: ``progress`` returned False.
    """
    from training_dashboard.engine.prompting import conditioning_text
    from training_dashboard.engine.runtime import AdapterError, Cancelled, SamplingParams

    if adapter_path is not None:
        if adapter_base_model is not None and adapter_base_model != base_model:
            raise AdapterError(
                f"This adapter was trained for base model {adapter_base_model!r}, but this server runs "
                f"{base_model!r}")
        runtime.check_adapter(adapter_path)  # refuse before any decoding work
    sampling = SamplingParams.from_job(params)
    last = [0.0]

    def on_step(step: int, total: int) -> None:
        # ~20 progress writes per job; each also tells us whether to cancel.
        fraction = 0.95 * step / total  # the rest is decoding the audio and writing files
        if fraction - last[0] >= 0.05 or step == 1:
            last[0] = fraction
            if not progress(fraction):
                raise Cancelled()

    with runtime.using(adapter_path):
        return runtime.generate(conditioning_text(prompt_text, prompt_attributes), seeds, sampling, on_step=on_step)
