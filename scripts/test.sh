#!/usr/bin/env bash
# The test command (`make test`): installs what the tests need on a fresh machine, starts a private Redis and
# a private PostgreSQL 15 on loopback, runs `swift test` against them (extra arguments go to swift test, e.g.
# --filter QueueTests; without any, the queue and worker suites run a second time against a Redis Cluster it
# starts), stops the servers, and exits with the tests' status.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

# chromium and poppler-utils let the CV PDF test and the dashboard browser test run (they are skipped without them).
ensure_packages redis-server libhiredis-dev openssl python3 postgresql-15 postgresql-client-15 chromium poppler-utils python3-httpx python3-pytest nodejs
PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-test.XXXXXX)
trap stop_services EXIT
# The TLS tests start redis-servers of their own with these (RedisTLSTests).
make_test_certificates "$PHOENIX_RUN_DIR/tls"
start_redis
start_postgres "$PHOENIX_RUN_DIR/postgres" phoenix

status=0
# A full run (no arguments) also runs the chaos suite's mixed workload on the debug build (docs/RELIABILITY.md):
# 20,000 events and 200 letters of free users at their quota, one of two workers SIGKILLed every second. It
# starts servers of its own; it runs first so that swift test's summary closes the output.
if [ $# -eq 0 ]; then
  BUILD=debug Benchmarks/chaos.sh mixed 20000 || status=$?
  # The deploy files, with the tools that read them: Kubernetes and KEDA schemas, promtool and amtool.
  scripts/check-k8s.sh || status=$?
  scripts/check-alerts.sh || status=$?
  # The image's layout and start-up on the debug build: both command forms, HEALTHCHECK, tini reaping as PID 1.
  BUILD=debug scripts/check-image-layout.sh || status=$?
  # The Python and JavaScript clients against a live server (pytest, node --test).
  scripts/check-clients.sh || status=$?
  # The probe routes of Benchmarks/bench-http-floor.sh still apply to the sources.
  git apply --check Benchmarks/http-floor-routes.patch || status=$?
  # The variants of Benchmarks/enqueue-script-cost.py still apply to the enqueue script.
  python3 Benchmarks/enqueue-script-cost.py --check || status=$?
fi
# Every test is written with Swift Testing; XCTest would only add an empty "Executed 0 tests" run.
export PHOENIX_TEST_TLS_DIR="$PHOENIX_RUN_DIR/tls" PHOENIX_TEST_REDIS_URL="$PHOENIX_REDIS_URL" PHOENIX_TEST_DATABASE_URL="$PHOENIX_DATABASE_URL"
# Suites that load the machine for a minute (a 20,000-job failover run) run first, alone: run beside the
# others on 2 cores, they made timing-bound tests there miss their margins.
ALONE='SentinelFailoverTests|ClusterFailoverTests|ClusterPartitionTests'
if [ $# -eq 0 ]; then
  swift test --disable-xctest --filter "$ALONE" || status=$?
  swift test --disable-xctest --skip-build --skip "$ALONE" || status=$?
  # The queue and worker suites once more, against a Redis Cluster of 3 masters and 3 replicas: every queue
  # script's keys in one slot, the client following the slot map.
  start_redis_cluster
  PHOENIX_TEST_REDIS_CLUSTER_NODES="$PHOENIX_REDIS_CLUSTER_NODES" PHOENIX_TEST_REDIS_URL="redis://127.0.0.1:${PHOENIX_REDIS_CLUSTER_PORTS%% *}/0" \
    swift test --disable-xctest --skip-build --filter '^(QueueTests|WorkerTests)\.' --skip "$ALONE" || status=$?
else
  swift test --disable-xctest "$@" || status=$?
fi
exit $status
