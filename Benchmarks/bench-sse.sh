#!/usr/bin/env bash
# Live job events under load: one `phoenix serve` on loopback, a diagnostics worker, and `phoenix bench-sse`
# holding SUBSCRIBERS server-sent-event streams open while up to RATE jobs per second complete (each subscriber
# submits a job due a little later, follows its stream and times the completed event). Prints the completions
# per second, the p50/p99/max time from a job's completion (the ack, Redis clock) to its event reaching the
# subscriber, and the server's peak resident memory. Starts its own Redis and PostgreSQL; release build
# (BUILD=debug to skip it).
# Usage: Benchmarks/bench-sse.sh [SUBSCRIBERS=1000] [RATE=500] [SECONDS=30] [DELAY_MS=800]
# (DELAY_MS: how long each job waits before it runs, and so how long each stream stays open first)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

subscribers=${1:-1000}
rate=${2:-500}
seconds=${3:-30}
delay_ms=${4:-800}
ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15
build=${BUILD:-release}
swift build -c "$build" --product phoenix >&2
phoenix=.build/$build/phoenix
# Each stream is a socket on both sides: raise the open files limit to the hard limit.
ulimit -n "$(ulimit -Hn)"

PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-bench-sse.XXXXXX)
worker_pid=""
diagnostics_pid=""
trap 'kill -TERM $diagnostics_pid 2>/dev/null || true; wait $diagnostics_pid 2>/dev/null || true; stop_worker_and_services' EXIT
start_platform "$phoenix"
export RATE_LIMIT_PER_MINUTE=1000000
serve_api "$phoenix"
serve_pid=$worker_pid
"$phoenix" work --type diagnostics --concurrency 200 2>"$PHOENIX_RUN_DIR/worker.log" &
diagnostics_pid=$!
"$phoenix" bench-sse --base "http://127.0.0.1:$PHOENIX_API_PORT" --token "$PHOENIX_SERVICE_TOKEN" --subscribers "$subscribers" --rate "$rate" \
  --seconds "$seconds" --delay-ms "$delay_ms" --server-pid "$serve_pid"
if grep -q "Request failed" "$PHOENIX_RUN_DIR/serve.log"; then
  echo "the server logged internal errors:" >&2
  grep "Request failed" "$PHOENIX_RUN_DIR/serve.log" | head -5 >&2
  exit 1
fi
