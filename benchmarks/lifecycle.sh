#!/usr/bin/env bash
# Sluice's production lifecycle under constant load (issue 5): zero-drop reloads, route changes
# and worker crashes, on loopback only.
#
#   benchmarks/lifecycle.sh            100 SIGHUP reloads, 50 route changes, 10 kills, 20 more
#                                      kills to measure the respawn delay (about a minute)
#   benchmarks/lifecycle.sh --short    10 reloads, 5 changes, 2 kills (a few seconds; the tests
#                                      run this one)
#
# Environment: SLUICE=/path/to/sluice uses that binary (no build; otherwise a release build with
# $SWIFT, default swift),
# ROUTES=admin|yaml how the route changes are made (default admin: Admin API PUTs with the
# `local` config provider; yaml: apisix.yaml rewrites + SIGHUP with the `yaml` provider),
# KEEP_WORK=1 keeps the temporary directory (logs, outcomes) for a look afterwards.
#
# Load: benchmarks/lifecycle/load.py, keep-alive and fresh-connection loops recording every
# request's outcome with its start/end time and client port. Phases: benchmarks/lifecycle/drive.py.
# Verdict: benchmarks/lifecycle/report.py prints requests, non-2xx answers and socket errors per
# phase and exits 1 unless every failure is one of a connection a killed worker held.
#
# Attribution of kill failures: the driver SIGSTOPs the victim (it accepts nothing more), reads
# the client ports of every TCP connection it holds (its socket inodes in /proc/PID/fd matched
# with /proc/net/tcp), then SIGKILLs it. A failed request is the kill's when its client port is
# one of those, it started no later than the kill (+50 ms) and ended after it. Connections still
# queued in the slot's listening socket are not the victim's: the master keeps that socket, the
# respawned worker accepts them, and a failure there counts as unexplained.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SHORT=0
for arg in "$@"; do
  case "$arg" in
    --short) SHORT=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
ROUTES="${ROUTES:-admin}"

WORK="$(mktemp -d /tmp/sluice-lifecycle.XXXXXX)"
PIDS=()
stop_pid() {  # pid signal: the signal, then KILL after 5 s
  local pid="$1" sig="$2"
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -"$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local i
  # Newest first: the load before Sluice, Sluice before its upstream.
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do stop_pid "${PIDS[$i]}" QUIT; done
  [ -n "${KEEP_WORK:-}" ] && echo "work directory kept: $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() {  # url [status] [seconds]
  local want="${2:-200}"
  for _ in $(seq $(( ${3:-15} * 10 ))); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)" = "$want" ] && return 0
    sleep 0.1
  done
  echo "not answering $want: $1" >&2; return 1
}

# --- tools and binary ---------------------------------------------------------------------------
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }
if ! command -v nginx >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "installing: nginx-light"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light
fi
NGINX="$(command -v nginx)"
if [ -z "${SLUICE:-}" ]; then
  echo "building sluice (release)..."
  (cd "$ROOT" && "${SWIFT:-swift}" build -c release --product sluice 2>&1 | tail -1)
  SLUICE="$(cd "$ROOT" && "${SWIFT:-swift}" build -c release --show-bin-path)/sluice"
fi
[ -x "$SLUICE" ] || { echo "no sluice binary at $SLUICE" >&2; exit 1; }

# --- upstream: nginx, return 200 ----------------------------------------------------------------
UPSTREAM_PORT=$(free_port)
UP="$WORK/upstream"; mkdir -p "$UP/conf" "$UP/logs" "$UP/tmp"
cat > "$UP/conf/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fcgi;
  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT;
    location / { return 200 "hello world\n"; }
  }
}
EOF
"$NGINX" -p "$UP/" -c conf/nginx.conf -e logs/error.log &
PIDS+=("$!")
wait_http "http://127.0.0.1:$UPSTREAM_PORT/"

# --- Sluice, 2 workers --------------------------------------------------------------------------
PORT=$(free_port)
ADMIN_PORT=$(free_port)
SL="$WORK/sluice"; mkdir -p "$SL/conf" "$SL/logs" "$SL/data"
PROVIDER=local; [ "$ROUTES" = yaml ] && PROVIDER=yaml
cat > "$SL/conf/config.yaml" <<EOF
apisix:
  node_listen:
    - ip: 127.0.0.1
      port: $PORT
deployment:
  role: traditional
  role_traditional:
    config_provider: $PROVIDER
  admin:
    admin_key:
      - name: admin
        key: edd1c9f034335f136f87ad84b625c8f1
        role: admin
    admin_listen:
      ip: 127.0.0.1
      port: $ADMIN_PORT
nginx_config:
  worker_processes: 2
  error_log: logs/error.log
  error_log_level: info
  http:
    enable_access_log: false
EOF
cat > "$SL/conf/apisix.yaml" <<EOF
routes:
  - id: load
    uri: /load
    upstream:
      type: roundrobin
      nodes:
        "127.0.0.1:$UPSTREAM_PORT": 1
#END
EOF
"$SLUICE" -p "$SL" > "$SL/logs/stdout.log" 2>&1 &
SLUICE_PID=$!
PIDS+=("$SLUICE_PID")
if [ "$ROUTES" = admin ]; then
  wait_http "http://127.0.0.1:$PORT/load" 404
  code=$(curl -s -o "$WORK/admin.out" -w '%{http_code}' --max-time 5 -X PUT \
    -H 'X-API-KEY: edd1c9f034335f136f87ad84b625c8f1' -H 'Content-Type: application/json' \
    "http://127.0.0.1:$ADMIN_PORT/apisix/admin/routes/load" \
    -d "{\"uri\":\"/load\",\"upstream\":{\"type\":\"roundrobin\",\"nodes\":{\"127.0.0.1:$UPSTREAM_PORT\":1}}}" || true)
  case "$code" in
    200|201) ;;
    *) echo "Admin API PUT of the load route answered $code: $(head -c 300 "$WORK/admin.out" 2>/dev/null)" >&2
       echo "(no Admin API in this build? ROUTES=yaml uses apisix.yaml instead)" >&2
       exit 1 ;;
  esac
fi
wait_http "http://127.0.0.1:$PORT/load"

# --- load, phases, verdict ----------------------------------------------------------------------
if [ "$SHORT" = 1 ]; then
  COUNTS=(--reloads 10 --changes 5 --kills 2 --respawn-kills 0 --warmup 0.5)
else
  COUNTS=(--reloads 100 --changes 50 --kills 10 --respawn-kills 20 --warmup 1)
fi
echo "sluice $SLUICE, pid $SLUICE_PID, 127.0.0.1:$PORT, route changes via $ROUTES; upstream nginx 127.0.0.1:$UPSTREAM_PORT"
python3 "$HERE/lifecycle/load.py" --port "$PORT" --path /load --max-seconds 300 \
  --out "$WORK/load.json" --ready "$WORK/load.ready" &
LOAD_PID=$!
PIDS+=("$LOAD_PID")
for _ in $(seq 100); do [ -e "$WORK/load.ready" ] && break; sleep 0.1; done
[ -e "$WORK/load.ready" ] || { echo "the load client did not start" >&2; exit 1; }

python3 "$HERE/lifecycle/drive.py" --prefix "$SL" --port "$PORT" --admin-port "$ADMIN_PORT" \
  --master-pid "$SLUICE_PID" --upstream "127.0.0.1:$UPSTREAM_PORT" --routes "$ROUTES" \
  "${COUNTS[@]}" --out "$WORK/events.json"

kill -TERM "$LOAD_PID"
wait "$LOAD_PID" || { echo "the load client failed" >&2; exit 1; }
# The master must have survived all of it.
kill -0 "$SLUICE_PID" 2>/dev/null || { echo "the sluice master is gone" >&2; exit 1; }
python3 "$HERE/lifecycle/report.py" "$WORK/load.json" "$WORK/events.json"
