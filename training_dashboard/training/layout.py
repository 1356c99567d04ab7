"""What a training run directory holds and how many steps a run plans, without importing torch.

The trainer writes a run directory; the app (services), the embedded worker and the Celery
workers read it (newest checkpoint, metrics to keep on a resume) through these helpers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training_dashboard.schemas import parse_int

STATE_FILE = "trainer_state.pt"  # in each checkpoint dir: optimizer, scheduler, run state, RNG


def _checkpoints(run_dir: Path) -> dict[int, Path]:
    """Complete checkpoints of ``run_dir`` (those with a state file) by step."""
    found = {(parse_int(p.name[5:], 0, 10**18), p) for p in (run_dir / "checkpoints").glob("step-*")}
    return {step: p for step, p in found if step is not None and (p / STATE_FILE).is_file()}


def latest_checkpoint_step(run_dir: Path) -> int | None:
    """The step of the newest complete checkpoint (the one ``--resume RUN_DIR`` picks)."""
    steps = _checkpoints(run_dir)
    return max(steps) if steps else None


def latest_checkpoint(path: Path) -> Path:
    """``path`` itself if it is a checkpoint, else the newest checkpoint of a run dir."""
    if (path / STATE_FILE).is_file():
        return path
    found = _checkpoints(path)
    if not found:
        raise ValueError(f"{path} is neither a checkpoint nor a run directory with checkpoints")
    return found[max(found)]


def planned_steps(sample_count: int, config: dict[str, Any]) -> int:
    """The optimizer steps the trainer will take (its split and batching, before early stopping)."""
    held_out = int(round(sample_count * config["eval_fraction"])) if sample_count >= 4 else 0
    micro = -(-(sample_count - held_out) // config["batch_size"])
    total = config["epochs"] * -(-micro // config["grad_accum"])
    return min(total, config["max_steps"]) if config["max_steps"] else total


def trim_metrics_file(path: Path, last_step: int) -> None:
    """Drop lines logged after the checkpoint a resume starts from (the trainer does the same)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line)["step"] <= last_step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
