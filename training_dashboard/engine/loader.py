"""Loading the base MusicGen model: ``tiny``, a local directory or a Hugging Face id.

Hub look-ups never hang: a Hugging Face id is first tried from the local cache only, and
with ``HF_HUB_OFFLINE=1`` that is the only attempt.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_OFFLINE_VALUES = {"1", "true", "yes", "on"}


class ModelLoadError(RuntimeError):
    """The base model cannot be loaded; the message says what to do about it."""


@dataclass
class BaseModel:
    """A loaded base model and what goes with it."""

    name: str  # the canonical id: the TD_BASE_MODEL string exactly
    model: Any  # MusicgenForConditionalGeneration, in eval mode on ``device``
    processor: Any  # MusicgenProcessor
    device: str

    @property
    def sample_rate(self) -> int:
        return int(self.model.config.audio_encoder.sampling_rate)

    @property
    def frame_rate(self) -> float:
        return float(self.model.config.audio_encoder.frame_rate)

    @property
    def num_codebooks(self) -> int:
        return int(self.model.decoder.num_codebooks)

    @property
    def pad_token_id(self) -> int:
        return int(self.model.generation_config.pad_token_id)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _OFFLINE_VALUES


def configure_torch() -> str:
    """Set torch's thread count explicitly and pick the device (CUDA when available).

    ``TD_TORCH_THREADS`` overrides the thread count (default: all CPU cores); shared
    machines otherwise see large slow-downs from oversubscription.
    """
    import torch

    threads = int(os.environ.get("TD_TORCH_THREADS") or os.cpu_count() or 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(max(1, threads))
    return "cuda" if torch.cuda.is_available() else "cpu"


def what_to_do(name: str) -> str:
    return (
        f"Download it once on a machine with internet (`hf download {name}`) and copy the Hugging Face "
        f"cache here, or point TD_BASE_MODEL at a local copy of the model directory, "
        f"or set TD_BASE_MODEL=tiny for an offline demo."
    )


def resolve_source(name: str, data_dir: Path) -> tuple[str, bool]:
    """Map a TD_BASE_MODEL value to ``(path or hub id, is_local)``.

    Raises:
        ModelLoadError: a local path that does not exist or is not a model directory.
    """
    if name == "tiny":
        from training_dashboard.engine.tiny import ensure_tiny_model

        return str(ensure_tiny_model(data_dir)), True
    path = Path(name).expanduser()
    looks_like_path = name.startswith((".", "/", "~")) or path.is_absolute() or name.count("/") > 1
    if path.exists() or looks_like_path:
        if not path.is_dir():
            raise ModelLoadError(f"TD_BASE_MODEL={name!r}: no such directory. {what_to_do(name)}")
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"TD_BASE_MODEL={name!r} is a directory without config.json, not a saved MusicGen model. "
                f"{what_to_do(name)}"
            )
        return str(path.resolve()), True
    return name, False


def load_base_model(name: str, data_dir: Path, device: str | None = None) -> BaseModel:
    """Load the MusicGen model and processor named by ``name`` (TD_BASE_MODEL).

    Args:
        name: ``tiny``, a local directory or a Hugging Face id.
        data_dir: the data dir (the tiny model is built and cached under it).
        device: force a device; default CUDA when available, else CPU.

    Raises:
        ModelLoadError: with an actionable message when the model is unavailable.
    """
    import transformers
    from transformers import MusicgenForConditionalGeneration, MusicgenProcessor

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    device = device or configure_torch()
    source, local = resolve_source(name, Path(data_dir))

    def load(local_only: bool) -> tuple[Any, Any]:
        model = MusicgenForConditionalGeneration.from_pretrained(source, local_files_only=local_only)
        processor = MusicgenProcessor.from_pretrained(source, local_files_only=local_only)
        return model, processor

    try:
        model, processor = load(local_only=True)
    except Exception as exc:  # noqa: BLE001 - every loader failure becomes one readable message
        if local or hub_offline():
            where = "the local directory" if local else "the local Hugging Face cache (HF_HUB_OFFLINE is set)"
            raise ModelLoadError(
                f"Base model {name!r} could not be loaded from {where}: {_short(exc)}. {what_to_do(name)}"
            ) from exc
        log.info("base model %s not cached; trying the Hugging Face Hub", name)
        # Short network timeouts: an unreachable Hub fails within seconds instead of minutes.
        os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
        os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
        try:
            model, processor = load(local_only=False)
        except Exception as exc2:  # noqa: BLE001
            raise ModelLoadError(
                f"Base model {name!r} is not cached and could not be downloaded: {_short(exc2)}. {what_to_do(name)}"
            ) from exc2
    if model.config.decoder.to_dict().get("decoder_start_token_id") is None:
        # Not a declared field in transformers 5.x; forward(labels=) needs it.
        model.config.decoder.decoder_start_token_id = model.generation_config.decoder_start_token_id
    model.to(device).eval()
    return BaseModel(name=name, model=model, processor=processor, device=device)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
