#!/usr/bin/env bash
# Tests the Python and JavaScript clients (clients/python, clients/javascript) against a live `phoenix serve`
# with a diagnostics worker: pytest and `node --test`. Starts its own Redis and PostgreSQL on loopback; debug
# build unless BUILD is set. `make test` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

ensure_packages redis-server libhiredis-dev python3 python3-httpx python3-pytest nodejs postgresql-15 postgresql-client-15
build=${BUILD:-debug}
swift build -c "$build" --product phoenix >&2
phoenix=.build/$build/phoenix

PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-clients.XXXXXX)
worker_pid=""
diagnostics_pid=""
trap 'kill -TERM $diagnostics_pid 2>/dev/null || true; wait $diagnostics_pid 2>/dev/null || true; stop_worker_and_services' EXIT
start_platform "$phoenix"
serve_api "$phoenix"
"$phoenix" work --type diagnostics 2>"$PHOENIX_RUN_DIR/worker.log" &
diagnostics_pid=$!
export PHOENIX_BASE_URL="http://127.0.0.1:$PHOENIX_API_PORT"
status=0
# Debian's Python, which has the packages above (a python3 earlier on PATH, such as pyenv's, may not).
/usr/bin/python3 -m pytest -q -p no:cacheprovider clients/python/tests || status=$?
node --test clients/javascript/test/ || status=$?
if grep -q "Request failed" "$PHOENIX_RUN_DIR/serve.log"; then
  echo "the server logged internal errors:" >&2
  grep "Request failed" "$PHOENIX_RUN_DIR/serve.log" | head -5 >&2
  status=1
fi
exit $status
