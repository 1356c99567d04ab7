"""The workload itself: numpy-generated rows bulk-inserted through SQLAlchemy Core."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection

from bench import vocab
from bench.workload import META
from tests.factories import wav_bytes

BATCH = 10_000
CLIPS_PER_PROMPT = 5
CLIPS_PER_PLACEHOLDER = 1_000
N_ADAPTERS = 5
FULL = {"prompts": 20_000, "ratings": 1_000_000, "preferences": 200_000}
# Rating probabilities (1..5): skewed toward 3-4; adapters a little better than base.
BASE_P = np.array([0.06, 0.14, 0.32, 0.33, 0.15])
CLIP_S = 5.0


def listening_draws(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Listening data for ``n`` hearings of 5 s clips (a rating's clip; each clip of a preference):
    80 % heard whole, 15 % stopped after half or more, 5 % barely started (and decided fast);
    (heard_s, plays, seeks, decision_ms). A generator of its own, so the rest of the workload is
    the same as before listening data existed."""
    habit = rng.choice(3, size=n, p=[0.80, 0.15, 0.05])
    heard = np.where(habit == 0, CLIP_S, np.where(habit == 1, rng.uniform(0.5, 1.0, n) * CLIP_S,
                                                   rng.uniform(0.0, 0.5, n)))
    heard = np.round(heard, 3)
    plays = np.where(habit == 2, 1, rng.integers(1, 4, n))
    seeks = rng.poisson(0.3, n)
    decision = (heard * 1000 + rng.lognormal(7.5, 0.8, n)).astype(np.int64)  # + ~1.8 s to decide
    return heard, plays, seeks, decision


def rating_p(adapter: int) -> np.ndarray:
    p = BASE_P * np.array([1.0, 1.0, 1.0, 1 + 0.05 * adapter, 1 + 0.10 * adapter])
    return p / p.sum()


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def timestamps(start: datetime, seconds: np.ndarray) -> list[datetime]:
    """Aware datetimes ``start + seconds`` (microsecond precision)."""
    return [start + timedelta(microseconds=int(us)) for us in (seconds * 1e6).astype(np.int64).tolist()]


def write_meta(data_dir: Path, meta: dict[str, Any]) -> None:
    (data_dir / META).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))


def batches(rows: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def bulk(conn: Connection, table: Any, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    for batch in batches(rows):
        conn.execute(insert(table), batch)
        n += len(batch)
    return n


def seed_all(data_dir: Path, database_url: str | None, *, scale: float, seed: int, days: int, end_date,  # type: ignore[no-untyped-def]
             n_datasets: int, wav_ms: int, force: bool) -> dict[str, Any]:
    from training_dashboard.config import Settings
    from training_dashboard.db import Database
    from training_dashboard.db.migrate import upgrade
    from training_dashboard.db.models import Adapter, AudioSample, Listening, Preference, Prompt, Rating, RatingTag
    from training_dashboard.services.counters import rebuild_counters
    from training_dashboard.services.listening import clip_fraction

    settings = Settings(data_dir=data_dir, database_url=database_url, worker=False)
    settings.ensure_dirs()
    db = Database(settings.db_url)
    if force and not db.is_sqlite:
        _drop_all(db)
    upgrade(db)
    rng = np.random.default_rng(seed)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()

    n_prompts = max(10, round(FULL["prompts"] * scale))
    n_samples = n_prompts * CLIPS_PER_PROMPT
    n_ratings = max(100, round(FULL["ratings"] * scale))
    n_prefs = max(20, round(FULL["preferences"] * scale))
    window_start = day_start(end_date) - timedelta(days=days - 1)
    window_s = days * 86_400
    clips_start = window_start - timedelta(days=14)

    # --- clips: 60% base model, the rest spread over the adapters -------------------
    sample_adapter = np.where(rng.random(n_samples) < 0.6, 0, rng.integers(1, N_ADAPTERS + 1, n_samples))
    sample_prompt = np.arange(n_samples) // CLIPS_PER_PROMPT + 1
    # 90% of clips get rated, with lognormal popularity (a few clips collect many ratings).
    pool = rng.permutation(n_samples)[: max(1, int(n_samples * 0.9))]
    weights = rng.lognormal(0.0, 0.6, pool.size)
    rating_audio = rng.choice(pool, size=n_ratings, p=weights / weights.sum()) + 1
    rating_count = np.bincount(rating_audio, minlength=n_samples + 1)

    # --- ratings ---------------------------------------------------------------------
    r_adapter = sample_adapter[rating_audio - 1]
    r_value = np.zeros(n_ratings, dtype=np.int64)
    for a in range(N_ADAPTERS + 1):
        idx = np.nonzero(r_adapter == a)[0]
        r_value[idx] = rng.choice(5, size=idx.size, p=rating_p(a)) + 1
    has_criteria = rng.random(n_ratings) < 0.7
    crit = np.clip(r_value[:, None] + rng.integers(-1, 2, (n_ratings, 3)), 1, 5)
    r_time = np.sort(rng.random(n_ratings)) * window_s
    tag_p = 1.0 / np.arange(1, len(vocab.TAGS) + 1) ** 0.8
    tag_p /= tag_p.sum()
    has_tags = rng.random(n_ratings) < 0.3
    n_tags = rng.choice([1, 2, 3], size=n_ratings, p=[0.5, 0.35, 0.15])
    tag_draws = rng.choice(len(vocab.TAGS), size=(n_ratings, 3), p=tag_p)
    r_rater = rng.integers(0, len(vocab.RATERS), n_ratings)
    has_notes = rng.random(n_ratings) < 0.03
    heard, plays, seeks, decision = listening_draws(np.random.default_rng(seed + 2), n_ratings)
    heard_l, decisions = heard.tolist(), decision.tolist()

    # --- preferences -----------------------------------------------------------------
    p_prompt = rng.integers(0, n_prompts, n_prefs)
    slot_a = rng.integers(0, CLIPS_PER_PROMPT, n_prefs)
    slot_b = (slot_a + rng.integers(1, CLIPS_PER_PROMPT, n_prefs)) % CLIPS_PER_PROMPT
    p_chosen = p_prompt * CLIPS_PER_PROMPT + slot_a + 1
    p_rejected = p_prompt * CLIPS_PER_PROMPT + slot_b + 1
    p_tie = rng.random(n_prefs) < 0.03
    p_time = np.sort(rng.random(n_prefs)) * window_s
    p_rater = rng.integers(0, len(vocab.RATERS), n_prefs)
    p_heard, p_plays, p_seeks, p_decision = listening_draws(np.random.default_rng(seed + 3), 2 * n_prefs)
    p_heard_l = p_heard.reshape(n_prefs, 2).tolist()
    p_decisions = (p_decision.reshape(n_prefs, 2).sum(axis=1)).tolist()  # heard one, then the other
    p_reason = (np.random.default_rng(seed + 4).random(n_prefs) < 0.1).tolist()
    seconds["generate"] = time.perf_counter() - t0

    # --- placeholder audio -----------------------------------------------------------
    bench_audio = settings.audio_dir / "bench"
    bench_audio.mkdir(parents=True, exist_ok=True)
    n_placeholders = (n_samples + CLIPS_PER_PLACEHOLDER - 1) // CLIPS_PER_PLACEHOLDER
    for k in range(n_placeholders):
        (bench_audio / f"ph-{k:04d}.wav").write_bytes(wav_bytes(seconds=wav_ms / 1000, freq=220.0 + 5 * k))

    def sample_ad(a: int) -> int | None:
        return None if a == 0 else int(a)

    def adapter_rows() -> Iterator[dict[str, Any]]:
        for i in range(1, N_ADAPTERS + 1):
            yield {"id": i, "name": f"bench-lora-{i}", "version": "1.0.0", "description": f"bench adapter {i}",
                   "base_model": settings.base_model, "path": str(settings.default_adapter_root / f"bench-lora-{i}"),
                   "dataset_id": None, "manifest_sha256": None, "training_config": {"r": 8, "lora_alpha": 16},
                   "report": {}, "is_active": i < N_ADAPTERS, "created_at": clips_start, "updated_at": clips_start}

    def prompt_rows() -> Iterator[dict[str, Any]]:
        styles = rng.integers(0, len(vocab.STYLES), n_prompts).tolist()
        moods = rng.integers(0, len(vocab.MOODS), n_prompts).tolist()
        tempos = rng.integers(60, 181, n_prompts).tolist()
        instr = rng.integers(0, len(vocab.INSTRUMENTS), (n_prompts, 3)).tolist()
        times = timestamps(clips_start, np.arange(n_prompts) * (13 * 86_400 / n_prompts))
        for i in range(n_prompts):
            style, mood = vocab.STYLES[styles[i]], vocab.MOODS[moods[i]]
            names = sorted({vocab.INSTRUMENTS[j] for j in instr[i]})
            yield {"id": i + 1, "text": f"A {mood} {style} piece at {tempos[i]} BPM with {', '.join(names)} (#{i + 1})",
                   "style": style, "tempo": tempos[i], "instruments": names, "mood": mood, "created_at": times[i]}

    def sample_rows() -> Iterator[dict[str, Any]]:
        seeds = rng.integers(0, 2**32, n_samples).tolist()
        adapters = sample_adapter.tolist()
        prompts = sample_prompt.tolist()
        counts = rating_count.tolist()
        times = timestamps(clips_start, (sample_prompt - 1) * (13 * 86_400 / n_prompts) + 60.0
                           + (np.arange(n_samples) % CLIPS_PER_PROMPT))
        for i in range(n_samples):
            yield {"id": i + 1, "prompt_id": prompts[i], "job_id": None, "adapter_id": sample_ad(adapters[i]),
                   "seed": seeds[i], "duration": CLIP_S, "sample_rate": 32_000,
                   "file_path": f"audio/bench/ph-{i // CLIPS_PER_PLACEHOLDER:04d}.wav",
                   "params": {"seed": seeds[i], "duration": 5.0, "temperature": 1.0, "top_k": 250,
                              "top_p": 0.0, "guidance_scale": 3.0},
                   "rating_count": counts[i + 1], "created_at": times[i]}

    rating_tags: list[tuple[int, list[str]]] = []

    def rating_rows() -> Iterator[dict[str, Any]]:
        audio, value, adapters = rating_audio.tolist(), r_value.tolist(), r_adapter.tolist()
        crit_l, has_c, has_t, has_n = crit.tolist(), has_criteria.tolist(), has_tags.tolist(), has_notes.tolist()
        ntags, draws, raters = n_tags.tolist(), tag_draws.tolist(), r_rater.tolist()
        prompts = sample_prompt.tolist()
        times = timestamps(window_start, r_time)
        for i in range(n_ratings):
            tags: list[str] = []
            if has_t[i]:
                tags = sorted({vocab.TAGS[j] for j in draws[i][: ntags[i]]})
                rating_tags.append((i + 1, tags))
            c = crit_l[i] if has_c[i] else (None, None, None)
            yield {"id": i + 1, "audio_id": audio[i], "prompt_id": prompts[audio[i] - 1],
                   "adapter_id": sample_ad(adapters[i]), "rating": value[i], "musicality": c[0], "coherence": c[1],
                   "emotional_alignment": c[2], "tags": tags, "notes": f"bench note {i + 1}" if has_n[i] else None,
                   "rater": vocab.RATERS[raters[i]], "created_at": times[i], "decision_ms": decisions[i],
                   "heard_fraction": clip_fraction(heard_l[i], CLIP_S), "imported": False}

    def listening_rows() -> Iterator[dict[str, Any]]:
        audio, plays_l, seeks_l = rating_audio.tolist(), plays.tolist(), seeks.tolist()
        for i in range(n_ratings):
            yield {"kind": "rating", "judgement_id": i + 1, "audio_id": audio[i], "slot": None, "heard_s": heard_l[i],
                   "duration_s": CLIP_S, "plays": plays_l[i], "seeks": seeks_l[i]}
        plays_p, seeks_p = p_plays.tolist(), p_seeks.tolist()
        for i, clips in enumerate(zip(p_chosen.tolist(), p_rejected.tolist(), strict=True)):
            for side, audio_id in enumerate(clips):
                yield {"kind": "preference", "judgement_id": i + 1, "audio_id": audio_id, "slot": None,
                       "heard_s": p_heard_l[i][side], "duration_s": CLIP_S, "plays": plays_p[2 * i + side],
                       "seeks": seeks_p[2 * i + side]}

    def tag_rows() -> Iterator[dict[str, Any]]:
        for rating_id, tags in rating_tags:
            for tag in tags:
                yield {"tag": tag, "rating_id": rating_id}

    def preference_rows() -> Iterator[dict[str, Any]]:
        prompts, chosen, rejected = (p_prompt + 1).tolist(), p_chosen.tolist(), p_rejected.tolist()
        adapters, ties, raters = sample_adapter.tolist(), p_tie.tolist(), p_rater.tolist()
        times = timestamps(window_start, p_time)
        for i in range(n_prefs):
            yield {"id": i + 1, "prompt_id": prompts[i], "chosen_id": chosen[i], "rejected_id": rejected[i],
                   "chosen_adapter_id": sample_ad(adapters[chosen[i] - 1]),
                   "rejected_adapter_id": sample_ad(adapters[rejected[i] - 1]), "tie": ties[i],
                   "rater": vocab.RATERS[raters[i]], "created_at": times[i], "decision_ms": p_decisions[i],
                   "heard_fraction": min(clip_fraction(h, CLIP_S) for h in p_heard_l[i]),
                   "reason": f"bench reason {i + 1}" if p_reason[i] else None}

    counts: dict[str, int] = {}
    for name, table, rows in (
        ("adapters", Adapter.__table__, adapter_rows), ("prompts", Prompt.__table__, prompt_rows),
        ("audio_samples", AudioSample.__table__, sample_rows), ("ratings", Rating.__table__, rating_rows),
        ("rating_tags", RatingTag.__table__, tag_rows), ("preferences", Preference.__table__, preference_rows),
        ("listening", Listening.__table__, listening_rows),
    ):
        t = time.perf_counter()
        with db.engine.begin() as conn:
            if db.is_sqlite:
                conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB page cache while loading
            counts[name] = bulk(conn, table, rows())
        seconds[name] = time.perf_counter() - t
        print(f"  {name:<14} {counts[name]:>9,} rows  {seconds[name]:6.1f} s", flush=True)
    if not db.is_sqlite:
        _reset_sequences(db)

    t = time.perf_counter()
    with db.write_session() as session:
        rebuild_counters(session)
    seconds["counters"] = time.perf_counter() - t

    tag_freq = {tag: 0 for tag in vocab.TAGS}
    for _, tags in rating_tags:
        for tag in tags:
            tag_freq[tag] += 1
    meta: dict[str, Any] = {
        "scale": scale, "seed": seed, "days": days, "window_start": window_start.date().isoformat(),
        "window_end": end_date.isoformat(), "base_model": settings.base_model,
        "database": "sqlite" if db.is_sqlite else db.engine.dialect.name,
        "adapter_ids": list(range(1, N_ADAPTERS + 1)), "placeholder_wavs": n_placeholders, "wav_ms": wav_ms,
        "tags_by_frequency": sorted(tag_freq, key=lambda k: -tag_freq[k]), "counts": counts, "seconds": seconds,
    }
    write_meta(data_dir, meta)  # written before the datasets: a crash below still leaves usable data

    t = time.perf_counter()
    from bench.datasets import seed_datasets

    meta["dataset_ids"] = seed_datasets(db, n_datasets, meta, np.random.default_rng(seed + 1))
    counts["datasets"] = len(meta["dataset_ids"])
    seconds["datasets"] = time.perf_counter() - t
    print(f"  {'datasets':<14} {counts['datasets']:>9,} rows  {seconds['datasets']:6.1f} s", flush=True)
    # No ANALYZE for SQLite: the app keeps its planner statistics itself (db/planner.py), as
    # it does for a user's database that grew from empty. PostgreSQL's autovacuum vacuums and
    # analyzes a table after enough inserts; do now what it would have done by the time a
    # user opens the app (visibility map for index-only scans, planner statistics).
    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # Every rating above updated its prompt's prompt_stats row (a trigger) inside one load
            # transaction: a million dead row versions no vacuum could reclaim meanwhile (51 MB for
            # 20k rows). A database that grew rating by rating has autovacuum reuse that space as it
            # goes (~1 MB); compact the table to that state.
            conn.exec_driver_sql("VACUUM FULL prompt_stats")
            conn.exec_driver_sql("VACUUM ANALYZE")
    seconds["total"] = time.perf_counter() - t0
    write_meta(data_dir, meta)
    db.dispose()
    return meta


def _reset_sequences(db) -> None:  # type: ignore[no-untyped-def]
    with db.engine.begin() as conn:
        for table in ("adapter", "prompt", "audio_sample", "rating", "preference"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))


def _drop_all(db) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL --force: drop every table (and Alembic's version table) for a fresh start."""
    from sqlmodel import SQLModel

    import training_dashboard.db.models  # noqa: F401 - registers every table on the metadata

    with db.engine.begin() as conn:
        SQLModel.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
