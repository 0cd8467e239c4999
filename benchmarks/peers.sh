#!/usr/bin/env bash
# The pinned peer layout: each proxy alone on CPU 0 (one worker / thread), wrk and the origin on
# CPU 1, so a proxy's cost is its own and not the scheduler's placement. Sluice beside nginx,
# HAProxy and h2o, the same origin, runs interleaved (the order rotates each round). Scenarios:
# GET /proxy, POST /proxy with a 1 KiB body, and GET /fn (Sluice's openfunction route; the peers
# proxy to the same origin adding the same Host and Authorization the plugin sends).
#
# Figures per proxy and scenario: req/s, p99, CPU microseconds per request of all the proxy's
# processes (utime+stime from /proc over the run / requests), and ratios to Sluice. With
# --syscalls: strace -c of each proxy's worker over a short run, syscalls per request by name.
#
#   benchmarks/peers.sh [--rounds 3] [--duration 5] [--conns 50] [--quick] [--syscalls]
#                       [--baseline PATH-TO-OLDER-SLUICE] [--skip-build] [--no-results]
# --baseline adds an older sluice binary as a fifth proxy ("sluice-base"), for before/after
# figures from the same run.
# Everything listens on 127.0.0.1 (free ports); every process started is stopped by pid on exit.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROUNDS=3 DURATION=5 CONNS=50 SYSCALLS=0 WRITE_RESULTS=1 MODE=full BASELINE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ROUNDS=1 DURATION=2 MODE=quick ;;
    --rounds) ROUNDS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --conns) CONNS="$2"; shift ;;
    --syscalls) SYSCALLS=1 ;;
    --baseline) BASELINE="$2"; shift ;;
    --skip-build) SKIP_BUILD=1 ;;
    --no-results) WRITE_RESULTS=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(nproc)" -ge 2 ] || { echo "the pinned layout needs 2 CPUs" >&2; exit 1; }
source "$HERE/lib.sh"
ensure_tools
missing=""
command -v haproxy >/dev/null || missing="$missing haproxy"
command -v h2o >/dev/null || missing="$missing h2o"
command -v strace >/dev/null || missing="$missing strace"
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
build_sluice
PROXY_CPU=0 LOAD_CPU=1

# The origin (nginx, 1 worker) on the load CPU; started by lib.sh, then moved there.
start_upstream 1
taskset -a -p -c "$LOAD_CPU" "$UPSTREAM_PID" >/dev/null
for pid in $(ps -o pid= --ppid "$UPSTREAM_PID"); do taskset -a -p -c "$LOAD_CPU" "$pid" >/dev/null; done

pin_tree() {  # pid: the process and its children onto the proxy CPU
  taskset -a -p -c "$PROXY_CPU" "$1" >/dev/null
  for pid in $(ps -o pid= --ppid "$1"); do taskset -a -p -c "$PROXY_CPU" "$pid" >/dev/null; done
}
tree_pids() { echo "$1 $(ps -o pid= --ppid "$1" | tr '\n' ' ')"; }

# --- the four proxies, one worker each ------------------------------------------------------
SLUICE_PORT=$(free_port)
start_sluice 1 "$SLUICE_PORT"
pin_tree "$SLUICE_PID"

NGINX_PORT=$(free_port)
start_nginx_proxy 1 "$NGINX_PORT"
pin_tree "$NGINX_PID"

HAPROXY_PORT=$(free_port)
HA="$WORK/haproxy"; mkdir -p "$HA"
cat > "$HA/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:$HAPROXY_PORT
  use_backend fn if { path_beg /fn }
  default_backend proxy
# /proxy: the head APISIX's nginx.conf (and Sluice) send upstream.
backend proxy
  option forwardfor
  http-request set-header X-Real-IP %[src]
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request set-header X-Forwarded-Port %[dst_port]
  server origin 127.0.0.1:$UPSTREAM_PORT
# /fn: the call the openfunction route makes.
backend fn
  http-request set-header Host 127.0.0.1
  http-request set-header Authorization "Basic YmVuY2g6YmVuY2g="
  server origin 127.0.0.1:$UPSTREAM_PORT
EOF
haproxy -db -f "$HA/haproxy.cfg" > "$HA/out.log" 2>&1 &
HAPROXY_PID=$!; PIDS+=("$HAPROXY_PID")
wait_http "http://127.0.0.1:$HAPROXY_PORT/proxy"
pin_tree "$HAPROXY_PID"

H2O_PORT=$(free_port)
H2="$WORK/h2o"; mkdir -p "$H2"
cat > "$H2/h2o.conf" <<EOF
num-threads: 1
listen:
  host: 127.0.0.1
  port: $H2O_PORT
proxy.preserve-host: ON
hosts:
  default:
    paths:
      /proxy:
        proxy.reverse.url: http://127.0.0.1:$UPSTREAM_PORT/proxy
        # h2o adds X-Forwarded-For and X-Forwarded-Proto itself (proxy.emit-x-forwarded-headers).
        proxy.header.set: "X-Forwarded-Port: $H2O_PORT"
      /fn:
        proxy.reverse.url: http://127.0.0.1:$UPSTREAM_PORT/fn
        proxy.preserve-host: OFF
        proxy.header.set: "Authorization: Basic YmVuY2g6YmVuY2g="
EOF
h2o -c "$H2/h2o.conf" > "$H2/out.log" 2>&1 &
H2O_PID=$!; PIDS+=("$H2O_PID")
wait_http "http://127.0.0.1:$H2O_PORT/proxy"
pin_tree "$H2O_PID"

PROXIES="sluice:$SLUICE_PORT:$SLUICE_PID nginx:$NGINX_PORT:$NGINX_PID haproxy:$HAPROXY_PORT:$HAPROXY_PID h2o:$H2O_PORT:$H2O_PID"
if [ -n "$BASELINE" ]; then
  CURRENT="$SLUICE"; SLUICE="$BASELINE"; BASE_PORT=$(free_port)
  SLUICE_TAG=-base start_sluice 1 "$BASE_PORT"
  SLUICE="$CURRENT"
  pin_tree "$SLUICE_PID"
  PROXIES="$PROXIES sluice-base:$BASE_PORT:$SLUICE_PID"
  SLUICE_PID=${PROXIES#sluice:*:}; SLUICE_PID=${SLUICE_PID%% *}
fi
SCENARIOS="GET:/proxy POST:/proxy GET:/fn"

RAW="$WORK/raw.tsv"; : > "$RAW"
run_one() {  # name port master method path round
  local name=$1 port=$2 master=$3 method=$4 path=$5 round=$6 script=() pids before after out
  [ "$method" = POST ] && script=(-s "$HERE/post1k.lua")
  pids=$(tree_pids "$master")
  before=$(cpu_ticks $pids)
  out=$(timeout $((DURATION + 20)) taskset -c "$LOAD_CPU" wrk -t 1 -c "$CONNS" -d "${DURATION}s" --latency \
        "${script[@]}" "http://127.0.0.1:$port$path" 2>&1) || true
  after=$(cpu_ticks $pids)
  local ticks=-
  [ "$before" != - ] && [ "$after" != - ] && ticks=$((after - before))
  python3 "$HERE/report.py" parse-wrk "$name" 1 "$method" "$CONNS" "$round" "$path" "$ticks" <<<"$out" >> "$RAW"
}

echo "pinned: proxies on CPU $PROXY_CPU; wrk (1 thread, $CONNS connections) and the origin on CPU $LOAD_CPU"
for round in $(seq "$ROUNDS"); do
  # Rotate the order so that drift over the run affects every proxy alike.
  set -- $PROXIES
  for _ in $(seq $(( (round - 1) % $# ))); do set -- "${@:2}" "$1"; done
  for scenario in $SCENARIOS; do
    for proxy in "$@"; do
      IFS=: read -r name port master <<<"$proxy"
      run_one "$name" "$port" "$master" "${scenario%%:*}" "${scenario#*:}" "$round"
    done
  done
  echo "round $round done"
done

TABLE="$WORK/table.txt"
python3 "$HERE/report.py" peers "$RAW" > "$TABLE"
cat "$TABLE"

if [ "$SYSCALLS" = 1 ]; then
  SYS="$WORK/syscalls.txt"; : > "$SYS"
  for proxy in sluice:$SLUICE_PORT:$SLUICE_PID nginx:$NGINX_PORT:$NGINX_PID; do
    IFS=: read -r name port master <<<"$proxy"
    worker=$(worker_pids "$master" | head -1)
    for scenario in $SCENARIOS; do
      method=${scenario%%:*} path=${scenario#*:} script=()
      [ "$method" = POST ] && script=(-s "$HERE/post1k.lua")
      timeout 20 strace -c -f -q -p "$worker" -o "$WORK/strace.out" &
      spid=$!
      sleep 0.5
      out=$(timeout 20 taskset -c "$LOAD_CPU" wrk -t 1 -c "$CONNS" -d 2s "${script[@]}" "http://127.0.0.1:$port$path" 2>&1) || true
      kill -INT "$spid" 2>/dev/null || true
      wait "$spid" 2>/dev/null || true
      requests=$(awk '/requests in/ {print $1}' <<<"$out")
      python3 "$HERE/report.py" syscalls "$name" "$method $path" "$requests" < "$WORK/strace.out" >> "$SYS"
    done
  done
  cat "$SYS"
fi

if [ "$WRITE_RESULTS" = 1 ]; then
  mkdir -p "$HERE/results"
  out="$HERE/results/$(date -u +%Y-%m-%d-%H%M)-$(hostname)-peers-$MODE.txt"
  { echo "sluice: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "nginx: $("$NGINX" -v 2>&1 | head -1)"; echo "haproxy: $(haproxy -v | head -1)"; echo "h2o: $(h2o --version | head -1)"
    echo "layout: proxy on CPU $PROXY_CPU; wrk -t1 -c$CONNS and the origin on CPU $LOAD_CPU; rounds=$ROUNDS duration=${DURATION}s"
    cat "$TABLE"; [ "$SYSCALLS" = 1 ] && cat "$SYS"; } > "$out"
  echo "written: $out"
fi
