"""Fill a fresh data dir with a synthetic, reproducible feedback workload.

Examples::

    python -m bench.seed --scale 0.01                 # ~2 s: 200 prompts, 10k ratings
    python -m bench.seed                              # full: 20k prompts, 100k clips, 1M ratings
    python -m bench.seed --data-dir /tmp/td --force   # wipe and refill another dir
    python -m bench.seed --database-url postgresql+psycopg://u:p@127.0.0.1/td_bench

Rows go in through SQLAlchemy Core ``insert()`` executemany batches (no HTTP, no ORM
objects) with explicit ids, so the denormalised columns (rating.prompt_id/adapter_id,
preference.*_adapter_id, audio_sample.rating_count) are consistent by construction. The 50
datasets are frozen through ``services.datasets.snapshot_dataset`` and the running counters
are rebuilt with ``services.counters.rebuild_counters``, exactly as the app would have them.

Audio: every clip references one of a few real placeholder WAV files (one per 1,000
clips, ``audio/bench/ph-NNNN.wav``), so exports can hard-link 100k clips without reaching
the ext4 limit of 65,000 links per file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import UTC, date, datetime, timedelta

from bench.workload import META, data_dir_parser


def build_parser() -> argparse.ArgumentParser:
    p = data_dir_parser("python -m bench.seed", __doc__, "TD_DATA_DIR to fill (default: %(default)s)",
                        "SQLAlchemy URL (default: SQLite file in the data dir)")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the full workload (default 1.0)")
    p.add_argument("--seed", type=int, default=20251125, help="random seed (same seed, same data)")
    p.add_argument("--days", type=int, default=90, help="ratings and preferences spread over this many days")
    p.add_argument("--end-date", type=date.fromisoformat, default=None,
                   help="last day of feedback (default yesterday, UTC)")
    p.add_argument("--datasets", type=int, default=50, help="frozen datasets to create (default 50)")
    p.add_argument("--wav-ms", type=int, default=50, help="length of each placeholder WAV in ms (default 50)")
    p.add_argument("--force", action="store_true", help="delete the data dir (and its tables) first")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bench.seeding import seed_all

    data_dir = args.data_dir.expanduser().resolve()
    if args.force:
        shutil.rmtree(data_dir, ignore_errors=True)
    elif (data_dir / META).exists():
        print(f"{data_dir} already holds a seeded workload; pass --force to replace it", file=sys.stderr)
        return 2
    meta = seed_all(data_dir, args.database_url, scale=args.scale, seed=args.seed, days=args.days,
                    end_date=args.end_date or datetime.now(UTC).date() - timedelta(days=1), n_datasets=args.datasets,
                    wav_ms=args.wav_ms, force=args.force)
    print(json.dumps({k: meta[k] for k in ("counts", "seconds")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
