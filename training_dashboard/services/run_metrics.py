"""A run's metrics and log: stored as they arrive, read back downsampled or from an offset.

Metrics live in blocks of :data:`CHUNK` consecutive steps (see ``TrainingRunMetric``): the
writer merges new steps into the open block, a reader turns ~40 blobs into one numpy array
and keeps, per bucket, the lowest and the highest point of each series, so a spike or a dip
never disappears from a downsampled curve.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import TrainingRun, TrainingRunMetric, utcnow
from training_dashboard.services.errors import NotFound

CHUNK = 512
COLUMNS = ("step", "loss", "eval_loss", "learning_rate", "grad_norm", "reward_margin", "reward_accuracy", "time")
RECORD_KEYS = {"lr": "learning_rate"}  # metrics.jsonl spelling -> series name
WIDTH = len(COLUMNS)
TERMINAL = ("completed", "failed", "cancelled")


def _as_array(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float64).reshape(-1, WIDTH)


def records_array(records: list[dict[str, Any]]) -> np.ndarray:
    """metrics.jsonl records -> rows of :data:`COLUMNS` (NaN where a record has no value)."""
    out = np.full((len(records), WIDTH), np.nan)
    for i, record in enumerate(records):
        for key, value in record.items():
            name = RECORD_KEYS.get(key, key)
            if name in COLUMNS and isinstance(value, (int, float)) and not isinstance(value, bool):
                out[i, COLUMNS.index(name)] = float(value)
    return out[~np.isnan(out[:, 0])]


def _merge(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Upsert ``new`` rows into ``old`` by step; a value present in ``new`` wins, NaN keeps the old."""
    rows = {int(r[0]): r.copy() for r in old}
    for r in new:
        step = int(r[0])
        rows[step] = np.where(np.isnan(r), rows[step], r) if step in rows else r.copy()
    return np.array([rows[s] for s in sorted(rows)], dtype=np.float64).reshape(-1, WIDTH)


def store_metrics(session: Session, run: TrainingRun, records: list[dict[str, Any]]) -> None:
    """Merge ``records`` into the run's blocks and update its step, progress, best held-out loss and ETA
    (inside the caller's write transaction)."""
    new = records_array(records)
    if not len(new):
        return
    latest: np.ndarray | None = None
    for chunk in sorted({int(s) // CHUNK for s in new[:, 0]}):
        part = new[(new[:, 0] // CHUNK).astype(int) == chunk]
        row = session.get(TrainingRunMetric, (run.id, chunk))
        merged = _merge(_as_array(row.data) if row else np.empty((0, WIDTH)), part)
        if row is None:
            row = TrainingRunMetric(run_id=run.id or 0, chunk=chunk, last_step=0, data=b"")
            session.add(row)
        row.data, row.last_step = merged.tobytes(), int(merged[-1, 0])
        latest = merged
    trained = new[~np.isnan(new[:, 1]), 0]
    if len(trained):
        run.step = max(run.step, int(trained.max()))
    evals = new[~np.isnan(new[:, 2]), 2]
    if len(evals) and np.isfinite(evals).any():
        best = float(np.nanmin(evals[np.isfinite(evals)]))
        run.best_eval_loss = best if run.best_eval_loss is None else min(run.best_eval_loss, best)
    if run.total_steps:
        run.progress = min(0.99, run.step / run.total_steps)
        run.eta_seconds = _eta(latest, run.total_steps - run.step) if latest is not None else None
    run.updated_at = run.heartbeat_at = utcnow()


def _eta(block: np.ndarray, remaining: int) -> float | None:
    timed = block[~np.isnan(block[:, 1]) & ~np.isnan(block[:, 7])][-21:]
    if len(timed) < 2 or timed[-1, 0] <= timed[0, 0]:
        return None
    per_step = (timed[-1, 7] - timed[0, 7]) / (timed[-1, 0] - timed[0, 0])
    return round(max(0.0, per_step * remaining), 1)


def trim_metrics(session: Session, run: TrainingRun, last_step: int) -> None:
    """Forget what a crashed attempt logged after ``last_step`` (the checkpoint a resume starts from)."""
    keep = last_step // CHUNK
    session.execute(delete(TrainingRunMetric).where(TrainingRunMetric.run_id == run.id,
                                                    TrainingRunMetric.chunk > keep))
    row = session.get(TrainingRunMetric, (run.id, keep))
    if row is not None:
        data = _as_array(row.data)
        data = data[data[:, 0] <= last_step]
        if len(data):
            row.data, row.last_step = data.tobytes(), int(data[-1, 0])
        else:
            session.delete(row)
    all_rows = _read(session, run.id or 0, 0)
    evals = all_rows[np.isfinite(all_rows[:, 2]), 2]
    run.best_eval_loss = float(evals.min()) if len(evals) else None
    run.step = max(0, last_step)
    run.progress = min(0.99, run.step / run.total_steps) if run.total_steps else 0.0


def _read(session: Session, run_id: int, since_step: int) -> np.ndarray:
    blobs = [row[0] for row in session.connection().execute(_BLOBS, {"run_id": run_id, "chunk": since_step // CHUNK})]
    if not blobs:
        return np.empty((0, WIDTH))
    data = np.concatenate([_as_array(b) for b in blobs])
    return data[data[:, 0] >= since_step]


_BLOBS = (select(TrainingRunMetric.data)
          .where(TrainingRunMetric.run_id == bindparam("run_id"), TrainingRunMetric.chunk >= bindparam("chunk"))
          .order_by(TrainingRunMetric.chunk))


def downsample(steps: np.ndarray, values: np.ndarray, max_points: int) -> list[tuple[int, float]]:
    """At most ``max_points`` points: the first and last, and each bucket's lowest and highest value."""
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    n = len(values)
    if n > max_points:
        buckets = max(1, (max_points - 2) // 2)
        size = -(-n // buckets)  # equal buckets, the last one padded: one reshape, no sort
        padded = np.full(buckets * size, np.inf)
        padded[:n] = values
        lows = np.argmin(padded.reshape(buckets, size), axis=1)
        padded[n:] = -np.inf
        highs = np.argmax(padded.reshape(buckets, size), axis=1)
        base = np.arange(buckets) * size
        keep = np.unique(np.r_[base + lows, base + highs, 0, n - 1])
        keep = keep[keep < n]
        steps, values = steps[keep], values[keep]
    return list(zip(steps.astype(np.int64).tolist(), values.tolist(), strict=True))


def read_metrics(db: Database, run_id: int, since_step: int, max_points: int) -> schemas.RunMetrics:
    """Every series from ``since_step`` on (inclusive), each downsampled to ``max_points``."""
    with db.session() as session:
        task = session.scalar(select(TrainingRun.task).where(TrainingRun.id == run_id))
        if task is None:
            raise NotFound(f"Run {run_id} not found")
        data = _read(session, run_id, since_step)
    names = schemas.RUN_SERIES if task == "dpo" else schemas.RUN_SERIES[:4]
    series = {name: downsample(data[:, 0], data[:, COLUMNS.index(name)], max_points) for name in names}
    last = int(data[-1, 0]) if len(data) else 0
    # Built from plain ints and floats made here: no need to validate thousands of points again.
    return schemas.RunMetrics.model_construct(run_id=run_id, last_step=last, points=len(data), series=series)


def log_path(data_dir: Path, run_id: int) -> Path:
    return data_dir / "runs" / f"run-{run_id}.log"


def read_log(db: Database, data_dir: Path, run_id: int, offset: int, limit: int,
             tail: int | None = None) -> schemas.RunLogs:
    """``limit`` bytes of the log from ``offset`` (or its last ``tail`` bytes, from a line start)."""
    with db.session() as session:
        status = session.scalar(select(TrainingRun.status).where(TrainingRun.id == run_id))
    if status is None:
        raise NotFound(f"Run {run_id} not found")
    path = log_path(data_dir, run_id)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    if tail is not None:
        offset = max(0, size - tail)
    offset = min(offset, size)
    data = b""
    if size > offset:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read(limit)
        if tail is not None and offset > 0 and b"\n" in data:
            cut = data.index(b"\n") + 1
            data, offset = data[cut:], offset + cut
        if offset + len(data) < size and b"\n" in data:  # never split a line (or a UTF-8 character)
            data = data[: data.rindex(b"\n") + 1]
    next_offset = offset + len(data)
    return schemas.RunLogs(text=data.decode("utf-8", errors="replace"), next_offset=next_offset,
                           complete=status in TERMINAL and next_offset >= size)


def append_log(data_dir: Path, run_id: int, text: str) -> None:
    """Add lines to a run's log (the worker's own notes; the child's output is streamed the same way)."""
    path = log_path(data_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")


def last_lines(data_dir: Path, run_id: int, count: int = 20) -> str:
    path = log_path(data_dir, run_id)
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 8192))
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(lines[-count:])


def finite_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
