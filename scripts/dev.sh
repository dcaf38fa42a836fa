#!/usr/bin/env bash
# The run command (`make dev`): installs what is missing (redis-server, libhiredis-dev, PostgreSQL 15),
# builds `phoenix`, and runs `phoenix dev --demo`: a private Redis and PostgreSQL under .data/ (unless
# REDIS_URL / DATABASE_URL are set), the migrations, the HTTP front and a worker of every type, an example
# of every job type, and where to look. Ctrl-C stops everything it started, gracefully.
# Extra arguments go to `phoenix dev` (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

ensure_packages redis-server python3 postgresql-15 postgresql-client-15
scripts/build.sh
exec .build/debug/phoenix dev --demo "$@"
