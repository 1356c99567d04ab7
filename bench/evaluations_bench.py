"""Blind evaluations: the adapters list with verdicts, and the listening loop (next + vote).

Examples::

    python -m bench.evaluations_bench                       # 100 adapters, 2,000 evaluations, 200 pairs
    python -m bench.evaluations_bench --adapters 20 --evaluations 100 --pairs 20 --requests 5

Builds a fresh SQLite data dir under the system temp dir (removed afterwards) and drives the
real API in-process (httpx.ASGITransport, no network): ``--adapters`` registered adapters,
``--evaluations`` completed evaluations spread over them (inserted as rows), and one live
evaluation of ``--pairs`` prompts whose jobs are finished through the worker interface with a
tiny WAV each. It prints, per request, p50 / p95 / max wall time, the process CPU time (API and
client share the process) and the SQL statements issued:

- ``GET /api/adapters?limit=100`` (the verdicts of a page cost one query, however many adapters);
- ``GET /api/evaluations/{id}/next`` and ``POST .../votes`` for every pair, one listener.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import event, insert


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.evaluations_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--adapters", type=int, default=100)
    p.add_argument("--evaluations", type=int, default=2000)
    p.add_argument("--pairs", type=int, default=200, help="prompts of the live evaluation (5-200)")
    p.add_argument("--requests", type=int, default=30, help="timed GET /api/adapters requests")
    return p


def _row(label: str, walls: list[float], cpus: list[float], statements: list[int]) -> str:
    walls_ms, cpus_ms = sorted(w * 1000 for w in walls), [c * 1000 for c in cpus]
    p95 = walls_ms[min(len(walls_ms) - 1, int(0.95 * len(walls_ms)))]
    return (f"{label:<34} {len(walls):>5} {statistics.median(walls_ms):>8.1f} {p95:>8.1f} {walls_ms[-1]:>8.1f} "
            f"{statistics.median(cpus_ms):>8.1f} {statistics.median(statements):>6.0f}")


async def _timed(client: httpx.AsyncClient, counter: list[int], method: str, url: str, **kwargs):  # type: ignore[no-untyped-def]
    counter[0] = 0
    wall, cpu = time.perf_counter(), time.process_time()
    response = await client.request(method, url, **kwargs)
    return response, time.perf_counter() - wall, time.process_time() - cpu, counter[0]


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    from bench.server import BENCH_PASSWORD, BENCH_USER
    from tests.factories import make_lora_dir, wav_bytes
    from training_dashboard import schemas
    from training_dashboard.api.app import create_app
    from training_dashboard.config import Settings
    from training_dashboard.db.models import Evaluation
    from training_dashboard.services import accounts, jobs, tokens

    settings = Settings(data_dir=data_dir, base_model="tiny", worker=False, admin_user=BENCH_USER,
                        admin_password=BENCH_PASSWORD)
    app = create_app(settings, with_worker=False)
    db = app.state.db
    with db.session() as session:
        admin_id = accounts.find_user(session, BENCH_USER).id  # type: ignore[union-attr]
    token = tokens.create_token(db, admin_id or 0, schemas.TokenCreate(name="bench"), None).token
    counter = [0]
    event.listen(db.engine, "before_cursor_execute", lambda *_: counter.__setitem__(0, counter[0] + 1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench/api",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        make_lora_dir(settings.resolved_adapter_roots[0], "lora")
        ids = []
        for i in range(args.adapters):
            r = await client.post("/adapters", json={"name": f"a{i}", "path": "lora"})
            ids.append(r.raise_for_status().json()["id"])
        with db.write_session() as session:
            session.execute(insert(Evaluation), [
                dict(candidate_id=ids[i % len(ids)], baseline_id=None, status="completed", pairs_total=20,
                     pairs_ready=20, seed=i, params={}, votes=20, candidate_wins=12 + i % 8, baseline_wins=8 - i % 8,
                     verdict="inconclusive", win_rate=0.6, ci_low=0.39, ci_high=0.78, p_value=0.5)
                for i in range(args.evaluations)])
        print(f"{args.adapters} adapters, {args.evaluations} completed evaluations, live evaluation of "
              f"{args.pairs} pairs (data dir {data_dir})")
        print(f"{'request':<34} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu ms':>8} {'sql':>6}")
        rows = [await _timed(client, counter, "GET", "/adapters", params={"limit": 100})
                for _ in range(args.requests)]
        assert all(r[0].status_code == 200 for r in rows)
        print(_row("GET /api/adapters?limit=100", [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]))

        for i in range(args.pairs):
            (await client.post("/prompts", json={"text": f"bench prompt {i}"})).raise_for_status()
        ev = (await client.post("/evaluations", json={"candidate_id": ids[0], "num_prompts": args.pairs,
                                                      "seed": 1})).raise_for_status().json()
        clip = Path("audio") / "bench-eval.wav"
        (settings.resolved_data_dir / clip).write_bytes(wav_bytes(seconds=0.05))
        while (job := jobs.claim_next_job(db)) is not None:
            jobs.complete_job(db, job.id, [jobs.GeneratedSample(seed=1, duration=0.05, sample_rate=32000,
                                                                file_path=str(clip))])
        # the bench listens and votes as its signed-in user (sign-in takes the rater from the token)
        nexts, votes = [], []
        for i in range(args.pairs):
            nxt = await _timed(client, counter, "GET", f"/evaluations/{ev['id']}/next")
            nexts.append(nxt)
            body = {"pair_id": nxt[0].json()["pair_id"], "choice": ("first", "second", "tie")[i % 3]}
            votes.append(await _timed(client, counter, "POST", f"/evaluations/{ev['id']}/votes", json=body))
            assert votes[-1][0].status_code == 201, votes[-1][0].text
        print(_row("GET /api/evaluations/{id}/next", [r[1] for r in nexts], [r[2] for r in nexts],
                   [r[3] for r in nexts]))
        print(_row("POST /api/evaluations/{id}/votes", [r[1] for r in votes], [r[2] for r in votes],
                   [r[3] for r in votes]))
        final = (await client.get(f"/evaluations/{ev['id']}")).json()
        print(f"evaluation {final['status']}: {final['votes']} votes, verdict {final['verdict']}")
    db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="td-eval-bench-")) / "data"
    try:
        asyncio.run(run(args, data_dir))
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
