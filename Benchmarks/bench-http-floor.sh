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

duration=${1:-6}
connections=${2:-50}
rounds=${3:-2}
ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15 wrk
if [ -z "${PHOENIX:-}" ]; then
  copy=$(mktemp -d /tmp/phoenix-floor-src.XXXXXX)
  git archive HEAD | tar -x -C "$copy"
  git -C "$copy" init -q && git -C "$copy" apply "$PWD/Benchmarks/http-floor-routes.patch"
  swift build -c release --product phoenix --package-path "$copy" --scratch-path "$PWD/.build/floor" >&2
  rm -rf "$copy"
  PHOENIX=.build/floor/release/phoenix
fi
phoenix=$PHOENIX

PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-bench-floor.XXXXXX)
worker_pid=""
trap stop_worker_and_services EXIT
start_platform "$phoenix"
export RATE_LIMIT_PER_MINUTE=1000000
serve_api "$phoenix"
curl -sf -o /dev/null -X POST "http://127.0.0.1:$PHOENIX_API_PORT/floor/open" \
  || { echo "$phoenix has no probe routes: build it from Benchmarks/http-floor-routes.patch" >&2; exit 1; }

ok='response = function(status, headers, body) if status >= 300 then error("status " .. status .. ": " .. body) end end'
auth="wrk.headers[\"Authorization\"] = \"Bearer $PHOENIX_SERVICE_TOKEN\""
body="wrk.method = \"POST\"
wrk.body = '{\"type\": \"diagnostic.noop\", \"payload\": {\"bench\": true}}'
wrk.headers[\"Content-Type\"] = \"application/json\""
printf '%s\n' "$ok" > "$PHOENIX_RUN_DIR/get.lua"
printf '%s\n%s\n' "$body" "$ok" > "$PHOENIX_RUN_DIR/post.lua"
printf '%s\n%s\n%s\n' "$body" "$auth" "$ok" > "$PHOENIX_RUN_DIR/post-auth.lua"

redis_pid=$(cat "$PHOENIX_RUN_DIR/redis/redis.pid")
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
steps=("health get /health" "open post /floor/open" "open-ping post /floor/open-ping" "auth post-auth /v1/floor/auth" "parse post-auth /v1/floor/parse"
       "ping post-auth /v1/floor/ping" "jobs post-auth /v1/jobs")
for round in $(seq "$rounds"); do
  for step in "${steps[@]}"; do
    set -- $step
    server_before=$(cpu_ticks "$worker_pid")
    redis_before=$(cpu_ticks "$redis_pid")
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$PHOENIX_RUN_DIR/$2.lua" "http://127.0.0.1:$PHOENIX_API_PORT$3" \
      > "$PHOENIX_RUN_DIR/$round-$1.txt"
    echo "$(( $(cpu_ticks "$worker_pid") - server_before )) $(( $(cpu_ticks "$redis_pid") - redis_before ))" > "$PHOENIX_RUN_DIR/$round-$1.cpu"
  done
done

python3 - "$PHOENIX_RUN_DIR" "$(getconf CLK_TCK)" "$rounds" <<'PY'
import re, sys
units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
directory, ticks_per_second, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def figures(name):
    text = open(f"{directory}/{name}.txt").read()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    server, redis = (int(ticks) * 1e6 / ticks_per_second / requests for ticks in open(f"{directory}/{name}.cpu").read().split())
    return rate, float(value) * units[unit], server, redis
steps = [("health", "GET /health"), ("open", "POST /floor/open"), ("open-ping", "POST /floor/open-ping"),
         ("auth", "POST /v1/floor/auth"),
         ("parse", "POST /v1/floor/parse"), ("ping", "POST /v1/floor/ping"), ("jobs", "POST /v1/jobs")]
for round in range(1, rounds + 1):
    print(f"round {round}")
    print(f"{'route':<22}{'requests/s':>12}{'p99':>12}{'of /health':>12}{'server CPU':>14}{'Redis CPU':>14}")
    health = figures(f"{round}-health")[0]
    for name, route in steps:
        rate, p99, server, redis = figures(f"{round}-{name}")
        print(f"{route:<22}{rate:>12,.0f}{p99:>10.2f} ms{rate / health:>11.0%}{server:>9.0f} us/req{redis:>9.0f} us/req")
PY
