#!/usr/bin/env bash
# Runs schemathesis (from PyPI, in a virtualenv under .data/) against a live `phoenix serve` and its own
# OpenAPI document: every generated request must get no 5xx and a response that fits the document.
# Starts its own Redis and PostgreSQL on loopback; the whole run is made twice, with a service_role token
# and with a signed-in user's token, so the authenticated routes are exercised as both callers, not only
# their 401s. The two event streams are left out: a stream stays open as long as its job runs (or for ever, for
# a caller's stream), which a fuzzer reads as a hung request; JobEventsAPITests sends them hostile input instead.
# A long poll (`GET /v1/jobs/{id}?wait=60`) on a job no worker runs answers after its wait: hence the 65 s
# request timeout.
# Usage: scripts/api-fuzz.sh [max examples per operation, default 100]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

examples=${1:-100}
ensure_packages redis-server libhiredis-dev python3 python3-venv postgresql-15 postgresql-client-15
venv=.data/schemathesis-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis>=4,<5"
fi
swift build --product phoenix >&2
phoenix=.build/debug/phoenix

PHOENIX_RUN_DIR=$(mktemp -d /tmp/phoenix-fuzz.XXXXXX)
worker_pid=""
trap stop_worker_and_services EXIT
start_platform "$phoenix"
export STRIPE_WEBHOOK_SECRET=whsec_fuzz RATE_LIMIT_PER_MINUTE=1000000
serve_api "$phoenix"
port=$PHOENIX_API_PORT
user_token=$(user_token "$JWT_SECRET_KEY" "$(python3 -c 'import uuid; print(uuid.uuid4())')")
status=0
for token in "$PHOENIX_SERVICE_TOKEN" "$user_token"; do
  "$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.yaml" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance \
    --max-examples "$examples" --generation-deterministic --request-timeout 65 \
    --exclude-path /v1/events/stream --exclude-path "/v1/jobs/{id}/events" || status=$?
done
if grep -q "Request failed" "$PHOENIX_RUN_DIR/serve.log"; then
  echo "the server logged internal errors:" >&2
  grep "Request failed" "$PHOENIX_RUN_DIR/serve.log" | head -20 >&2
  status=1
fi
exit $status
