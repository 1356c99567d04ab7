"""GET /api/leaderboard at 200,000 preference pairs (issue 12: <= 200 ms).

Examples::

    python -m bench.leaderboard_bench                      # 200k pairs into a temp dir, measured, deleted
    python -m bench.leaderboard_bench --pairs 20000 --requests 20
    python -m bench.leaderboard_bench --data-dir bench/data  # a workload seeded by bench.seed (kept)

Without ``--data-dir`` it writes a fresh SQLite data dir under the system temp dir: 5
registered adapters with known Bradley–Terry strengths plus one deleted adapter that still
has games, 4,000 prompts with 5 clips each (60 % base model), and ``--pairs`` preference
pairs between clips of the same prompt (3 % ties, winners drawn from the true strengths).
It then starts the real API (``python -m training_dashboard.api --no-worker``) on 127.0.0.1
and times:

- warm: the same request again and again (the fit is cached on the win counts, so this is
  the GROUP BY plus serialisation);
- cold: one new preference pair inserted before every request, so every answer refits the
  model and redraws the bootstrap (the figure the 200 ms target is about);
- in-process: the aggregation query and the fit alone.

It prints p50 / p95 / max wall time and the server's CPU time per request (the figure to
compare on a shared machine), the ranking next to the true order, and the query plan.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.load import auth_headers

TARGET_MS = 200.0
TRUE_STRENGTH = {None: 0.0, 1: 0.45, 2: -0.3, 3: 0.2, 4: 0.8, 5: -0.6, 6: 0.1}  # 6 is deleted
CLIPS_PER_PROMPT = 5
BATCH = 10_000


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.leaderboard_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=None, help="an existing seeded data dir (default: a temp one)")
    p.add_argument("--pairs", type=int, default=200_000, help="preference pairs to generate (default %(default)s)")
    p.add_argument("--requests", type=int, default=50, help="timed warm requests (default %(default)s)")
    p.add_argument("--cold", type=int, default=30, help="timed requests after a new pair each (default %(default)s)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true", help="keep the generated temp data dir")
    return p


def generate(data_dir: Path, pairs: int, seed: int) -> dict[str, Any]:
    """Fill ``data_dir`` with adapters, prompts, clips and ``pairs`` preference pairs."""
    from sqlalchemy import insert

    from training_dashboard.config import Settings
    from training_dashboard.db import Database
    from training_dashboard.db.migrate import upgrade
    from training_dashboard.db.models import Adapter, AudioSample, Preference, Prompt

    settings = Settings(data_dir=data_dir, worker=False)
    settings.ensure_dirs()
    db = Database(settings.db_url)
    upgrade(db)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    now = datetime.now(UTC) - timedelta(days=1)
    n_prompts = max(10, min(4_000, pairs // 10))
    n_clips = n_prompts * CLIPS_PER_PROMPT
    models = list(TRUE_STRENGTH)
    clip_model = np.where(rng.random(n_clips) < 0.6, 0, rng.integers(1, len(models), n_clips))
    strength = np.array([TRUE_STRENGTH[m] for m in models])

    prompt_of = rng.integers(0, n_prompts, pairs)
    a = rng.integers(0, CLIPS_PER_PROMPT, pairs)
    b = (a + rng.integers(1, CLIPS_PER_PROMPT, pairs)) % CLIPS_PER_PROMPT
    clip_a, clip_b = prompt_of * CLIPS_PER_PROMPT + a, prompt_of * CLIPS_PER_PROMPT + b
    p_a = 1 / (1 + np.exp(strength[clip_model[clip_b]] - strength[clip_model[clip_a]]))
    a_wins = rng.random(pairs) < p_a
    chosen, rejected = np.where(a_wins, clip_a, clip_b), np.where(a_wins, clip_b, clip_a)
    tie = rng.random(pairs) < 0.03

    def adapter_of(clip: int) -> int | None:
        return models[int(clip_model[clip])]

    adapters = [{"id": i, "name": f"bench-lora-{i}", "version": "1.0.0", "base_model": settings.base_model,
                 "path": str(settings.default_adapter_root / f"bench-lora-{i}"), "training_config": {}, "report": {},
                 "is_active": True, "created_at": now, "updated_at": now} for i in range(1, 7)]
    prompts = [{"id": i + 1, "text": f"bench prompt {i + 1}", "instruments": [], "created_at": now}
               for i in range(n_prompts)]
    clips = [{"id": i + 1, "prompt_id": i // CLIPS_PER_PROMPT + 1, "adapter_id": adapter_of(i), "seed": i,
              "duration": 5.0, "sample_rate": 32_000, "file_path": "audio/none.wav", "params": {},
              "created_at": now} for i in range(n_clips)]
    with db.engine.begin() as conn:
        conn.execute(insert(Adapter.__table__), adapters)
        for start in range(0, n_prompts, BATCH):
            conn.execute(insert(Prompt.__table__), prompts[start:start + BATCH])
        for start in range(0, n_clips, BATCH):
            conn.execute(insert(AudioSample.__table__), clips[start:start + BATCH])
        for start in range(0, pairs, BATCH):
            conn.execute(insert(Preference.__table__), [
                {"id": i + 1, "prompt_id": int(prompt_of[i]) + 1, "chosen_id": int(chosen[i]) + 1,
                 "rejected_id": int(rejected[i]) + 1, "chosen_adapter_id": adapter_of(chosen[i]),
                 "rejected_adapter_id": adapter_of(rejected[i]), "tie": bool(tie[i]), "created_at": now}
                for i in range(start, min(pairs, start + BATCH))])
        conn.exec_driver_sql("DELETE FROM adapter WHERE id = 6")  # deleted: its games stay
    db.dispose()
    return {"pairs": pairs, "prompts": n_prompts, "clips": n_clips, "seconds": round(time.perf_counter() - t0, 1)}


def in_process(data_dir: Path, rounds: int = 5) -> dict[str, float]:
    """The aggregation query and the (uncached) fit alone, best of ``rounds``, in ms."""
    from sqlalchemy import func, select

    from training_dashboard.config import Settings
    from training_dashboard.db import Database
    from training_dashboard.db.models import Preference
    from training_dashboard.services import leaderboard, stats

    db = Database(Settings(data_dir=data_dir, worker=False).db_url)
    query = (select(Preference.chosen_adapter_id, Preference.rejected_adapter_id, Preference.tie, func.count())
             .group_by(Preference.chosen_adapter_id, Preference.rejected_adapter_id, Preference.tie))
    q_ms, fit_ms, total_ms = [], [], []
    for _ in range(rounds):
        with db.session() as session:
            t = time.perf_counter()
            session.execute(query).all()
            q_ms.append((time.perf_counter() - t) * 1000)
        stats._bradley_terry_cached.cache_clear()
        t = time.perf_counter()
        board = leaderboard.read_leaderboard(db, include_deleted=True)
        total_ms.append((time.perf_counter() - t) * 1000)
    matrix = np.random.default_rng(0).integers(100, 10_000, size=(len(board.items), len(board.items)))
    for _ in range(rounds):
        stats._bradley_terry_cached.cache_clear()
        t = time.perf_counter()
        stats.bradley_terry(matrix)
        fit_ms.append((time.perf_counter() - t) * 1000)
    with db.engine.connect() as conn:
        compiled = query.compile(db.engine)
        plan = [" ".join(str(c) for c in row) for row in conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}")] if db.is_sqlite else []
    db.dispose()
    return {"query_ms": min(q_ms), "fit_ms": min(fit_ms), "service_cold_ms": min(total_ms), "models": len(board.items),
            "plan": plan}


def add_pair(db, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    """One more non-tie pair between two clips of different models: the win counts change."""
    from sqlalchemy import select

    from training_dashboard.db.models import AudioSample, Preference

    with db.write_session() as session:
        for _ in range(50):
            pid = int(rng.integers(1, 1000))
            clips = session.execute(select(AudioSample.id, AudioSample.adapter_id)
                                    .where(AudioSample.prompt_id == pid)).all()
            pair = [(x, y) for x in clips for y in clips if x.adapter_id != y.adapter_id]
            if pair:
                x, y = pair[int(rng.integers(0, len(pair)))]
                session.add(Preference(prompt_id=pid, chosen_id=x.id, rejected_id=y.id, chosen_adapter_id=x.adapter_id,
                                       rejected_adapter_id=y.adapter_id))
                return
    raise RuntimeError("no prompt with clips of two models found")


def timed(client: httpx.Client, server, n: int, before=None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    wall, cpu = [], []
    for _ in range(n):
        if before:
            before()
        c0, t0 = server.cpu_seconds(), time.perf_counter()
        r = client.get("/api/leaderboard")
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((server.cpu_seconds() - c0) * 1000)
        r.raise_for_status()
    ordered = sorted(wall)
    return {"n": n, "p50_ms": statistics.median(wall), "p95_ms": ordered[min(n - 1, int(0.95 * n))],
            "max_ms": max(wall), "cpu_p50_ms": statistics.median(cpu)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.server import Server
    from training_dashboard.config import Settings
    from training_dashboard.db import Database

    temp = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="td-leaderboard-")) if temp else args.data_dir.expanduser().resolve()
    try:
        if temp:
            print(f"generating {args.pairs:,} pairs in {data_dir} ...", flush=True)
            print(json.dumps(generate(data_dir, args.pairs, args.seed)), flush=True)
        parts = in_process(data_dir)
        server = Server(data_dir, None, data_dir / "leaderboard-bench.log")
        server.start()
        db = Database(Settings(data_dir=data_dir, worker=False).db_url)
        rng = np.random.default_rng(args.seed)
        try:
            with httpx.Client(headers=auth_headers(), base_url=server.base, timeout=60) as client:
                for _ in range(3):
                    client.get("/api/leaderboard").raise_for_status()
                warm = timed(client, server, args.requests)
                cold = timed(client, server, args.cold, before=lambda: add_pair(db, rng))
                board = client.get("/api/leaderboard", params={"include_deleted": True}).json()
        finally:
            server.stop()
            db.dispose()
    finally:
        if temp and not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)

    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared: compare cpu ms)")
    print(f"pairs fitted: {board['games']:,} (+{board['ties']:,} ties), models: {parts['models']}, "
          f"bootstrap rounds: {board['bootstrap_rounds']}")
    print(f"in-process: GROUP BY {parts['query_ms']:.1f} ms, fit {parts['fit_ms']:.1f} ms, "
          f"service uncached {parts['service_cold_ms']:.1f} ms (best of 5)")
    for line in parts["plan"]:
        print(f"  plan: {line}")
    print(f"{'GET /api/leaderboard':<28}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'cpu p50 ms':>12}  target")
    for name, row in (("warm (counts unchanged)", warm), ("cold (refit every request)", cold)):
        verdict = "MET" if row["p50_ms"] <= TARGET_MS else "NOT MET"
        print(f"{name:<28}{row['n']:>4}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['max_ms']:>9.1f}"
              f"{row['cpu_p50_ms']:>12.1f}  p50 <= {TARGET_MS:.0f} ms {verdict}")
    print("\nrank  model                         strength  95% interval        games   true")
    for e in board["items"]:
        centre = statistics.fmean(TRUE_STRENGTH.values())  # fitted strengths are centred on the mean
        true = TRUE_STRENGTH.get(e["adapter_id"], float("nan")) - centre if temp else float("nan")
        interval = f"[{e['ci_low']:+.3f}, {e['ci_high']:+.3f}]" if e["strength"] is not None else "-"
        strength = f"{e['strength']:+.3f}" if e["strength"] is not None else "-"
        print(f"{e['rank'] or '-':>4}  {e['label']:<28}{strength:>9}  {interval:<18}{e['games']:>8}  {true:+.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
