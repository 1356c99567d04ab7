"""Writing generated clips as 16-bit WAV files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

PEAK = 10 ** (-1 / 20)  # -1 dBFS: loud enough to hear, headroom against 16-bit clipping


def write_wav(path: Path, wave: np.ndarray, sample_rate: int) -> None:
    """Peak-normalise ``wave`` to -1 dBFS and write it as 16-bit PCM, atomically.

    Each clip is normalised on its own (MusicGen's raw output level varies, and the tiny
    model's is near silent); the result is deterministic, so a seed still reproduces
    the same file.
    """
    import soundfile as sf

    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    scaled = wave * (PEAK / peak) if peak > 1e-9 else wave
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    sf.write(str(tmp), np.clip(scaled, -1.0, 1.0).astype(np.float32), sample_rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)
