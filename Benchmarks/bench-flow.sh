#!/usr/bin/env bash
# Flow control (issue 19), three measurements with a release build, each with private redis-servers that
# `phoenix` starts:
# 1. `phoenix bench-fairness`: user A's backlog of 100 ms jobs, then one job of user B, one worker of
#    concurrency 10; how long B's job waited, with fair share off and on.
# 2. The cost of the machinery: `phoenix bench` (no-op jobs naming USERS users in turn, 2 workers × 50)
#    with fair share off and on, alternated for ROUNDS rounds; the processing rates, their medians and the
#    ratio on / off.
# 3. `phoenix bench-rate --provider`: a rate limit of RPM jobs started per minute on the diagnostics queue, 4
#    worker processes, each job calling a fake letter provider on loopback that enforces RPM itself (429 with
#    Retry-After over it), counted over SECONDS: the calls the provider answered against what the limit
#    allows, its 429s, and the attempts they cost.
# 4. The same with the provider's own limit at 80 % of the queue's: every 429 holds the queue back.
# Usage: Benchmarks/bench-flow.sh [ROUNDS=3] [JOBS=50000] [USERS=1000] [BACKLOG=10000] [RPM=600] [SECONDS=120]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

rounds=${1:-3}
jobs=${2:-50000}
users=${3:-1000}
backlog=${4:-10000}
rpm=${5:-600}
seconds=${6:-120}
ensure_packages redis-server libhiredis-dev python3
swift build -c release --product phoenix >&2
phoenix=.build/release/phoenix

env -u REDIS_URL "$phoenix" bench-fairness --backlog "$backlog" --handler-ms 100 --concurrency 10 --give-up 30 | tail -3
echo

results=$(mktemp -d /tmp/phoenix-bench-flow.XXXXXX)
trap 'rm -rf "$results"' EXIT
for round in $(seq 1 "$rounds"); do
  for side in off on; do
    flag=
    [ "$side" = on ] && flag=--fair-share
    echo "round $round: fair share $side" >&2
    env -u REDIS_URL "$phoenix" bench --jobs "$jobs" --single 0 --latency-jobs 0 --users "$users" $flag --json > "$results/$side-$round.json"
  done
done

python3 - "$results" "$rounds" "$jobs" "$users" <<'PY'
import json, statistics, sys
folder, rounds, jobs, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rates = {side: [json.load(open(f"{folder}/{side}-{n}.json"))["processingRate"] for n in range(1, rounds + 1)] for side in ("off", "on")}
print(f"no-op processing, {jobs:,} jobs of {users:,} users, 2 workers x 50 (jobs/s)")
for side in ("off", "on"):
    print(f"fair share {side:<4}" + "".join(f"{rate:>10,.0f}" for rate in rates[side]) + f"   median {statistics.median(rates[side]):,.0f}")
print(f"on / off: {statistics.median(rates['on']) / statistics.median(rates['off']):.2f}")
PY
echo
env -u REDIS_URL "$phoenix" bench-rate --provider --rpm "$rpm" --workers 4 --concurrency 10 --seconds "$seconds" | tail -4
echo
env -u REDIS_URL "$phoenix" bench-rate --provider --provider-rpm $((rpm * 4 / 5)) --rpm "$rpm" --workers 4 --concurrency 10 --seconds "$seconds" | tail -4
