#!/usr/bin/env bash
# Splits the cost of `POST /v1/jobs` into steps, side by side in one run on one `phoenix serve` on loopback.
# The shipped server has no route that stops half-way, so the script builds one that has: it applies
# Benchmarks/http-floor-routes.patch (five probe routes, never committed to the sources) to a copy of the
# checked-out commit and builds it in release mode under .build/floor (the first build takes a while).
# All answer 202 with a job id as `POST /v1/jobs` does; from /floor/open down, each /v1 route does one step
# more than the one above it, and /floor/open-ping is /floor/open with a Redis round trip and nothing else:
#   POST /floor/open      no token, body not read
#   POST /floor/open-ping /floor/open + one Redis round trip (PING): what a round trip costs by itself
#   POST /v1/floor/auth   /floor/open + Bearer token check and rate-limit middleware
#   POST /v1/floor/parse  + the body read and checked as a submission, the job envelope made
#   POST /v1/floor/ping   + one Redis round trip (PING)
#   POST /v1/jobs         the real thing: the enqueue script instead of PING
# wrk runs each for DURATION seconds with CONNECTIONS connections, ROUNDS times in turn; the script prints
# requests/s, p99, each rate as a share of `GET /health`'s in the same round, and the CPU time the server and
# Redis spent per request. PHOENIX=path measures an already built probe binary. `make test` checks that the
# patch still applies to the sources.
# Usage: Benchmarks/bench-http-floor.sh [DURATION=6] [CONNECTIONS=50] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh
. Benchmarks/lib/http-bench.sh

duration=${1:-6}
connections=${2:-50}
rounds=${3:-2}
ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15 wrk
if [ -z "${PHOENIX:-}" ]; then
  copy=$(mktemp -d /tmp/phoenix-floor-src.XXXXXX)
  trap 'rm -rf "$copy"' EXIT  # a failed or interrupted build leaves no copy behind
  git archive HEAD | tar -x -C "$copy"
  git -C "$copy" init -q && git -C "$copy" apply "$PWD/Benchmarks/http-floor-routes.patch"
  swift build -c release --product phoenix --package-path "$copy" --scratch-path "$PWD/.build/floor" >&2
  rm -rf "$copy"
  PHOENIX=.build/floor/release/phoenix
fi
phoenix=$PHOENIX

start_http_bench "$phoenix"
curl -sf -o /dev/null -X POST "http://127.0.0.1:$PHOENIX_API_PORT/floor/open" \
  || { echo "$phoenix has no probe routes: build it from Benchmarks/http-floor-routes.patch" >&2; exit 1; }

steps=("health get /health" "open post /floor/open" "open-ping post /floor/open-ping" "auth post-auth /v1/floor/auth"
       "parse post-auth /v1/floor/parse" "ping post-auth /v1/floor/ping" "jobs post-auth /v1/jobs")
for round in $(seq "$rounds"); do
  rows=()
  for step in "${steps[@]}"; do
    set -- $step
    measure "$round-$1" "$2" "$3"
    rows+=("$round-$1=$(route_label "$2" "$3")")
  done
  echo "round $round"
  http_table "${rows[@]}"
done
