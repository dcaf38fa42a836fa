#!/usr/bin/env bash
# The test command (`make test`): installs what the tests need on a fresh machine, starts a private Redis on
# loopback, runs `swift test` against it (extra arguments go to swift test, e.g. --filter QueueTests), stops
# the server, and exits with the tests' status.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

ensure_packages redis-server libhiredis-dev python3
PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-test.XXXXXX)
trap stop_services EXIT
start_redis

status=0
# Every test is written with Swift Testing; XCTest would only add an empty "Executed 0 tests" run.
PHOENIX_TEST_REDIS_URL="$PHOENIX_REDIS_URL" swift test --disable-xctest "$@" || status=$?
exit $status
