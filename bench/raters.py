"""Issue 11 workload and figures: ~20 raters over the seeded feedback, the listening queue,
generation history pages and the data-quality report.

Examples::

    python -m bench.seed --scale 0.01 --data-dir /tmp/tdb && python -m bench.raters --data-dir /tmp/tdb
    python -m bench.seed && python -m bench.raters          # full scale: 1M ratings, 200k preferences

Run after ``bench.seed`` (it post-processes the seeded data dir, once; rerunning only
measures). Every rating and preference gets one of ``--raters`` raters: the clips of every
``--overlap-every``-th id collect ratings from several raters (their ratings' raters are
spread by a hash of the rating id), every other clip is heard by one rater (a hash of the
clip id), so agreement rests on a share of the clips, as in a lab where a subset is
double-coded. One generation job per prompt owns that prompt's clips (history pages).

Measured on a real API process on loopback: queue next (p50 target 20 ms), history pages
(10 ms), quality (100 ms; read from the incrementally kept figures, also right after a
write), and an exactness check of the served report against a direct recomputation from
the raw rows.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import httpx
from sqlalchemy import func, select, text

from bench.load import auth_headers
from bench.server import rater_tokens
from bench.workload import data_dir_parser

TARGETS_MS = {"queue_next": 20, "history_page": 10, "audio_not_rated_by": 10, "quality": 100}


def assign_raters(db, n_raters: int, overlap_every: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Raters, rater ids on feedback, one job per prompt; then the derived counts (idempotent)."""
    from training_dashboard.db.models import GenerationJob, Rater, utcnow
    from training_dashboard.services.agreement import rebuild_agreement
    from training_dashboard.services.coverage import rebuild_coverage
    from training_dashboard.services.queue import rebuild_queue_rated
    from training_dashboard.services.raters import rebuild_rater_totals

    with db.session() as session:
        if session.scalar(select(func.count()).select_from(Rater)):
            return {"raters": session.scalar(select(func.count()).select_from(Rater)) or 0, "assigned": 0}
    t0 = time.perf_counter()
    with db.write_session() as session:
        now = utcnow()
        session.execute(Rater.__table__.insert(), [{"name": f"rater-{i:02d}", "created_at": now, "rating_count": 0,
                                                    "rating_sum": 0, "preference_count": 0}
                                                   for i in range(1, n_raters + 1)])
        # Deterministic spreads (Knuth's multiplicative hash) in one statement per table.
        session.execute(text(
            f"UPDATE rating SET rater_id = CASE WHEN audio_id % {overlap_every} = 0 "
            f"THEN 1 + (id * 2654435761) % {n_raters} ELSE 1 + (audio_id * 2654435761) % {n_raters} END"))
        session.execute(text(f"UPDATE preference SET rater_id = 1 + (id * 2654435761) % {n_raters}"))
        if not session.scalar(select(func.count()).select_from(GenerationJob)):
            session.execute(text(
                "INSERT INTO generation_job (id, prompt_id, adapter_id, status, progress, error, num_samples, params, "
                "cancel_requested, created_at, started_at, finished_at, updated_at) "
                "SELECT p.id, p.id, NULL, 'completed', 1.0, NULL, 5, '{\"duration\": 5.0}', false, p.created_at, "
                "p.created_at, p.created_at, p.created_at FROM prompt p"))
            session.execute(text("UPDATE audio_sample SET job_id = prompt_id"))
            if not db.is_sqlite:
                session.execute(text("SELECT setval(pg_get_serial_sequence('generation_job', 'id'), "
                                     "(SELECT COALESCE(MAX(id), 1) FROM generation_job))"))
        rebuild_rater_totals(session)
        rebuild_coverage(session)
        rebuild_agreement(session)
        rebuild_queue_rated(session)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return {"raters": n_raters, "assigned": 1, "seconds": round(time.perf_counter() - t0, 1)}


def _timed(http: httpx.Client, path: str, params=None, headers=None) -> tuple[float, httpx.Response]:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    r = http.get(path, params=params, headers=headers)
    return (time.perf_counter() - t) * 1000, r


def _p50(samples: list[float]) -> float:
    return statistics.median(samples)


def measure(base_url: str, db, min_rating: int, repeats: int, ps=None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from training_dashboard import schemas
    from training_dashboard.services.quality import compute_quality

    out: dict[str, object] = {}
    cpu: dict[str, float] = {}  # server CPU ms per request of each group (robust on a shared machine)
    mark = [sum(ps.cpu_times()[:2]) if ps else 0.0]

    def done(name: str) -> None:
        now = sum(ps.cpu_times()[:2]) if ps else 0.0
        samples = out.get(name)
        cpu[name] = (now - mark[0]) * 1000 / max(1, len(samples) if isinstance(samples, list) else 1)
        mark[0] = now
    with httpx.Client(headers=auth_headers(), base_url=base_url + "/api", timeout=120) as http:
        raters = http.get("/raters").raise_for_status().json()
        ids = [r["id"] for r in raters]
        # sign-in: each rater listens and rates with their own token
        own = {i: {"Authorization": f"Bearer {t}"}
               for i, t in rater_tokens(base_url + "/api", os.environ["TD_API_TOKEN"], ids).items()}
        # Queue: next for each rater in turn (the answer walks the index; nothing is written).
        times = []
        for i in range(repeats):
            ms, r = _timed(http, "/queue/next", {"rater_id": ids[i % len(ids)]}, own[ids[i % len(ids)]])
            assert r.status_code in (200, 204), r.text
            times.append(ms)
        out["queue_next"] = times
        done("queue_next")
        # Queue next while rating: a rater rates what they are served, 20 times.
        rated = []
        for _ in range(20):
            ms, r = _timed(http, "/queue/next", {"rater_id": ids[0]}, own[ids[0]])
            rated.append(ms)
            if r.status_code == 204:
                break
            http.post("/feedback", json={"audio_id": r.json()["audio_id"], "rating": 4,
                                         "rater_id": ids[0]}, headers=own[ids[0]]).raise_for_status()
        out["queue_next_rating"] = rated
        done("queue_next_rating")  # includes the ratings' own POSTs
        out["queue_summary"] = [_timed(http, "/queue/summary", {"rater_id": r}, own[r])[0]
                                for r in (ids[i % len(ids)] for i in range(max(5, repeats // 5)))]
        done("queue_summary")
        total_jobs = http.get("/generate", params={"limit": 1}).json()["total"]
        pages = max(1, total_jobs // 20)
        mark[0] = sum(ps.cpu_times()[:2]) if ps else 0.0
        out["history_page"] = [_timed(http, "/generate", {"page": 1 + (i * 37) % min(pages, 50), "limit": 20})[0]
                               for i in range(repeats)]
        done("history_page")
        out["audio_not_rated_by"] = [_timed(http, "/audio", {"not_rated_by": ids[i % len(ids)], "limit": 50})[0]
                                     for i in range(max(5, repeats // 5))]
        done("audio_not_rated_by")
        # Quality: right after a write, then repeatedly.
        clip = http.get("/queue/next", params={"rater_id": ids[1]}, headers=own[ids[1]])
        if clip.status_code == 200:
            http.post("/feedback", json={"audio_id": clip.json()["audio_id"], "rating": 3,
                                         "rater_id": ids[1]}, headers=own[ids[1]]).raise_for_status()
        mark[0] = sum(ps.cpu_times()[:2]) if ps else 0.0
        cold, served = _timed(http, "/feedback/quality")
        out["quality_after_write"] = [cold]
        done("quality_after_write")
        out["quality"] = [_timed(http, "/feedback/quality")[0] for _ in range(repeats)]
        done("quality")
        t = time.perf_counter()
        with db.session() as session:
            direct = compute_quality(session, min_rating)
        out["direct_compute_s"] = round(time.perf_counter() - t, 2)
        out["exact"] = schemas.FeedbackQuality.model_validate(served.json()) == direct
        out["agreement"] = served.json()["agreement"]
        out["outliers"] = [r["name"] for r in served.json()["raters"] if r["outlier"]]
    out["server_cpu_ms"] = cpu
    return out


def main(argv: list[str] | None = None) -> int:
    p = data_dir_parser("python -m bench.raters", __doc__)
    p.add_argument("--raters", type=int, default=20)
    p.add_argument("--overlap-every", type=int, default=4, help="every n-th clip is rated by several raters")
    p.add_argument("--repeats", type=int, default=200)
    args = p.parse_args(argv)

    from bench.server import Server
    from training_dashboard.config import Settings
    from training_dashboard.db import Database
    from training_dashboard.db.migrate import upgrade

    settings = Settings(data_dir=args.data_dir, database_url=args.database_url, worker=False)
    db = Database(settings.db_url)
    upgrade(db)
    print("assign:", assign_raters(db, args.raters, args.overlap_every), flush=True)
    server = Server(args.data_dir, args.database_url, args.data_dir.parent / "bench-raters-server.log")
    server.start()
    try:
        cpu0 = sum(server.ps.cpu_times()[:2]) if server.ps else 0.0
        figures = measure(server.base, db, settings.readiness_min_rating, args.repeats, server.ps)
        cpu = sum(server.ps.cpu_times()[:2]) - cpu0 if server.ps else 0.0
    finally:
        server.stop()
        db.dispose()
    print(f"{'request':<22}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'cpu ms':>9}{'target':>8}")
    server_cpu = figures["server_cpu_ms"]
    assert isinstance(server_cpu, dict)
    for name, samples in figures.items():
        if isinstance(samples, list) and samples and isinstance(samples[0], float):
            ordered = sorted(samples)
            p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
            target = TARGETS_MS.get(name)
            print(f"{name:<22}{len(samples):>5}{_p50(samples):>9.1f}{p95:>9.1f}{server_cpu.get(name, 0):>9.1f}"
                  f"{(target or ''):>8}")
    print(f"server CPU time over all requests: {cpu:.1f} s (cpu ms: server CPU per request, mean)")
    print(f"direct recomputation from the rows (in-process, the exactness oracle): {figures['direct_compute_s']} s")
    print(f"agreement: {figures['agreement']}; outliers: {figures['outliers']}")
    print(f"exactness (served report == direct computation): {figures['exact']}")
    return 0 if figures["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
