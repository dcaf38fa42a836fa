#!/usr/bin/env bash
# Runs what Dockerfile.worker's runtime stage holds, without a Docker engine: builds with the builder's
# command (scripts/build.sh), hides the build folder's resource bundles (so that Foundation can only find the
# ones staged beside the binary, as in the image), and runs the staged phoenix as the unprivileged user
# nobody from / with a bare environment against a private Redis and PostgreSQL, started as the image starts it:
#   - migrate; serve under both ways a platform may combine its command with the image: ENTRYPOINT (tini)
#     followed by Render's dockerCommand (Render, Kubernetes' args and compose replace CMD only), and the
#     dockerCommand alone (a platform that replaces ENTRYPOINT too): both serve the OpenAPI document and
#     dashboard from the staged API bundle;
#   - the image's HEALTHCHECK command: healthy for the API (PORT) and a worker (METRICS_PORT), unhealthy
#     when nothing serves;
#   - a cv.render job (templates from the CVRendering bundle; a PDF where Chromium is installed) run by the
#     image's ENTRYPOINT and CMD as PID 1 of a PID namespace of its own, as in a container: Chromium's
#     helper processes must not be left as zombies (the same render with phoenix itself as PID 1 is shown).
# Usage: BUILD=release|debug scripts/check-image-layout.sh [STAGED_DIR]
#   BUILD=release (default) is the image's build; `make test` runs BUILD=debug (the same layout, without a
#   release build's minutes). STAGED_DIR: a folder staged earlier by scripts/build.sh. Needs root (PID namespace).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

build=${BUILD:-release}
ensure_packages redis-server libhiredis-dev python3 postgresql-15 postgresql-client-15 curl tini util-linux
PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-image.XXXXXX)
chmod 755 "$PHOENIX_RUN_DIR"
stage=${1:-$PHOENIX_RUN_DIR/opt/phoenix}
[ -n "${1:-}" ] || scripts/build.sh "$build" "$stage"
chmod -R a+rX "$stage"
if [ "$build" = release ]; then bin=$(swift build -c release --show-bin-path 2>/dev/null); else bin=$(swift build --show-bin-path 2>/dev/null); fi
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
fail() { echo "FAILED: $*" >&2; exit 1; }
start_redis
start_postgres "$PHOENIX_RUN_DIR/postgres" phoenix

# What the image gives every process: its ENTRYPOINT, CMD and HEALTHCHECK, and Render's command for the API.
json_words() { python3 -c 'import json, sys; print(" ".join(json.loads(sys.stdin.read().split(None, 1)[1])))'; }
read -r -a entrypoint <<<"$(grep '^ENTRYPOINT ' Dockerfile.worker | json_words)"
read -r -a image_cmd <<<"$(grep '^CMD ' Dockerfile.worker | json_words)"
read -r -a render_serve <<<"$(sed -n 's/^ *dockerCommand: *//p' Deploy/render.yaml | head -1)"
healthcheck=$(python3 -c '
import re
text = open("Dockerfile.worker").read().replace("\\\n", " ")
print(re.search(r"^HEALTHCHECK .*?\bCMD (.*)$", text, re.M).group(1).strip())')
[ "${render_serve[*]}" = "phoenix serve" ] || fail "Render's API command is '${render_serve[*]}'"

# Runs "$@" as the image runs its processes: user nobody, from /, only the image's variables (plus $extra).
# image_exec replaces the (sub)shell it runs in, so that `image_exec … &` gives the process's own pid in $!.
extra=()
image_exec() {
  cd / && exec setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH="$stage/bin:/usr/bin:/bin" \
    PHOENIX_MIGRATIONS_DIR="$stage/migrations" REDIS_URL="$PHOENIX_REDIS_URL" DATABASE_URL="$PHOENIX_DATABASE_URL" \
    JWT_SECRET_KEY=image-check-secret-of-at-least-32-bytes DASHBOARD_PASSWORD=image-check LOG_LEVEL=warning "${extra[@]}" "$@"
}
as_image() { (image_exec "$@"); }
healthy() { extra=("$@"); as_image sh -c "$healthcheck" >/dev/null 2>&1; }
wait_healthy() { for _ in $(seq 300); do healthy "$@" && return 0; sleep 0.1; done; return 1; }

as_image phoenix migrate

port=$(free_port)
for form in "entrypoint+command" "command"; do
  if [ "$form" = command ]; then command=("${render_serve[@]}"); else command=("${entrypoint[@]}" "${render_serve[@]}"); fi
  extra=(PORT="$port")
  image_exec "${command[@]}" 2>"$PHOENIX_RUN_DIR/serve.log" &
  serve=$!
  wait_healthy PORT="$port" METRICS_PORT=1 || { cat "$PHOENIX_RUN_DIR/serve.log" >&2; fail "'${command[*]}' is not healthy"; }
  # Read whole before matching: `curl | grep -q` fails under pipefail when grep stops reading early.
  openapi=$(curl -sf "http://127.0.0.1:$port/openapi.yaml") || fail "no OpenAPI document ($form)"
  grep -q "^openapi: 3" <<<"$openapi" || fail "no OpenAPI document ($form)"
  dashboard=$(curl -s "http://127.0.0.1:$port/dashboard")
  grep -q "<title>Phoenix Jobs" <<<"$dashboard" || fail "no dashboard page ($form)"
  echo "serve ($form: ${command[*]}): healthy; OpenAPI document and dashboard page served from the staged API bundle"
  kill -TERM "$serve"; wait "$serve" || true
done
healthy PORT="$port" METRICS_PORT="$(free_port)" && fail "the HEALTHCHECK passes with nothing serving"
echo "HEALTHCHECK: '$healthcheck' fails with nothing serving"

psql_image() { psql -h 127.0.0.1 -p "$PHOENIX_PG_PORT" -U postgres -d phoenix -tAq "$@"; }
# One cv.render with the given command run as PID 1 of a new PID namespace; prints the zombies left in it.
render_as_pid1() {
  local name=$1; shift
  local metrics
  metrics=$(free_port)
  extra=(METRICS_PORT="$metrics" PORT=1)
  (cd / && exec unshare --pid --fork --mount-proc setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH="$stage/bin:/usr/bin:/bin" \
    REDIS_URL="$PHOENIX_REDIS_URL" DATABASE_URL="$PHOENIX_DATABASE_URL" WORKER_TYPE=cv METRICS_PORT="$metrics" LOG_LEVEL=warning "$@") 2>"$PHOENIX_RUN_DIR/work-$name.log" &
  local namespace=$!
  wait_healthy METRICS_PORT="$metrics" PORT=1 || { cat "$PHOENIX_RUN_DIR/work-$name.log" >&2; fail "the cv worker ($name) is not healthy"; }
  local user id state=""
  user=$(psql_image -c "INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'image-$name@example.org') RETURNING id" | head -1)
  extra=()
  id=$(as_image phoenix enqueue cv.render --payload "{\"user_id\": \"$user\", \"template\": \"classic\", \"cv_data\": {\"basics\": {\"name\": \"Ada Image\"}}}")
  for _ in $(seq 300); do
    state=$(redis-cli -p "$PHOENIX_REDIS_PORT" HGET "phx:queue:{cv}:job:$id" state)
    [ "$state" = completed ] && break
    sleep 0.2
  done
  [ "$state" = completed ] || { cat "$PHOENIX_RUN_DIR/work-$name.log" >&2; fail "cv.render ended $state ($name)"; }
  sleep 1
  # The namespace's PID 1 is unshare's child; count the zombies among its descendants.
  local init
  init=$(pgrep -P "$namespace" | head -1)
  ps -eo pid=,ppid=,stat= | python3 -c '
import sys
root, children = int(sys.argv[1]), {}
for pid, ppid, stat in (line.split()[:3] for line in sys.stdin):
    children.setdefault(int(ppid), []).append((int(pid), stat))
zombies, todo = 0, [root]
while todo:
    for pid, stat in children.get(todo.pop(), []):
        zombies += stat.startswith("Z")
        todo.append(pid)
print(zombies)' "$init"
  kill -TERM "$init"
  wait "$namespace" || true
}
zombies=$(render_as_pid1 image "${entrypoint[@]}" "${image_cmd[@]}")
echo "work (${entrypoint[*]} ${image_cmd[*]} as PID 1): cv.render completed: $(psql_image -c "SELECT 'template ' || template_used || ', pdf_status ' || coalesce(pdf_status, '-') || ', ' || coalesce(length(generated_pdf), 0) || ' PDF bytes' FROM cv_generations ORDER BY created_at DESC LIMIT 1"); zombies left: $zombies"
[ "$zombies" = 0 ] || fail "$zombies zombie processes left under the image's init"
bare=$(render_as_pid1 bare "${image_cmd[@]}")
echo "for comparison, ${image_cmd[*]} itself as PID 1: zombies left: $bare"
