#!/usr/bin/env bash
# The cost per job (issue 21), measured side by side on one private Redis, ROUNDS times alternated:
#   phoenix bench  — JOBS no-op jobs enqueued in batches of 1,000 (and 2,000 one by one) while the queue is
#                    paused, then processed by WORKERS `phoenix work` processes × CONCURRENCY; then the
#                    enqueue-to-lease latency of 1,000 jobs at 200/s (the release build the image ships,
#                    by scripts/build.sh);
#   Sidekiq        — Debian's ruby-sidekiq: the same jobs with push_bulk, processed by WORKERS
#                    `sidekiq -c CONCURRENCY/2` processes (Benchmarks/peers/sidekiq_bench.rb);
#   redis-benchmark -c 50 -t lpush,rpop (no pipelining): the ceiling of a queue spending one push and one pop
#                    per job, (LPUSH/s + RPOP/s) / 2 / 2.
# Prints each round and the ratios the issue sets goals for: bulk enqueue against Sidekiq's push_bulk,
# processing against the ceiling; with one-by-one enqueue, the latency p99 and the workers' peak RSS.
# Usage: Benchmarks/bench-cost.sh [JOBS=20000] [ROUNDS=3] [WORKERS=2] [CONCURRENCY=50]   (BUILD=debug skips the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh
. Benchmarks/lib/push-pop-ceiling.sh

jobs=${1:-20000}
rounds=${2:-3}
workers=${3:-2}
concurrency=${4:-50}
ensure_packages redis-server redis-tools libhiredis-dev python3 ruby-sidekiq
build=${BUILD:-release}

PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-bench-cost.XXXXXX)
trap stop_services EXIT
# The binary as the image holds it: the workers' RSS is one of the goals, and it depends on how it is linked.
scripts/build.sh "$build" "$PHOENIX_RUN_DIR/image" >&2
phoenix="$PHOENIX_RUN_DIR/image/bin/phoenix"
start_redis
results="$PHOENIX_RUN_DIR/results.jsonl"

for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds" >&2
  # Phoenix Jobs: database 0 under a key prefix of its own; Sidekiq: database 1, flushed first.
  REDIS_URL="$PHOENIX_REDIS_URL" "$phoenix" bench --jobs "$jobs" --single 2000 --workers "$workers" \
    --concurrency "$concurrency" --latency-jobs 1000 --json |
    python3 -c 'import json, sys; print(json.dumps({"round": int(sys.argv[1]), "peer": "phoenix", **json.load(sys.stdin)}))' "$round" >>"$results"
  REDIS_URL="redis://127.0.0.1:$PHOENIX_REDIS_PORT/1" ruby Benchmarks/peers/sidekiq_bench.rb "$jobs" "$workers" $((concurrency / 2)) |
    python3 -c 'import json, sys; print(json.dumps({"round": int(sys.argv[1]), **json.load(sys.stdin)}))' "$round" >>"$results"
  push_pop_ceiling "$PHOENIX_REDIS_PORT" |
    python3 -c 'import json, sys; print(json.dumps({"round": int(sys.argv[1]), **json.load(sys.stdin)}))' "$round" >>"$results"
done

python3 - "$results" "$jobs" "$workers" "$concurrency" <<'PY'
import json, statistics, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
jobs, workers, concurrency = sys.argv[2:5]
by = lambda peer: [l for l in lines if l["peer"] == peer]
phoenix, sidekiq, ceiling = by("phoenix"), by("sidekiq"), by("redis-benchmark")
print(f"{jobs} no-op jobs, {workers} worker processes; phoenix × {concurrency}, sidekiq -c {int(concurrency) // 2}; {phoenix[0]['redis']}")
print(f"{'round':<6}{'phoenix bulk/s':>15}{'sidekiq bulk/s':>15}{'ratio':>7}{'phoenix proc/s':>15}{'ceiling/s':>10}{'ratio':>7}"
      f"{'sidekiq proc/s':>15}{'single/s':>10}{'p99 ms':>8}{'phoenix RSS':>12}{'sidekiq RSS':>12}")
for p, s, c in zip(phoenix, sidekiq, ceiling):
    print(f"{p['round']:<6}{p['batchEnqueueRate']:>15.0f}{s['enqueue_rate']:>15}{p['batchEnqueueRate'] / s['enqueue_rate']:>7.2f}"
          f"{p['processingRate']:>15.0f}{c['ceiling']:>10.0f}{p['processingRate'] / c['ceiling']:>7.2f}{s['processing_rate']:>15}"
          f"{p['singleEnqueueRate']:>10.0f}{p['latency']['p99']:>8.1f}{max(p['workerPeakRSSMegabytes']):>10.1f}MB{s['peak_rss_mb']:>10.1f}MB")
median = lambda values: statistics.median(values)
print(f"medians: bulk enqueue phoenix/sidekiq {median([p['batchEnqueueRate'] / s['enqueue_rate'] for p, s in zip(phoenix, sidekiq)]):.2f}, "
      f"processing phoenix/ceiling {median([p['processingRate'] / c['ceiling'] for p, c in zip(phoenix, ceiling)]):.2f}, "
      f"processing phoenix/sidekiq {median([p['processingRate'] / s['processing_rate'] for p, s in zip(phoenix, sidekiq)]):.2f}")
PY
