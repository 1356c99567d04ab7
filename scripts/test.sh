#!/usr/bin/env bash
# Set up (first time) and run the whole test suite: lint, API, engine, UI, browser.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
setup_venv

# A real Chromium for the browser tests: Debian's package where we can install it,
# Playwright's own download elsewhere (a laptop with internet).
if ! command -v chromium >/dev/null 2>&1 && [ -z "${TD_CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    python -m playwright install chromium
  fi
fi

ruff check training_dashboard tests bench scripts
# A throw-away Redis on 127.0.0.1 for the scale-out tests (Celery broker, Reflex state).
"$ROOT/scripts/with_redis.sh" python -m pytest --durations=15 "$@"

# The API suite again on a real PostgreSQL (a throw-away cluster on 127.0.0.1).
if [ $# -eq 0 ] && [ "${TD_SKIP_POSTGRES:-0}" != 1 ]; then
  "$ROOT/scripts/with_postgres.sh" python -m pytest -q tests/api tests/hardening/test_bad_input.py
fi
