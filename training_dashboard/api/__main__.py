"""Serve the API alone (headless or remote backend): ``python -m training_dashboard.api``."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from training_dashboard.config import BindRefused, check_bind, get_settings


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m training_dashboard.api", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--no-worker", action="store_true", help="do not run the generation worker in this process")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        check_bind(settings, args.host)
    except BindRefused as exc:
        print(f"Refusing to start: {exc}", file=sys.stderr)
        return 2
    from training_dashboard.api.app import create_app

    app = create_app(settings.model_copy(update={"host": args.host, "port": args.port}),
                     with_worker=not args.no_worker and settings.worker)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
