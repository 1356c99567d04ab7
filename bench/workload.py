"""A seeded data dir as every bench command names it: where it lives by default, the file that
marks it seeded, and the parser that takes ``--data-dir`` and ``--database-url``."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).parent / "data"
META = "bench_seed.json"


def data_dir_parser(prog: str, description: str | None, data_dir_help: str | None = None,
                    database_url_help: str | None = None) -> argparse.ArgumentParser:
    """A command-line parser that starts with the two options naming a seeded workload."""
    p = argparse.ArgumentParser(prog=prog, description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=data_dir_help)
    p.add_argument("--database-url", default=None, help=database_url_help)
    return p
