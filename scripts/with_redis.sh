#!/usr/bin/env bash
# Run a command with a throw-away Redis server on 127.0.0.1 (a free port, a temp dir), like
# with_postgres.sh. Installs Debian's redis-server if it is missing. Exports TD_TEST_REDIS_URL.
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
DIR="$(mktemp -d /tmp/td-redis.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
redis-server --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --save "" --appendonly no --daemonize yes \
  --pidfile "$DIR/redis.pid" --logfile "$DIR/log" --protected-mode yes >/dev/null
cleanup() { kill "$(cat "$DIR/redis.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
export TD_TEST_REDIS_URL="redis://127.0.0.1:$PORT/0"
echo "Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$PORT"
"$@"
