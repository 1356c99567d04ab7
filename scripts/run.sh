#!/usr/bin/env bash
# Set up (first time) and start the app: UI + API on http://127.0.0.1:3000 / :8000.
# Sign-in is on: on a first start with no admin the console shows a one-time setup link
# ("Open http://127.0.0.1:3000/setup?token=..."), or set TD_ADMIN_USER + TD_ADMIN_PASSWORD.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
setup_venv
host="${TD_HOST:-127.0.0.1}"
# TD_AUTH=off is allowed on loopback addresses only: refuse here, before anything starts.
python -c 'import sys
from training_dashboard.config import BindRefused, Settings, check_bind
try:
    check_bind(Settings(), sys.argv[1])
except BindRefused as exc:
    sys.exit(f"Refusing to start: {exc}")' "$host"
exec reflex run --backend-host "$host" "$@"
