# Shared by Benchmarks/bench-http.sh and Benchmarks/bench-http-floor.sh: one `phoenix serve` on a private Redis
# and PostgreSQL, wrk runs against it with the CPU time the server and Redis spend meanwhile, and the table.
# Needs scripts/lib/services.sh sourced; wrk runs with $connections connections for $duration seconds.

# Starts the platform and `phoenix serve` with $1 under a new $PHOENIX_RUN_DIR (stopped on exit), with the
# per-caller rate limit out of the way, and writes wrk scripts there: get.lua (any GET), post.lua (a
# diagnostic.noop submission without a token) and post-auth.lua (the same with a service_role token). Each
# stops wrk at the first answer that is not a success, so a refused request never counts as served.
start_http_bench() {
  PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-bench-http.XXXXXX)
  worker_pid=""
  trap stop_worker_and_services EXIT
  start_platform "$1"
  export RATE_LIMIT_PER_MINUTE=1000000
  serve_api "$1"
  redis_pid=$(cat "$PHOENIX_RUN_DIR/redis/redis.pid")
  local ok='response = function(status, headers, body) if status >= 300 then error("status " .. status .. ": " .. body) end end'
  local body="wrk.method = \"POST\"
wrk.body = '{\"type\": \"diagnostic.noop\", \"payload\": {\"bench\": true}}'
wrk.headers[\"Content-Type\"] = \"application/json\""
  local auth="wrk.headers[\"Authorization\"] = \"Bearer $PHOENIX_SERVICE_TOKEN\""
  printf '%s\n' "$ok" > "$PHOENIX_RUN_DIR/get.lua"
  printf '%s\n%s\n' "$body" "$ok" > "$PHOENIX_RUN_DIR/post.lua"
  printf '%s\n%s\n%s\n' "$body" "$auth" "$ok" > "$PHOENIX_RUN_DIR/post-auth.lua"
}

# cpu_ticks PID: the CPU time (user + system, in clock ticks) the process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# measure NAME SCRIPT PATH: one wrk run with $PHOENIX_RUN_DIR/SCRIPT.lua against PATH; leaves wrk's output in
# $PHOENIX_RUN_DIR/NAME.txt and the CPU ticks the server and Redis used meanwhile in NAME.cpu.
measure() {
  local server_before redis_before
  server_before=$(cpu_ticks "$worker_pid")
  redis_before=$(cpu_ticks "$redis_pid")
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$PHOENIX_RUN_DIR/$2.lua" "http://127.0.0.1:$PHOENIX_API_PORT$3" \
    > "$PHOENIX_RUN_DIR/$1.txt"
  echo "$(( $(cpu_ticks "$worker_pid") - server_before )) $(( $(cpu_ticks "$redis_pid") - redis_before ))" > "$PHOENIX_RUN_DIR/$1.cpu"
}

# route_label SCRIPT PATH: how a run with $PHOENIX_RUN_DIR/SCRIPT.lua against PATH is named in the table.
route_label() { if [ "$1" = get ]; then echo "GET $2"; else echo "POST $2"; fi; }

# http_table NAME=ROUTE…: one line per measured NAME (the first is the reference, `/health`): requests/s, p99,
# the rate as a share of the first's, and the server's and Redis's CPU time per request.
http_table() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/http-table.py" "$PHOENIX_RUN_DIR" "$(getconf CLK_TCK)" "$@"
}
