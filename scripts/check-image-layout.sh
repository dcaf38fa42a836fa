#!/usr/bin/env bash
# Runs what Dockerfile.worker's runtime stage holds, without a Docker engine: builds with the builder's
# command (scripts/build.sh release), hides the build folder's resource bundles (so that Foundation can only
# find the ones staged beside the binary, as in the image), and runs the staged phoenix as the unprivileged
# user nobody from / with a bare environment against a private Redis and PostgreSQL: migrate, serve
# (OpenAPI document and dashboard from the API bundle), and a cv.render job (templates from the CVRendering
# bundle; a PDF where Chromium is installed).
# Usage: scripts/check-image-layout.sh [STAGED_DIR]   (a folder staged earlier by scripts/build.sh release)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15 curl
PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-image.XXXXXX)
chmod 755 "$PHOENIX_RUN_DIR"
stage=${1:-$PHOENIX_RUN_DIR/opt/phoenix}
[ -n "${1:-}" ] || scripts/build.sh release "$stage"
chmod -R a+rX "$stage"
bin=$(swift build -c release --show-bin-path 2>/dev/null)
hidden=()
for bundle in "$bin"/phoenix-jobs_*.resources; do
  [ -d "$bundle" ] && mv "$bundle" "$bundle.hidden" && hidden+=("$bundle")
done
restore() {
  pkill -f "$stage/bin/phoenix" 2>/dev/null || true
  for bundle in "${hidden[@]}"; do mv "$bundle.hidden" "$bundle"; done
  stop_services
}
trap restore EXIT
start_redis
start_postgres "$PHOENIX_RUN_DIR/postgres" phoenix
as_image() {
  (cd / && runuser -u nobody -- env -i PATH="$stage/bin:/usr/bin:/bin" PHOENIX_MIGRATIONS_DIR="$stage/migrations" \
    REDIS_URL="$PHOENIX_REDIS_URL" DATABASE_URL="$PHOENIX_DATABASE_URL" JWT_SECRET_KEY=image-check-secret-of-at-least-32-bytes \
    DASHBOARD_PASSWORD=image-check LOG_LEVEL=warning "$@")
}
as_image phoenix migrate
port=$(free_port)
as_image phoenix serve --port "$port" 2>"$PHOENIX_RUN_DIR/serve.log" &
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/openapi.yaml" | grep -q "^openapi: 3" || { echo "FAILED: no OpenAPI document" >&2; exit 1; }
curl -s "http://127.0.0.1:$port/dashboard" | grep -q "<title>Phoenix Jobs" || { echo "FAILED: no dashboard page" >&2; exit 1; }
echo "serve: OpenAPI document and dashboard page served from the staged API bundle"
as_image phoenix work --type cv 2>"$PHOENIX_RUN_DIR/work.log" &
psql_image() { psql -h 127.0.0.1 -p "$PHOENIX_PG_PORT" -U postgres -d phoenix -tAq "$@"; }
user=$(psql_image -c "INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'image@example.org') RETURNING id" | head -1)
id=$(as_image phoenix enqueue cv.render --payload "{\"user_id\": \"$user\", \"template\": \"classic\", \"cv_data\": {\"basics\": {\"name\": \"Ada Image\"}}}")
state=""
for _ in $(seq 150); do
  state=$(redis-cli -p "$PHOENIX_REDIS_PORT" HGET "phx:job:$id" state)
  [ "$state" = completed ] && break
  sleep 0.2
done
[ "$state" = completed ] || { echo "FAILED: cv.render ended $state" >&2; cat "$PHOENIX_RUN_DIR/work.log" >&2; exit 1; }
echo "work: cv.render completed: $(psql_image -c "SELECT 'template ' || template_used || ', pdf_status ' || coalesce(pdf_status, '-') || ', ' || coalesce(length(generated_pdf), 0) || ' PDF bytes' FROM cv_generations")"
