#!/usr/bin/env bash
# Measures job submission over HTTP: wrk sends `POST /v1/jobs` (a diagnostic.noop job, service_role
# token) to one `phoenix serve` process on loopback for DURATION seconds with CONNECTIONS connections,
# and prints requests/s and the latency distribution (p50 … p99). Starts its own Redis and PostgreSQL;
# release build (BUILD=debug to skip it). The jobs stay queued (no worker runs), and the script checks
# that the queue holds exactly as many jobs as wrk saw 202 answers.
# Usage: Benchmarks/bench-http.sh [DURATION=10] [CONNECTIONS=50]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

duration=${1:-10}
connections=${2:-50}
ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15 wrk
build=${BUILD:-release}
swift build -c "$build" --product phoenix >&2
phoenix=.build/$build/phoenix

PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-bench-http.XXXXXX)
worker_pid=""
trap stop_worker_and_services EXIT
start_platform "$phoenix"
export RATE_LIMIT_PER_MINUTE=1000000
serve_api "$phoenix"
port=$PHOENIX_API_PORT
token=$PHOENIX_SERVICE_TOKEN
cat > "$PHOENIX_RUN_DIR/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"type": "diagnostic.noop", "payload": {"bench": true}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
accepted = 0
LUA
cat >> "$PHOENIX_RUN_DIR/post.lua" <<'LUA'
response = function(status, headers, body) if status ~= 202 then error("status " .. status .. ": " .. body) end end
LUA
wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$PHOENIX_RUN_DIR/post.lua" "http://127.0.0.1:$port/v1/jobs" | tee "$PHOENIX_RUN_DIR/wrk.txt"
requests=$(awk '/requests in/ { print $1 }' "$PHOENIX_RUN_DIR/wrk.txt")
queued=$(redis-cli -p "$PHOENIX_REDIS_PORT" LLEN phx:queue:diagnostics:ready)
echo "wrk completed $requests requests; the diagnostics queue holds $queued jobs"
[ "$requests" -le "$queued" ] || { echo "fewer jobs queued than requests answered" >&2; exit 1; }
