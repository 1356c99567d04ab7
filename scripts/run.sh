#!/usr/bin/env bash
# Set up (first time) and start the app: UI + API on http://127.0.0.1:3000 / :8000.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
setup_venv
exec reflex run --backend-host "${TD_HOST:-127.0.0.1}" "$@"
