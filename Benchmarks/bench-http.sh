#!/usr/bin/env bash
# Measures the HTTP front side by side in one run on one `phoenix serve` process on loopback: wrk sends, for
# DURATION seconds each with CONNECTIONS connections, `GET /health` (no Redis), `GET /ready` (Redis and
# PostgreSQL probes) and `POST /v1/jobs` (a diagnostic.noop job with a service_role token, which the rate
# limit leaves alone: JWT check, enqueue script). It prints requests/s and p99 of each, each rate as a share
# of `/health`'s (the server's ceiling on this machine), and the CPU time the server and Redis spent per
# request. Starts its own Redis and PostgreSQL; release build (BUILD=debug to skip it; PHOENIX=path to
# measure another binary). The jobs stay queued (no worker runs), and the script checks that the queue
# holds at least as many jobs as wrk saw 202 answers.
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

redis_pid=$(cat "$PHOENIX_RUN_DIR/redis/redis.pid")
# cpu_ticks PID: the CPU time (user + system, in clock ticks) the process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# run NAME PATH SCRIPT: one wrk run; leaves its output in $PHOENIX_RUN_DIR/NAME.txt and the CPU time the
# server and Redis used meanwhile in NAME.cpu.
run() {
  echo "== $1 ($2)"
  local server_before redis_before
  server_before=$(cpu_ticks "$worker_pid")
  redis_before=$(cpu_ticks "$redis_pid")
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$3" "http://127.0.0.1:$port$2" | tee "$PHOENIX_RUN_DIR/$1.txt"
  echo "$(( $(cpu_ticks "$worker_pid") - server_before )) $(( $(cpu_ticks "$redis_pid") - redis_before ))" > "$PHOENIX_RUN_DIR/$1.cpu"
}
run health /health "$PHOENIX_RUN_DIR/ok.lua"
run ready /ready "$PHOENIX_RUN_DIR/ok.lua"
run jobs /v1/jobs "$PHOENIX_RUN_DIR/post.lua"

requests=$(awk '/requests in/ { print $1 }' "$PHOENIX_RUN_DIR/jobs.txt")
queued=$(redis-cli -p "$PHOENIX_REDIS_PORT" LLEN phx:queue:{diagnostics}:ready)
echo "wrk completed $requests job submissions; the diagnostics queue holds $queued jobs"
[ "$requests" -le "$queued" ] || { echo "fewer jobs queued than requests answered" >&2; exit 1; }

python3 - "$PHOENIX_RUN_DIR" "$(getconf CLK_TCK)" <<'PY'
import re, sys
units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
def figures(name):
    text = open(f"{sys.argv[1]}/{name}.txt").read()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    server, redis = (int(ticks) * 1e6 / int(sys.argv[2]) / requests for ticks in open(f"{sys.argv[1]}/{name}.cpu").read().split())
    return rate, float(value) * units[unit], server, redis
health = figures("health")[0]
print(f"{'route':<16}{'requests/s':>12}{'p99':>12}{'of /health':>12}{'server CPU':>14}{'Redis CPU':>14}")
for name, route in [("health", "GET /health"), ("ready", "GET /ready"), ("jobs", "POST /v1/jobs")]:
    rate, p99, server, redis = figures(name)
    print(f"{route:<16}{rate:>12,.0f}{p99:>10.2f} ms{rate / health:>11.0%}{server:>9.0f} us/req{redis:>9.0f} us/req")
PY
