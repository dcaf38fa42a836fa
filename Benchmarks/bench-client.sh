#!/usr/bin/env bash
# Compares `phoenix bench` of this checkout with that of an earlier commit, by default e380e96: the last with
# the client that ran each Redis call on a thread of its own (hiredis), before the SwiftNIO client of issue
# 18. Both are release builds (the earlier one exported with `git archive` into .build/bench-client/<ref> and
# built there once). Each round runs the earlier binary, then this one, each with a private Redis of its own
# (`phoenix bench` starts it), so both meet the same machine within minutes; it prints each run's enqueue
# and processing rates, their medians and the ratios new / old.
# Usage: Benchmarks/bench-client.sh [ROUNDS=3] [JOBS=50000] [REF=e380e96]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

rounds=${1:-3}
jobs=${2:-50000}
ref=${3:-e380e96}
ensure_packages redis-server libhiredis-dev python3
old_dir=.build/bench-client/$ref
if [ ! -x "$old_dir/.build/release/phoenix" ]; then
  rm -rf "$old_dir"
  mkdir -p "$old_dir"
  git archive "$ref" | tar -x -C "$old_dir"
  (cd "$old_dir" && swift build -c release --product phoenix >&2)
fi
swift build -c release --product phoenix >&2
old=$old_dir/.build/release/phoenix
new=.build/release/phoenix

results=$(mktemp -d /tmp/phoenix-bench-client.XXXXXX)
trap 'rm -rf "$results"' EXIT
for round in $(seq 1 "$rounds"); do
  for side in old new; do
    binary=$old
    [ "$side" = new ] && binary=$new
    echo "round $round: $side ($binary)" >&2
    env -u REDIS_URL "$binary" bench --jobs "$jobs" --single 2000 --latency-jobs 0 --json > "$results/$side-$round.json"
  done
done

python3 - "$results" "$rounds" "$ref" <<'PY'
import json, statistics, sys
folder, rounds, ref = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fields = [("singleEnqueueRate", "enqueue one by one"), ("batchEnqueueRate", "enqueue in batches"), ("processingRate", "processing")]
runs = {side: [json.load(open(f"{folder}/{side}-{n}.json")) for n in range(1, rounds + 1)] for side in ("old", "new")}
print(f"{'jobs/s':<22}{'old (' + ref + ')':>28}{'new':>28}{'new / old':>11}")
for field, label in fields:
    medians = {}
    for side in ("old", "new"):
        values = [run[field] for run in runs[side]]
        medians[side] = statistics.median(values)
        runs[side + "_text"] = ", ".join(f"{v:,.0f}" for v in values)
    print(f"{label:<22}{runs['old_text']:>28}{runs['new_text']:>28}{medians['new'] / medians['old']:>10.2f}x")
    print(f"{'  median':<22}{medians['old']:>28,.0f}{medians['new']:>28,.0f}")
PY
