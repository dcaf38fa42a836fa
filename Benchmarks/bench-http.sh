#!/usr/bin/env bash
# Measures the HTTP front side by side in one run on one `phoenix serve` process on loopback: wrk sends, for
# DURATION seconds each with CONNECTIONS connections, `GET /health` (no Redis), `GET /ready` (one Redis
# round trip) and `POST /v1/jobs` (a diagnostic.noop job, service_role token: JWT check, rate-limit count,
# enqueue script). It prints requests/s and p99 of each, and each rate as a share of `/health`'s, the
# server's ceiling on this machine. Starts its own Redis and PostgreSQL; release build (BUILD=debug to skip
# it; PHOENIX=path to measure another binary). The jobs stay queued (no worker runs), and the script checks
# that the queue holds at least as many jobs as wrk saw 202 answers.
# Usage: Benchmarks/bench-http.sh [DURATION=10] [CONNECTIONS=50]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

duration=${1:-10}
connections=${2:-50}
ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15 wrk
build=${BUILD:-release}
if [ -z "${PHOENIX:-}" ]; then
  swift build -c "$build" --product phoenix >&2
  PHOENIX=.build/$build/phoenix
fi
phoenix=$PHOENIX

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
LUA
cat > "$PHOENIX_RUN_DIR/ok.lua" <<'LUA'
response = function(status, headers, body) if status >= 300 then error("status " .. status .. ": " .. body) end end
LUA
cat "$PHOENIX_RUN_DIR/ok.lua" >> "$PHOENIX_RUN_DIR/post.lua"

# run NAME PATH SCRIPT: one wrk run; leaves its output in $PHOENIX_RUN_DIR/NAME.txt.
run() {
  echo "== $1 ($2)"
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$3" "http://127.0.0.1:$port$2" | tee "$PHOENIX_RUN_DIR/$1.txt"
}
run health /health "$PHOENIX_RUN_DIR/ok.lua"
run ready /ready "$PHOENIX_RUN_DIR/ok.lua"
run jobs /v1/jobs "$PHOENIX_RUN_DIR/post.lua"

requests=$(awk '/requests in/ { print $1 }' "$PHOENIX_RUN_DIR/jobs.txt")
queued=$(redis-cli -p "$PHOENIX_REDIS_PORT" LLEN phx:queue:{diagnostics}:ready)
echo "wrk completed $requests job submissions; the diagnostics queue holds $queued jobs"
[ "$requests" -le "$queued" ] || { echo "fewer jobs queued than requests answered" >&2; exit 1; }

python3 - "$PHOENIX_RUN_DIR" <<'PY'
import re, sys
units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
def figures(name):
    text = open(f"{sys.argv[1]}/{name}.txt").read()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    return rate, float(value) * units[unit]
health = figures("health")[0]
print(f"{'route':<16}{'requests/s':>12}{'p99':>12}{'of /health':>12}")
for name, route in [("health", "GET /health"), ("ready", "GET /ready"), ("jobs", "POST /v1/jobs")]:
    rate, p99 = figures(name)
    print(f"{route:<16}{rate:>12,.0f}{p99:>10.2f} ms{rate / health:>11.0%}")
PY
