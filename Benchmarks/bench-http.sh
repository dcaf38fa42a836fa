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
. Benchmarks/lib/http-bench.sh

duration=${1:-10}
connections=${2:-50}
ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15 wrk
build=${BUILD:-release}
if [ -z "${PHOENIX:-}" ]; then
  swift build -c "$build" --product phoenix >&2
  PHOENIX=.build/$build/phoenix
fi
phoenix=$PHOENIX

start_http_bench "$phoenix"
rows=()
for run in "health get /health" "ready get /ready" "jobs post-auth /v1/jobs"; do
  set -- $run
  echo "== $1 ($3)"
  measure "$1" "$2" "$3"
  cat "$PHOENIX_RUN_DIR/$1.txt"
  rows+=("$1=$(route_label "$2" "$3")")
done

requests=$(awk '/requests in/ { print $1 }' "$PHOENIX_RUN_DIR/jobs.txt")
queued=$(redis-cli -p "$PHOENIX_REDIS_PORT" LLEN phx:queue:{diagnostics}:ready)
echo "wrk completed $requests job submissions; the diagnostics queue holds $queued jobs"
[ "$requests" -le "$queued" ] || { echo "fewer jobs queued than requests answered" >&2; exit 1; }

http_table "${rows[@]}"
