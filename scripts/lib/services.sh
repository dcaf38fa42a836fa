# Shared shell helpers: install missing Debian packages, start and stop private servers on loopback.
# Sourced by scripts/test.sh (and later by the dev runner); every server it starts lives under $PHOENIX_RUN_DIR.

# Installs the Debian packages that are not installed yet (apt-get update first, once).
ensure_packages() {
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${missing[*]}" >&2
  $sudo apt-get update -q >&2
  # RUNLEVEL=1: packages that ship a service (redis-server, prometheus) do not start it; the scripts start their own.
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q "${missing[@]}" >&2
}

# Prints a TCP port that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts a private redis-server on a free loopback port; exports PHOENIX_REDIS_PORT and PHOENIX_REDIS_URL.
# PHOENIX_REDIS_APPENDONLY=yes turns on the append-only file (fsync every second), as in production.
start_redis() {
  PHOENIX_REDIS_PORT=$(free_port)
  launch_redis
}

# Stops the private redis-server (SHUTDOWN, which writes the append-only file) and starts it again on the
# same port with the same data folder, as a restart in production would.
restart_redis() {
  local pid
  pid=$(cat "$PHOENIX_RUN_DIR/redis/redis.pid")
  redis-cli -p "$PHOENIX_REDIS_PORT" shutdown >/dev/null 2>&1 || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  launch_redis
}

launch_redis() {
  local dir="$PHOENIX_RUN_DIR/redis"
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$PHOENIX_REDIS_PORT" --dir "$dir" \
    --save "" --appendonly "${PHOENIX_REDIS_APPENDONLY:-no}" --appendfsync everysec \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  wait_for_redis "$dir/redis.log"
}

# Waits until the redis-server on $PHOENIX_REDIS_PORT answers; exports its URL. $1: its log, shown on failure.
wait_for_redis() {
  for _ in $(seq 1 100); do
    redis-cli -p "$PHOENIX_REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$PHOENIX_REDIS_PORT" ping >/dev/null || { cat "$1" >&2; return 1; }
  export PHOENIX_REDIS_PORT
  export PHOENIX_REDIS_URL="redis://127.0.0.1:$PHOENIX_REDIS_PORT/0"
  echo "redis-server listening on 127.0.0.1:$PHOENIX_REDIS_PORT" >&2
}

# Prints a TCP port that nothing listens on, nor on the port 10000 above it (a cluster node's bus), both below
# the kernel's ephemeral range (32768 and up), where other servers' free ports come from.
free_cluster_port() {
  python3 -c '
import random, socket
while True:
    port = random.randint(10000, 22000)
    try:
        for p in (port, port + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
    except OSError:
        continue
    print(port); break'
}

# Starts a Redis Cluster of 3 masters and 3 replicas on free loopback ports (`redis-cli --cluster create`: the
# masters take a third of the slots each) and waits until every node says the cluster is ok; exports
# PHOENIX_REDIS_CLUSTER_NODES (the masters, REDIS_CLUSTER_NODES' form) and PHOENIX_REDIS_CLUSTER_PORTS.
start_redis_cluster() {
  local dir="$PHOENIX_RUN_DIR/cluster" ports=() port
  for _ in 1 2 3 4 5 6; do
    port=$(free_cluster_port)
    ports+=("$port")
    # Known to stop_services from the start, so that a cluster that fails to form is stopped too.
    export PHOENIX_REDIS_CLUSTER_PORTS="${ports[*]}"
    mkdir -p "$dir/$port"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir/$port" --cluster-enabled yes \
      --cluster-config-file "$dir/$port/nodes.conf" --cluster-node-timeout 2000 --save "" --appendonly no \
      --daemonize yes --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log"
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
    || { cat "$dir/create.log" >&2; return 1; }
  for port in "${ports[@]}"; do
    for _ in $(seq 1 300); do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
      sleep 0.1
    done
    redis-cli -p "$port" cluster info | grep -q '^cluster_state:ok' || { echo "cluster node $port is not ok" >&2; return 1; }
  done
  export PHOENIX_REDIS_CLUSTER_NODES
  PHOENIX_REDIS_CLUSTER_NODES=$(printf '127.0.0.1:%s,' "${ports[@]:0:3}")
  PHOENIX_REDIS_CLUSTER_NODES=${PHOENIX_REDIS_CLUSTER_NODES%,}
  echo "redis cluster listening on 127.0.0.1 ports ${ports[*]}" >&2
}

# The PostgreSQL 15 server binaries (Debian's postgresql-15).
PG_BIN=/usr/lib/postgresql/15/bin

# Runs a command as the postgres user when we are root (initdb and pg_ctl refuse to run as root).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts a private PostgreSQL 15 on a free loopback port with its data in folder $1 (created by initdb when
# empty; trust authentication, loopback only), creates database $2 if missing, and exports
# PHOENIX_PG_PORT, PHOENIX_PG_DATA and PHOENIX_DATABASE_URL.
start_postgres() {
  local data="$1" database="$2"
  mkdir -p "$data"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$data"
    chmod 700 "$data"
    # The postgres user must be able to reach the folder.
    local parent
    parent=$(dirname "$data")
    while [ "$parent" != "/" ]; do chmod o+x "$parent" 2>/dev/null || true; parent=$(dirname "$parent"); done
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_postgres "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  PHOENIX_PG_PORT=$(free_port)
  PHOENIX_PG_DATA="$data"
  as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$data/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PHOENIX_PG_PORT -c unix_socket_directories=$data -c max_connections=200" start >/dev/null
  if ! psql -h 127.0.0.1 -p "$PHOENIX_PG_PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$PHOENIX_PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE \"$database\"" >/dev/null
  fi
  export PHOENIX_PG_PORT PHOENIX_PG_DATA
  export PHOENIX_DATABASE_URL="postgres://postgres@127.0.0.1:$PHOENIX_PG_PORT/$database?sslmode=disable"
  echo "postgres listening on 127.0.0.1:$PHOENIX_PG_PORT" >&2
}

# Stops a background `phoenix work` whose pid is in $worker_pid (SIGTERM, then waits), then every server.
stop_worker_and_services() {
  if [ -n "${worker_pid:-}" ]; then
    kill -TERM "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
  fi
  stop_services
}

# Stops whatever start_* started and removes the run folder.
stop_services() {
  if [ -n "${PHOENIX_REDIS_PORT:-}" ]; then
    redis-cli -p "$PHOENIX_REDIS_PORT" shutdown >/dev/null 2>&1 || true
  fi
  for port in ${PHOENIX_REDIS_CLUSTER_PORTS:-}; do
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  if [ -n "${PHOENIX_PG_DATA:-}" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PHOENIX_PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  [ -n "${PHOENIX_RUN_DIR:-}" ] && rm -rf "$PHOENIX_RUN_DIR"
}

# Starts `$1 serve` on a free loopback port (its log in $PHOENIX_RUN_DIR/serve.log) and waits until /health
# answers; exports PHOENIX_API_PORT and sets worker_pid, which stop_worker_and_services stops.
start_api_server() {
  PHOENIX_API_PORT=$(free_port)
  "$1" serve --host 127.0.0.1 --port "$PHOENIX_API_PORT" 2>"$PHOENIX_RUN_DIR/serve.log" &
  worker_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PHOENIX_API_PORT/health" >/dev/null && return 0; sleep 0.1; done
  echo "phoenix serve did not answer on port $PHOENIX_API_PORT:" >&2
  cat "$PHOENIX_RUN_DIR/serve.log" >&2
  return 1
}

# Starts a private Redis and PostgreSQL (database phoenix) under $PHOENIX_RUN_DIR, exports REDIS_URL and
# DATABASE_URL (and LOG_LEVEL, warning unless set), and applies the migrations with $1, the phoenix executable.
start_platform() {
  start_redis
  start_postgres "$PHOENIX_RUN_DIR/postgres" phoenix
  export REDIS_URL="$PHOENIX_REDIS_URL" DATABASE_URL="$PHOENIX_DATABASE_URL" LOG_LEVEL=${LOG_LEVEL:-warning}
  "$1" migrate >&2
}

# Serves the API with $1 (start_api_server) under a JWT secret made up for the run; exports JWT_SECRET_KEY
# and PHOENIX_SERVICE_TOKEN, a service_role token signed with it. Other server settings: export them first.
serve_api() {
  export JWT_SECRET_KEY
  JWT_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
  start_api_server "$1"
  export PHOENIX_SERVICE_TOKEN
  PHOENIX_SERVICE_TOKEN=$(service_token "$JWT_SECRET_KEY")
}

# Prints a service_role JWT signed (HS256) with secret $1, valid for an hour.
service_token() {
  token_for "$1" service_role
}

# Prints a signed-in user's JWT (role authenticated, subject $2, audience authenticated) signed with secret $1.
user_token() {
  token_for "$1" authenticated "$2"
}

# Prints an HS256 JWT signed with secret $1 for role $2 (and subject $3 when given), valid for an hour.
token_for() {
  python3 - "$@" <<'PY'
import base64, hashlib, hmac, json, sys, time
def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = {"role": sys.argv[2], "exp": int(time.time()) + 3600}
if len(sys.argv) > 3: body.update(sub=sys.argv[3], aud="authenticated")
claims = b64(json.dumps(body).encode())
print(f"{header}.{claims}.{b64(hmac.new(sys.argv[1].encode(), f'{header}.{claims}'.encode(), hashlib.sha256).digest())}")
PY
}

# Makes the certificates of the TLS tests in $1 with openssl: a CA (ca.pem), a server certificate it signs
# for 127.0.0.1 and localhost (server.pem, server-key.pem), a client certificate it signs (client.pem,
# client-key.pem), and a second CA that signed neither (other-ca.pem). Keys are EC P-256; all valid 2 days.
make_test_certificates() {
  local dir=$1
  mkdir -p "$dir"
  (
    cd "$dir"
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca-key.pem -out ca.pem -days 2 -subj "/CN=Phoenix test CA" 2>/dev/null
    openssl req -x509 "${ec[@]}" -keyout other-ca-key.pem -out other-ca.pem -days 2 -subj "/CN=Another CA" 2>/dev/null
    openssl req "${ec[@]}" -keyout server-key.pem -out server.csr -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 2 \
      -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n') 2>/dev/null
    # A server certificate the CA signed for another name only: the client must refuse it.
    openssl req "${ec[@]}" -keyout elsewhere-key.pem -out elsewhere.csr -subj "/CN=elsewhere.test" 2>/dev/null
    openssl x509 -req -in elsewhere.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out elsewhere.pem -days 2 \
      -extfile <(printf 'subjectAltName=DNS:elsewhere.test\nextendedKeyUsage=serverAuth\n') 2>/dev/null
    openssl req "${ec[@]}" -keyout client-key.pem -out client.csr -subj "/CN=phoenix-worker" 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client.pem -days 2 \
      -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null
    rm -f ./*.csr ./*.srl
    # redis-server and the tests read the keys as any user.
    chmod 644 ./*.pem
  )
}
