"""Checks on a PEFT LoRA adapter directory without importing torch.

The API calls :func:`verify_adapter_dir` at registration, so it reads the safetensors
file with its JSON header and numpy only.
"""

from __future__ import annotations

import json
import mmap
import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
# Mask of everything but the sign bit: -0.0 counts as zero too.
_MAGNITUDE = {
    "F64": (np.uint64, 0x7FFF_FFFF_FFFF_FFFF),
    "F32": (np.uint32, 0x7FFF_FFFF),
    "F16": (np.uint16, 0x7FFF),
    "BF16": (np.uint16, 0x7FFF),
}


def read_adapter_config(path: str | Path) -> dict[str, Any]:
    """Parse ``adapter_config.json`` of an adapter directory.

    Raises:
        ValueError: the directory or the config is missing or unreadable.
    """
    directory = Path(path)
    config_path = directory / CONFIG_FILE
    try:
        if not _exists_as(directory, stat.S_ISDIR):
            raise ValueError(f"Adapter directory not found: {directory}")
        if not _exists_as(config_path, stat.S_ISREG):
            raise ValueError(f"{directory} is not a PEFT adapter: {CONFIG_FILE} is missing")
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(_unreadable(directory, exc)) from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{config_path} is not valid JSON: {exc}") from exc
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{config_path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ValueError(f"{config_path} must hold a JSON object")
    return config


def adapter_base_model(path: str | Path) -> str | None:
    """The base model an adapter was trained for (``base_model_name_or_path``), if recorded."""
    value = read_adapter_config(path).get("base_model_name_or_path")
    return str(value) if value else None


def verify_adapter_dir(path: str | Path) -> None:
    """Check that a directory holds a usable, trained PEFT LoRA adapter.

    Args:
        path: the adapter directory (as written by ``save_pretrained``).

    Raises:
        ValueError: with a readable message when the config or weights are missing or
            corrupt, the adapter is not LoRA, or every LoRA-B matrix is zero (a no-op
            adapter that would generate exactly the base model's audio).
    """
    config = read_adapter_config(path)
    if str(config.get("peft_type", "")).upper() != "LORA":
        raise ValueError(f"Only LoRA adapters are supported; {path} has peft_type={config.get('peft_type')!r}")
    rank = config.get("r")
    if not isinstance(rank, int) or rank < 1:
        raise ValueError(f"{CONFIG_FILE} in {path} has an invalid LoRA rank r={rank!r}")
    weights = Path(path) / WEIGHTS_FILE
    try:
        if not _exists_as(weights, stat.S_ISREG):
            hint = " (adapter_model.bin is not supported: re-save with safe_serialization)" if _exists_as(
                Path(path) / "adapter_model.bin", stat.S_ISREG) else ""
            raise ValueError(f"{path} has no {WEIGHTS_FILE}{hint}")
    except OSError as exc:
        raise ValueError(_unreadable(Path(path), exc)) from exc
    header, data = _read_safetensors(weights)
    lora_a = [k for k in header if ".lora_A." in k]
    lora_b = [k for k in header if ".lora_B." in k]
    if not lora_a or not lora_b:
        raise ValueError(f"{weights} holds no LoRA weights (no lora_A / lora_B tensors)")
    if all(_is_zero(header[k], data, weights) for k in lora_b):
        raise ValueError(
            f"Adapter at {path} is a no-op: all {len(lora_b)} LoRA-B matrices are zero, so it would generate "
            f"exactly the base model's audio. Was it saved before training?"
        )


def _exists_as(path: Path, kind: Callable[[int], bool]) -> bool:
    """Like ``Path.is_file``/``is_dir``, except that a reason the path cannot be reached (a loop
    of symlinks, no permission, a name too long) raises instead of reading as "missing"."""
    try:
        return kind(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def _unreadable(directory: Path, exc: OSError) -> str:
    name = f" ({Path(exc.filename).name})" if exc.filename and Path(exc.filename) != directory else ""
    return f"Adapter directory {directory} cannot be read{name}: {exc.strerror or exc}"


def _read_safetensors(path: Path) -> tuple[dict[str, dict[str, Any]], memoryview]:
    try:
        with path.open("rb") as fh:
            size = path.stat().st_size
            if size < 8:
                raise ValueError("file too short")
            (header_len,) = struct.unpack("<Q", fh.read(8))
            if header_len <= 0 or 8 + header_len > size:
                raise ValueError("bad header length")
            header = json.loads(fh.read(header_len))
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a readable safetensors file: {exc}") from exc
    header.pop("__metadata__", None)
    return header, memoryview(mapped)[8 + header_len:]


def _is_zero(info: dict[str, Any], data: memoryview, path: Path) -> bool:
    try:
        start, end = info["data_offsets"]
        raw = data[start:end]
        if end > len(data) or start > end:
            raise ValueError("offsets out of range")
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is corrupt (tensor offsets): {exc}") from exc
    dtype, mask = _MAGNITUDE.get(str(info.get("dtype")), (np.uint8, 0xFF))
    words = np.frombuffer(raw, dtype=dtype) if len(raw) % np.dtype(dtype).itemsize == 0 else np.frombuffer(
        raw, dtype=np.uint8)
    return not np.any(words & dtype(mask))
