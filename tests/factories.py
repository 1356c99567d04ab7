"""Small factories that seed real rows through the services (no mocks)."""

from __future__ import annotations

import io
import threading
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.services import jobs


def wav_bytes(seconds: float = 0.5, rate: int = 32000, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def make_clips(db: Database, settings: Settings, prompt_id: int, n: int = 2, adapter_id: int | None = None,
               seed: int = 1) -> list[int]:
    """Run a job through the queue the way the worker does, with real WAV files on disk."""
    job = jobs.enqueue_job(db, prompt_id, None, n, {"seed": seed, "duration": 0.5}, settings.base_model)
    claimed = jobs.claim_next_job(db)
    assert claimed is not None and claimed.id == job.id
    samples = []
    for i in range(n):
        rel = Path("audio") / f"factory-{job.id}-{i}.wav"
        (settings.resolved_data_dir / rel).write_bytes(wav_bytes(freq=220.0 * (i + 1)))
        samples.append(jobs.GeneratedSample(seed=seed + i, duration=0.5, sample_rate=32000, file_path=str(rel)))
    ids = jobs.complete_job(db, job.id or 0, samples)
    if adapter_id is not None:  # clips "from" an adapter without running a model
        from sqlalchemy import update

        from training_dashboard.db.models import AudioSample

        with db.write_session() as session:
            session.execute(update(AudioSample).where(AudioSample.id.in_(ids)).values(adapter_id=adapter_id))
    return ids


def make_lora_dir(root: Path, name: str, base_model: str = "tiny", zero_b: bool = False) -> Path:
    """A PEFT LoRA directory in the on-disk format save_pretrained writes (config + safetensors)."""
    import json

    from safetensors.numpy import save_file

    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": 4, "lora_alpha": 8, "base_model_name_or_path": base_model,
        "target_modules": ["q_proj", "v_proj"], "task_type": None,
    }))
    rng = np.random.default_rng(0)
    b = np.zeros((64, 4), np.float32) if zero_b else rng.normal(size=(64, 4)).astype(np.float32)
    save_file({
        "base_model.model.decoder.model.decoder.layers.0.self_attn.q_proj.lora_A.weight":
            rng.normal(size=(4, 64)).astype(np.float32),
        "base_model.model.decoder.model.decoder.layers.0.self_attn.q_proj.lora_B.weight": b,
    }, str(path / "adapter_model.safetensors"))
    return path


def run_concurrently(target: Callable[[int], None], n: int, timeout: float = 120.0) -> list[BaseException]:
    """Run ``target(0) … target(n-1)`` in ``n`` threads at once; the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:  # noqa: BLE001 - returned to the test, which asserts on it
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors
