#!/usr/bin/env bash
# Measures how many events per second the event bridge writes into phoenix_events: N `event.publish` jobs
# (for 100 users with profiles, so activity rows are written too) are enqueued into a paused `events` queue;
# one `phoenix work --type event_bridge` process starts; the queue is resumed and the clock runs until
# the worker has acknowledged N jobs (phoenix_events must then hold N rows). Starts its own Redis and PostgreSQL on loopback (release build).
# Usage: Benchmarks/bench-events.sh [N=50000] [CONCURRENCY=1000]   (BUILD=debug to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh
. Benchmarks/lib/event-platform.sh

count=${1:-50000}
concurrency=${2:-1000}
ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15
build=${BUILD:-release}
swift build -c "$build" --product phoenix >&2
phoenix=.build/$build/phoenix

PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-bench.XXXXXX)
worker_pid=""
trap stop_worker_and_services EXIT
start_event_platform
write_event_jobs "$count" "$PHOENIX_RUN_DIR/events.jsonl"
"$phoenix" queue pause events >&2
"$phoenix" enqueue --file "$PHOENIX_RUN_DIR/events.jsonl" >&2
"$phoenix" work --type event_bridge --concurrency "$concurrency" 2>"$PHOENIX_RUN_DIR/worker.log" &
worker_pid=$!
sleep 2
# CPU seconds used so far by the worker, by every PostgreSQL process, and by redis-server.
cpu_seconds() {
  local ticks total=0 pid
  ticks=$(getconf CLK_TCK)
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] && total=$(( total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat") ))
  done
  python3 -c "print($total / $ticks)"
}
postgres_pids() { pgrep -u postgres -f "postgres" | tr '\n' ' '; }
redis_pid=$(cat "$PHOENIX_RUN_DIR/redis/redis.pid")
worker_cpu0=$(cpu_seconds "$worker_pid"); redis_cpu0=$(cpu_seconds "$redis_pid")
[ -n "${PERF_RECORD:-}" ] && { perf record -g -p "$worker_pid" -o "$PERF_RECORD" >/dev/null 2>&1 & perf_pid=$!; }
# The clock stops when the worker has acknowledged N jobs (it acknowledges a job after its transaction
# committed); polling reads that counter through one redis-cli session rather than counting rows, so that
# polling adds next to no load. The row count is checked once at the end.
coproc POLL { redis-cli -p "$PHOENIX_REDIS_PORT"; }
postgres_cpu0=$(cpu_seconds $(postgres_pids))
wal0=$(psql_events -c 'SELECT pg_current_wal_lsn()')
start=$(date +%s.%N)
"$phoenix" queue resume events >/dev/null
while :; do
  echo "HGET phx:queue:{events}:counters completed" >&"${POLL[1]}"
  read -r acknowledged <&"${POLL[0]}"
  [ "${acknowledged:-0}" -ge "$count" ] 2>/dev/null && break
  kill -0 "$worker_pid" 2>/dev/null || { echo "the worker exited:" >&2; cat "$PHOENIX_RUN_DIR/worker.log" >&2; exit 1; }
  sleep 0.05
done
end=$(date +%s.%N)
exec {POLL[1]}>&-
rows=$(psql_events -c 'SELECT count(*) FROM public.phoenix_events')
[ "$rows" -eq "$count" ] || { echo "phoenix_events holds $rows rows, expected $count" >&2; exit 1; }
[ -n "${perf_pid:-}" ] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
worker_cpu=$(python3 -c "print($(cpu_seconds "$worker_pid") - $worker_cpu0)")
redis_cpu=$(python3 -c "print($(cpu_seconds "$redis_pid") - $redis_cpu0)")
postgres_cpu=$(python3 -c "print($(cpu_seconds $(postgres_pids)) - $postgres_cpu0)")
wal_bytes=$(psql_events -c "SELECT pg_current_wal_lsn() - '$wal0'::pg_lsn")
activity=$(psql_events -c 'SELECT count(*) FROM public.user_activity_metrics')
python3 -c "
elapsed = $end - $start
print(f'event bridge: $count events in {elapsed:.2f} s = {$count / elapsed:,.0f} events/s written to phoenix_events ($activity activity rows), concurrency $concurrency')
print(f'CPU during the run: worker {$worker_cpu:.1f} s, redis-server {$redis_cpu:.1f} s, PostgreSQL {$postgres_cpu:.1f} s; PostgreSQL wrote {$wal_bytes / $count:,.0f} bytes of WAL per event')
"
