# Shared by Benchmarks/bench-events.sh and Benchmarks/chaos.sh: a private Redis and PostgreSQL with the
# migrations applied, 100 users with profiles, and event.publish jobs for them.
# Needs scripts/lib/services.sh sourced, PHOENIX_RUN_DIR set and $phoenix naming the executable.

# start_platform (Redis append-only when PHOENIX_REDIS_APPENDONLY=yes), then 100 users (their ids in
# $PHOENIX_RUN_DIR/users.txt).
start_event_platform() {
  start_platform "$phoenix"
  psql_events -c "INSERT INTO auth.users (id, email) SELECT gen_random_uuid(), 'bench-' || i || '@example.org' FROM generate_series(1, 100) i"
  psql_events -c "SELECT id FROM auth.users" > "$PHOENIX_RUN_DIR/users.txt"
}

# psql on the private database, unaligned and quiet.
psql_events() { psql -h 127.0.0.1 -p "$PHOENIX_PG_PORT" -U postgres -d phoenix -tAq "$@"; }

# Writes $1 event.publish jobs to file $2 ({"type", "payload"} per line, for `phoenix enqueue --file`), each
# with a distinct payload.n. With ROUTED=1 (default) the event types are ones the bridge routes to follow-up
# profile jobs. With EVENT_IDS=0 the jobs carry no event_id, so each event is stored under its job's id.
write_event_jobs() {
  python3 - "$1" "$PHOENIX_RUN_DIR/users.txt" > "$2" <<'PY'
import json, os, sys, uuid
count, users = int(sys.argv[1]), open(sys.argv[2]).read().split()
types = ["cv.generated", "letter.job_offer_analyzed", "cv.template_selected", "letter.generated"] if os.environ.get("ROUTED", "1") == "1" else ["cv.uploaded", "letter.job_offer_analyzed", "cv.template_selected", "letter.viewed"]
for i in range(count):
    payload = {"stream_id": users[i % len(users)], "event_type": types[i % len(types)], "app_source": "cv",
               "payload": {"n": i, "template": "modern"}, "session_id": "bench"}
    if os.environ.get("EVENT_IDS", "1") == "1":
        payload["event_id"] = str(uuid.uuid4())
    print(json.dumps({"type": "event.publish", "payload": payload}))
PY
}
