#!/usr/bin/env bash
# The chaos suite: JOBS event.publish jobs, each writing an event row, an activity row and its
# phoenix_job_runs row in PostgreSQL, processed by 4 `phoenix work --type event_bridge` processes while
#   kill      a random worker is SIGKILLed every second and started again;
#   redis     the jobs go in through the HTTP API, and Redis (append-only) is restarted half-way;
#   postgres  PostgreSQL is stopped for 20 seconds mid-run;
#   sigterm   every worker gets SIGTERM mid-run (each must exit 0 with nothing left leased), then new ones finish;
#   mixed     JOBS events plus 200 letter.generate jobs of 100 free users (two each: their whole monthly
#             quota), two `--type event_bridge,letters` workers, one SIGKILLed and started again every second.
# After each: every job completed, none dead, phoenix_job_runs holds one completed run per job, and the event
# and activity tables hold exactly one row per event (a job that ran twice would add a second activity row);
# mixed also: exactly two letters and two units of quota used per user.
# Starts its own Redis and PostgreSQL on loopback for each scenario (release build). docs/RELIABILITY.md has
# the results.
# Usage: Benchmarks/chaos.sh [kill|redis|postgres|sigterm|mixed|all] [JOBS=20000]   (BUILD=debug to skip the release build;
# PHOENIX_BIN=path runs another phoenix executable, an older build say, with this script)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh
. Benchmarks/lib/event-platform.sh

scenario=${1:-all}
count=${2:-20000}
workers=4
ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15 curl
build=${BUILD:-release}
swift build -c "$build" --product phoenix >&2
phoenix=${PHOENIX_BIN:-.build/$build/phoenix}
export ROUTED=0 EVENT_IDS=0 PHOENIX_REDIS_APPENDONLY=yes
declare -a worker_pids=()

# Starts worker $1 (short leases, so a killed worker's jobs come back within seconds) for WORKER_TYPES.
start_worker() {
  "$phoenix" work --type "${WORKER_TYPES:-event_bridge}" --concurrency 50 --lease 5 --heartbeat 1 --stale-after 5 2>>"$PHOENIX_RUN_DIR/worker-$1.log" &
  worker_pids[$1]=$!
}

start_workers() { for i in $(seq 0 $((workers - 1))); do start_worker "$i"; done; }

# SIGTERM to every worker still running; waits for them.
stop_workers() {
  for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${worker_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  worker_pids=()
}

cleanup() {
  stop_workers
  [ -n "${api_pid:-}" ] && { kill -TERM "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; }
  stop_services
}
trap cleanup EXIT

redis_q() { redis-cli -p "$PHOENIX_REDIS_PORT" "$@" 2>/dev/null || true; }
# Jobs completed so far (0 while Redis is down or still loading its data after a restart).
completed() { local n; n=$(redis_q HGET phx:queue:{events}:counters completed); [[ "$n" =~ ^[0-9]+$ ]] || n=0; echo "$n"; }

# Waits until $1 jobs completed (gives up after $2 seconds).
wait_for_completed() {
  local deadline=$((SECONDS + $2))
  while [ "$(completed)" -lt "$1" ]; do
    [ $SECONDS -lt $deadline ] || { echo "only $(completed) of $1 jobs completed after $2 s" >&2; return 1; }
    sleep 0.5
  done
}

enqueue_all() {
  write_event_jobs "$count" "$PHOENIX_RUN_DIR/events.jsonl"
  "$phoenix" enqueue --file "$PHOENIX_RUN_DIR/events.jsonl" >/dev/null
}

# Checks what every scenario must leave; prints one line and fails on any difference.
verify() {
  local name=$1 extra=$2 dead leased ready delayed runs events distinct activity
  dead=$(redis_q ZCARD phx:queue:{events}:dead); leased=$(redis_q ZCARD phx:queue:{events}:leased)
  ready=$(redis_q LLEN phx:queue:{events}:ready); delayed=$(redis_q ZCARD phx:queue:{events}:delayed)
  runs=$(psql_events -c "SELECT count(DISTINCT job_id) FROM public.phoenix_job_runs WHERE status = 'completed' AND type = 'event.publish'")
  events=$(psql_events -c "SELECT count(*) FROM public.phoenix_events WHERE payload ? 'n'")
  distinct=$(psql_events -c "SELECT count(DISTINCT payload->>'n') FROM public.phoenix_events WHERE payload ? 'n'")
  activity=$(( $(psql_events -c "SELECT count(*) FROM public.user_activity_metrics") - ${EXTRA_EVENTS:-0} ))
  local line="$name: $count jobs; completed $(completed), dead $dead, left ready/delayed/leased $ready/$delayed/$leased; job runs $runs, events $events ($distinct distinct), activity rows $activity; $extra"
  echo "$line"
  [ "$(completed)" -eq "$count" ] && [ "$dead" -eq 0 ] && [ "$ready$delayed$leased" = "000" ] && [ "$runs" -eq "$count" ] \
    && [ "$events" -eq "$count" ] && [ "$distinct" -eq "$count" ] && [ "$activity" -eq "$count" ] \
    || { echo "FAILED: $name" >&2; return 1; }
}

chaos_kill() {
  enqueue_all
  start_workers
  local kills=0 started=$SECONDS
  while [ "$(completed)" -lt "$count" ]; do
    sleep 1
    local victim=$((RANDOM % workers))
    kill -KILL "${worker_pids[$victim]}" 2>/dev/null || true
    wait "${worker_pids[$victim]}" 2>/dev/null || true
    start_worker "$victim"
    kills=$((kills + 1))
    [ $((SECONDS - started)) -lt 900 ] || { echo "kill: gave up after 900 s" >&2; return 1; }
  done
  local took=$((SECONDS - started))
  stop_workers
  verify kill "$kills workers SIGKILLed (one a second), ${took} s"
}

chaos_redis() {
  local batches=0 refused=0
  serve_api "$phoenix"
  api_pid=$worker_pid
  write_event_jobs "$count" "$PHOENIX_RUN_DIR/events.jsonl"
  # Batches of 500, each job with an idempotency key, so a batch sent again after an unclear answer adds nothing.
  python3 - "$PHOENIX_RUN_DIR/events.jsonl" "$PHOENIX_RUN_DIR/batch" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
for b in range(0, len(lines), 500):
    jobs = [dict(line, idempotencyKey=f"chaos-{b + i}") for i, line in enumerate(lines[b:b + 500])]
    open(f"{sys.argv[2]}-{b // 500:04d}.json", "w").write(json.dumps({"jobs": jobs}))
PY
  start_workers
  local files=("$PHOENIX_RUN_DIR"/batch-*.json) half=$(( $(ls "$PHOENIX_RUN_DIR"/batch-*.json | wc -l) / 2 )) restarted=0 down_at
  for file in "${files[@]}"; do
    if [ "$batches" -eq "$half" ] && [ "$restarted" -eq 0 ]; then
      down_at=$SECONDS
      restart_redis
      restarted=1
      echo "redis restarted after $batches batches ($(completed) jobs completed)" >&2
    fi
    until [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PHOENIX_API_PORT/v1/jobs/batch" \
        -H "Authorization: Bearer $PHOENIX_SERVICE_TOKEN" -H 'Content-Type: application/json' --data-binary "@$file")" = 202 ]; do
      refused=$((refused + 1)); sleep 0.2
    done
    batches=$((batches + 1))
  done
  wait_for_completed "$count" 600
  stop_workers
  verify redis "submitted through the API in $batches batches of 500, Redis restarted half-way, $refused batch requests refused while it was down and sent again"
}

chaos_postgres() {
  enqueue_all
  start_workers
  wait_for_completed $((count / 5)) 300
  local at
  at=$(completed)
  as_postgres "$PG_BIN/pg_ctl" -D "$PHOENIX_PG_DATA" -m fast -w stop >/dev/null
  sleep 20
  as_postgres "$PG_BIN/pg_ctl" -D "$PHOENIX_PG_DATA" -l "$PHOENIX_PG_DATA/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PHOENIX_PG_PORT -c unix_socket_directories=$PHOENIX_PG_DATA -c max_connections=200" start >/dev/null
  local started=$SECONDS
  wait_for_completed "$count" 900
  local retries
  retries=$(redis_q HGET phx:queue:{events}:counters failed)
  stop_workers
  verify postgres "PostgreSQL stopped for 20 s after $at jobs; ${retries:-0} attempts failed and were retried; the rest done $((SECONDS - started)) s after it was back"
}

chaos_sigterm() {
  enqueue_all
  start_workers
  wait_for_completed $((count / 3)) 300
  local codes=() pid took started=$SECONDS leased
  for pid in "${worker_pids[@]}"; do kill -TERM "$pid"; done
  for pid in "${worker_pids[@]}"; do local code=0; wait "$pid" || code=$?; codes+=("$code"); done
  took=$((SECONDS - started))
  leased=$(redis_q ZCARD phx:queue:{events}:leased)
  worker_pids=()
  [ "$leased" -eq 0 ] && [ "${codes[*]}" = "0 0 0 0" ] || { echo "FAILED: sigterm: exit codes ${codes[*]}, $leased jobs left leased" >&2; return 1; }
  local at
  at=$(completed)
  start_workers
  wait_for_completed "$count" 600
  stop_workers
  verify sigterm "SIGTERM to all $workers workers after $at jobs: exit codes ${codes[*]} within ${took} s, 0 left leased; new workers finished the rest"
}

# Letters of free users at their quota, among the events: a redelivered letter whose results committed
# must be acknowledged, not refused by the quota it used itself.
chaos_mixed() {
  local letters=200
  enqueue_all
  python3 - "$PHOENIX_RUN_DIR/users.txt" > "$PHOENIX_RUN_DIR/letters.jsonl" <<'PY'
import json, sys
offer = "Company: Globex\nJob title: Mobile developer\nWe are hiring a mobile developer with Swift, Kotlin and Git to build our apps."
for user in open(sys.argv[1]).read().split():
    for _ in range(2):
        print(json.dumps({"type": "letter.generate", "payload": {"user_id": user, "job_offer_text": offer, "language": "en",
                                                                  "candidate": {"name": "Ada Martin", "skills": ["Swift", "Git"]}}}))
PY
  # In waves of 20, one a second, each followed at once by the kill, so that kills land among running letters
  # (a release build writes a wave within a few hundred milliseconds).
  split -l 20 "$PHOENIX_RUN_DIR/letters.jsonl" "$PHOENIX_RUN_DIR/letters-wave-"
  local waves=("$PHOENIX_RUN_DIR"/letters-wave-*)
  workers=2
  WORKER_TYPES=event_bridge,letters start_workers
  local kills=0 started=$SECONDS
  while [ "$(completed)" -lt "$count" ] || [ "$(letters_completed)" -lt "$letters" ]; do
    if [ "${#waves[@]}" -gt 0 ]; then
      "$phoenix" enqueue --file "${waves[0]}" >/dev/null
      waves=("${waves[@]:1}")
    else
      sleep 1
    fi
    kill -KILL "${worker_pids[0]}" 2>/dev/null || true
    wait "${worker_pids[0]}" 2>/dev/null || true
    WORKER_TYPES=event_bridge,letters start_worker 0
    kills=$((kills + 1))
    [ "${#waves[@]}" -eq 0 ] || sleep 1
    [ $((SECONDS - started)) -lt 900 ] || { echo "mixed: gave up after 900 s" >&2; return 1; }
  done
  local took=$((SECONDS - started))
  stop_workers
  workers=4
  local letter_dead letter_left stored per_user quota runs
  letter_dead=$(redis_q ZCARD phx:queue:{letters}:dead)
  letter_left=$(( $(redis_q LLEN phx:queue:{letters}:ready) + $(redis_q ZCARD phx:queue:{letters}:delayed) + $(redis_q ZCARD phx:queue:{letters}:leased) ))
  stored=$(psql_events -c "SELECT count(*) FROM public.letter_generations")
  per_user=$(psql_events -c "SELECT count(*) FROM (SELECT user_id FROM public.letter_generations GROUP BY user_id HAVING count(*) <> 2) u")
  quota=$(psql_events -c "SELECT coalesce(sum(letters_generated_used), 0) FROM public.user_usage_limits")
  runs=$(psql_events -c "SELECT count(*) FROM public.phoenix_job_runs WHERE type = 'letter.generate' AND status = 'completed'")
  # Letters fetched more than once (a SIGKILL caught them): the runs the redelivery path had to get right.
  redelivered=$(redis_q EVAL "local n = 0 for _, key in ipairs(redis.call('KEYS', 'phx:queue:{letters}:job:*')) do if redis.call('HGET', key, 'type') == 'letter.generate' and tonumber(redis.call('HGET', key, 'deliveries') or '0') > 1 then n = n + 1 end end return n" 0)
  echo "mixed letters: $letters jobs ($redelivered delivered more than once); completed $(letters_completed), dead $letter_dead, left $letter_left; letters stored $stored ($per_user users without exactly two), quota used $quota, letter runs $runs"
  [ "$(letters_completed)" -eq "$letters" ] && [ "$letter_dead" -eq 0 ] && [ "$letter_left" -eq 0 ] && [ "$stored" -eq "$letters" ] \
    && [ "$per_user" -eq 0 ] && [ "$quota" -eq "$letters" ] && [ "$runs" -eq "$letters" ] || { echo "FAILED: mixed letters" >&2; return 1; }
  # The events: the letters added one letter.generated event and one activity row each.
  EXTRA_EVENTS=$letters verify mixed "$kills SIGKILLs of one of two workers (one a second), ${took} s"
}

letters_completed() { local n; n=$(redis_q HGET phx:queue:{letters}:counters completed); [[ "$n" =~ ^[0-9]+$ ]] || n=0; echo "$n"; }

run() {
  PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-chaos.XXXXXX)
  start_event_platform
  "chaos_$1"
  cleanup
  api_pid=""
}

case "$scenario" in
  all) for name in kill redis postgres sigterm mixed; do run "$name"; done ;;
  kill|redis|postgres|sigterm|mixed) run "$scenario" ;;
  *) echo "unknown scenario '$scenario'; expected kill, redis, postgres, sigterm, mixed or all" >&2; exit 2 ;;
esac
