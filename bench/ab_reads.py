"""Two API servers side by side (another checkout, and this one) on seeded data: server CPU per
request of a few reads, in interleaved rounds, so both see the same machine load.

Examples::

    git -C . archive main | tar -x -C /tmp/td-main          # the checkout to compare with
    python -m bench.ab_reads --base-root /tmp/td-main --base-data /tmp/td-copy --data /tmp/td

Each server needs a data dir its own migrations accept (a copy of the seeded one when this
checkout adds a migration). ``{r}`` in a path becomes rater 1..20 in turn.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

from bench.server import Server

PATHS = ["/api/health", "/api/generate?page=3&limit=20", "/api/audio?not_rated_by={r}&limit=50"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser("python -m bench.ab_reads", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-root", type=Path, required=True, help="the other checkout")
    p.add_argument("--base-data", type=Path, required=True, help="data dir for the other checkout")
    p.add_argument("--data", type=Path, required=True, help="data dir for this checkout")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--requests", type=int, default=40, help="per path, server and round")
    p.add_argument("paths", nargs="*", default=PATHS)
    args = p.parse_args(argv)
    here = Path(__file__).resolve().parent.parent
    servers = {"base": Server(args.base_data, None, args.base_data.parent / "ab-base.log", app_root=args.base_root),
               "this": Server(args.data, None, args.data.parent / "ab-this.log", app_root=here)}
    cpu: dict[tuple[str, str], list[float]] = {(k, p): [] for k in servers for p in args.paths}
    wall: dict[tuple[str, str], list[float]] = {(k, p): [] for k in servers for p in args.paths}
    try:
        for server in servers.values():
            server.start()
        clients = {k: httpx.Client(base_url=s.base, timeout=60, headers={"Authorization": f"Bearer {s.token}"})
                   for k, s in servers.items()}
        for c in clients.values():
            for path in args.paths:
                for _ in range(5):
                    c.get(path.replace("{r}", "1")).raise_for_status()
        for _ in range(args.rounds):
            for path in args.paths:
                for k, server in servers.items():
                    cpu0 = server.cpu_seconds()
                    for i in range(args.requests):
                        t = time.perf_counter()
                        clients[k].get(path.replace("{r}", str(1 + i % 20))).raise_for_status()
                        wall[(k, path)].append((time.perf_counter() - t) * 1000)
                    cpu[(k, path)].append((server.cpu_seconds() - cpu0) * 1000 / args.requests)
    finally:
        for server in servers.values():
            server.stop()
    print(f"{'path':<45}{'server':>8}{'cpu ms/req':>12}{'wall p50 ms':>13}   (cpu: median of rounds)")
    for path in args.paths:
        for k in servers:
            print(f"{path:<45}{k:>8}{statistics.median(cpu[(k, path)]):>12.2f}"
                  f"{statistics.median(wall[(k, path)]):>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
