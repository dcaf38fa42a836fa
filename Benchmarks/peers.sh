#!/usr/bin/env bash
# Phoenix Jobs against Python's RQ, Celery, Dramatiq and arq on the same Redis server, in one run, with
# the same workload: JOBS no-op jobs, WORKERS processes. Then redis-benchmark's unpipelined LPUSH and RPOP
# rates, whose mean divided by two is the ceiling of a queue that spends one push and one pop per job.
# Installs each Python library from PyPI into a virtualenv of its own (.data/peers-venv/<peer>: arq and
# Celery need different redis-py versions), with hiredis for redis-py's parser; prints a table, and the
# raw JSON lines to .data/peers-<time>.jsonl. docs/BENCHMARKS.md has the figures and what each peer ran.
# Usage: Benchmarks/peers.sh [JOBS=20000] [WORKERS=2] [CONCURRENCY=50]   (BUILD=debug to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh
. Benchmarks/lib/push-pop-ceiling.sh

jobs=${1:-20000}
workers=${2:-2}
concurrency=${3:-50}
ensure_packages redis-server redis-tools libhiredis-dev python3 python3-venv
build=${BUILD:-release}
swift build -c "$build" --product phoenix >&2
venvs=${PEER_VENV:-.data/peers-venv}
declare -A packages=([rq]="rq" [celery]="celery[redis]" [dramatiq]="dramatiq[redis]" [arq]="arq")
for peer in "${!packages[@]}"; do
  [ -x "$venvs/$peer/bin/python" ] || python3 -m venv "$venvs/$peer"
  "$venvs/$peer/bin/pip" install -q --disable-pip-version-check "${packages[$peer]}" hiredis >&2
done

PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-peers.XXXXXX)
trap stop_services EXIT
start_redis
out=.data/peers-$(date -u +%Y%m%dT%H%M%SZ).jsonl
mkdir -p .data

{
  python3 - "$jobs" "$workers" "$concurrency" <<'PY'
import json, os, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(json.dumps({"machine": {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
      "redis": subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip(),
      "python": platform.python_version()}, "jobs": int(sys.argv[1]), "workers": int(sys.argv[2]), "concurrency": int(sys.argv[3])}))
PY
  # Phoenix Jobs: db 0 under a key prefix of its own; each peer: db 1, flushed first.
  REDIS_URL="$PHOENIX_REDIS_URL" ".build/$build/phoenix" bench --jobs "$jobs" --single 2000 --workers "$workers" \
    --concurrency "$concurrency" --latency-jobs 1000 --json | python3 -c 'import json, sys; print(json.dumps({"peer": "phoenix", **json.load(sys.stdin)}))'
  for peer in rq celery dramatiq arq; do
    echo "running $peer" >&2
    PEER_REDIS_URL="redis://127.0.0.1:$PHOENIX_REDIS_PORT/1" "$venvs/$peer/bin/python" Benchmarks/peers/run.py "$peer" "$jobs" "$workers" "$concurrency"
  done
  push_pop_ceiling "$PHOENIX_REDIS_PORT"
} | tee "$out" >/dev/null

python3 - "$out" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
machine = lines[0]
print(f"{machine['machine']['cpu']}, {machine['machine']['cores']} cores, {machine['machine']['redis']}")
print(f"{machine['jobs']} no-op jobs, {machine['workers']} worker processes\n")
print(f"{'QUEUE':<16}{'VERSION':<10}{'ENQUEUE/S':>12}{'PROCESS/S':>12}{'PEAK RSS':>10}")
for l in lines[1:]:
    if l["peer"] == "phoenix":
        print(f"{'phoenix':<16}{'':<10}{round(l['batchEnqueueRate']):>12}{round(l['processingRate']):>12}{max(l['workerPeakRSSMegabytes']):>8.1f}MB")
    elif l["peer"] == "redis-benchmark":
        print(f"\nredis-benchmark -c 50 (no -P): LPUSH {l['lpush']:.0f}/s, RPOP {l['rpop']:.0f}/s -> ceiling {l['ceiling']} jobs/s")
    else:
        print(f"{l['peer']:<16}{l['version']:<10}{l['enqueue_rate']:>12}{l['processing_rate']:>12}{l['peak_rss_mb'] or 0:>8.1f}MB")
print(f"\nraw results: {sys.argv[1]}")
PY
