# Sourced by the run and test scripts: the virtualenv and the offline-friendly Reflex settings.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$PATH"
export REFLEX_USE_NPM="${REFLEX_USE_NPM:-1}"
export REFLEX_TELEMETRY_ENABLED="${REFLEX_TELEMETRY_ENABLED:-false}"
export REFLEX_CHECK_LATEST_VERSION="${REFLEX_CHECK_LATEST_VERSION:-false}"
export PYTHONUNBUFFERED=1

setup_venv() {
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    python3 -m venv "$ROOT/.venv"
  fi
  "$ROOT/.venv/bin/python" -m pip install --quiet --upgrade pip
  # torch is pinned to the CPU wheel in requirements.txt; installed in the same command.
  "$ROOT/.venv/bin/python" -m pip install --quiet -r "$ROOT/requirements.txt"
}
