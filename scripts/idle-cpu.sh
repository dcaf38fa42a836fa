#!/usr/bin/env bash
# Measures the CPU an idle worker uses: starts a private Redis and PostgreSQL, runs `phoenix work --type all`
# with empty queues, samples its CPU time (/proc/PID/stat utime + stime) over a window (default 10 s), and prints the
# share of one core. Usage: scripts/idle-cpu.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

window=${1:-10}
ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15
PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-idle.XXXXXX)
worker_pid=""
trap stop_worker_and_services EXIT
start_redis
start_postgres "$PHOENIX_RUN_DIR/postgres" phoenix
swift build --product phoenix >&2
export REDIS_URL="$PHOENIX_REDIS_URL" DATABASE_URL="$PHOENIX_DATABASE_URL"
.build/debug/phoenix migrate >&2

.build/debug/phoenix work --type all --concurrency 10 2>"$PHOENIX_RUN_DIR/worker.log" &
worker_pid=$!
sleep 3
kill -0 "$worker_pid" 2>/dev/null || { echo "the worker exited:" >&2; cat "$PHOENIX_RUN_DIR/worker.log" >&2; exit 1; }
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$worker_pid/stat"; }
before=$(cpu_ticks)
sleep "$window"
after=$(cpu_ticks)
python3 -c "import sys; used=($after-$before)/$ticks; print(f'idle worker: {used:.3f} s of CPU in $window s = {100*used/$window:.2f} % of one core')"
