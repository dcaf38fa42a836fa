#!/usr/bin/env bash
# The run command (`make dev`): Phoenix Jobs on this machine. Installs what is missing, builds `phoenix`,
# starts a private redis-server (append-only data under .data/redis) unless REDIS_URL is set and a private
# PostgreSQL 15 (data under .data/postgres) unless DATABASE_URL is set, both on loopback only, applies the
# migrations, starts a worker for every worker type, enqueues demo jobs, prints `phoenix stats`, and runs
# until Ctrl-C, which stops the worker gracefully (running jobs finish) and then the servers it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15
swift build --product phoenix
phoenix=.build/debug/phoenix

PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-dev.XXXXXX)
mkdir -p .data
if [ -z "${REDIS_URL:-}" ]; then
  start_persistent_redis "$PWD/.data/redis"
  export REDIS_URL="$PHOENIX_REDIS_URL"
fi
if [ -z "${DATABASE_URL:-}${SUPABASE_DB_URL:-}" ]; then
  start_postgres "$PWD/.data/postgres" phoenix
  export DATABASE_URL="$PHOENIX_DATABASE_URL"
fi
"$phoenix" migrate

worker_pid=""
shutdown() {
  trap - INT TERM EXIT
  stop_worker_and_services
  exit 0
}
trap shutdown INT TERM EXIT

WORKER_TYPE=${WORKER_TYPE:-all} "$phoenix" work &
worker_pid=$!

echo "enqueueing demo jobs" >&2
"$phoenix" enqueue diagnostic.noop >/dev/null
"$phoenix" enqueue diagnostic.sleep --payload '{"ms": 500}' >/dev/null
"$phoenix" enqueue diagnostic.fail --payload '{"message": "demo: this job fails on purpose", "permanent": true}' >/dev/null
sleep 2
"$phoenix" stats
cat >&2 <<MSG

Phoenix Jobs is running (Redis: $REDIS_URL, PostgreSQL: ${DATABASE_URL:-$SUPABASE_DB_URL}).
  enqueue:  REDIS_URL=$REDIS_URL $phoenix enqueue diagnostic.sleep --payload '{"ms": 100}'
  watch:    REDIS_URL=$REDIS_URL $phoenix stats --watch
  dead set: REDIS_URL=$REDIS_URL $phoenix dead list --queue diagnostics
Ctrl-C stops the worker (running jobs finish) and the servers this script started.
MSG
wait "$worker_pid"
