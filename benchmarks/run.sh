#!/usr/bin/env bash
# Sluice vs nginx, side by side on this machine: same upstream, same worker count, runs
# interleaved (order alternated each round), results as ratios. See benchmarks/README.md.
#
#   benchmarks/run.sh            full run: 3 rounds of 5 s runs (about 5 minutes)
#   benchmarks/run.sh --quick    smoke run: 1 round of 2 s runs (under a minute after the build)
#
# Options: --rounds N  --duration S  --workers "1 2"  --conns "50 200"  --upstream-workers N
#          --skip-build  --no-results (do not write benchmarks/results/)
# Everything listens on 127.0.0.1; every process started here is stopped by pid on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
ROUNDS=3 DURATION=5 WORKERS="1 2" CONNS="50 200" UPSTREAM_WORKERS=1
SKIP_BUILD=0 WRITE_RESULTS=1 MODE=full
SEQ_REQUESTS=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ROUNDS=1 DURATION=2 MODE=quick ;;
    --rounds) ROUNDS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --workers) WORKERS="$2"; shift ;;
    --conns) CONNS="$2"; shift ;;
    --upstream-workers) UPSTREAM_WORKERS="$2"; shift ;;
    --skip-build) SKIP_BUILD=1 ;;
    --no-results) WRITE_RESULTS=0 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
START_TIME=$(date +%s)
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

# --- tools ------------------------------------------------------------------------------------
missing=""
command -v wrk >/dev/null || missing="$missing wrk"
command -v nginx >/dev/null || missing="$missing nginx-light"
if [ -n "$missing" ]; then
  echo "installing:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
NGINX="$(command -v nginx)"
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

if [ "$SKIP_BUILD" = 0 ]; then
  echo "building sluice (release)..."
  (cd "$ROOT" && swift build -c release --product sluice 2>&1 | tail -1)
fi
SLUICE="$(cd "$ROOT" && swift build -c release --show-bin-path)/sluice"
[ -x "$SLUICE" ] || { echo "no sluice binary at $SLUICE" >&2; exit 1; }

# --- process bookkeeping ----------------------------------------------------------------------
WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
PIDS=()
stop_pid() {  # pid [signal]: graceful signal, then KILL after 5 s
  local pid="$1" sig="${2:-TERM}"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -"$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid" QUIT; done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() {  # url: until it answers 200, 15 s at most
  for _ in $(seq 150); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)" = 200 ] && return 0
    sleep 0.1
  done
  echo "not answering: $1" >&2; return 1
}
children_rss() {  # master pid -> "pid:rssKiB ..." of its worker children
  local out=""
  while read -r pid rss comm; do
    case "$comm" in sluice:\ worker*|nginx*) out="$out $pid:${rss}KiB" ;; esac
  done < <(ps -o pid=,rss=,comm= --ppid "$1")
  echo "${out# }"
}

# --- nginx instances --------------------------------------------------------------------------
nginx_prefix() {  # dir
  mkdir -p "$1/conf" "$1/logs" "$1/tmp"
}
nginx_common() {  # workers
  cat <<EOF
worker_processes $1;
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 10240; }
EOF
}
nginx_http_common() {
  cat <<EOF
  access_log off;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fcgi;
  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
EOF
}
start_nginx() {  # prefix -> pid in LAST_PID
  "$NGINX" -p "$1/" -c conf/nginx.conf -e logs/error.log &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

UPSTREAM_PORT=$(free_port)
UPSTREAM_STATUS_PORT=$(free_port)
UP="$WORK/upstream"; nginx_prefix "$UP"
{ nginx_common "$UPSTREAM_WORKERS"
  cat <<EOF
http {
$(nginx_http_common)
  server {
    listen 127.0.0.1:$UPSTREAM_PORT;
    location / { return 200 "hello world\n"; }
  }
  server {
    listen 127.0.0.1:$UPSTREAM_STATUS_PORT;
    location / { stub_status; }
  }
}
EOF
} > "$UP/conf/nginx.conf"
start_nginx "$UP"; UPSTREAM_PID=$LAST_PID
wait_http "http://127.0.0.1:$UPSTREAM_PORT/"
upstream_accepts() {  # accepted connections so far, minus the status requests themselves
  curl -s --max-time 2 "http://127.0.0.1:$UPSTREAM_STATUS_PORT/" | awk 'NR==3 {print $1}'
}

start_nginx_proxy() {  # workers port
  local dir="$WORK/nginx-w$1"; nginx_prefix "$dir"
  { nginx_common "$1"
    cat <<EOF
http {
$(nginx_http_common)
  upstream backend {
    server 127.0.0.1:$UPSTREAM_PORT;
    keepalive 320;
  }
  server {
    listen 127.0.0.1:$2;
    location /proxy {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  } > "$dir/conf/nginx.conf"
  start_nginx "$dir"; NGINX_PID=$LAST_PID
  wait_http "http://127.0.0.1:$2/proxy"
}

# --- Sluice -----------------------------------------------------------------------------------
start_sluice() {  # workers port
  local dir="$WORK/sluice-w$1"; mkdir -p "$dir/conf" "$dir/logs" "$dir/data"
  cat > "$dir/conf/config.yaml" <<EOF
apisix:
  node_listen:
    - ip: 127.0.0.1
      port: $2
nginx_config:
  worker_processes: $1
  error_log: logs/error.log
  error_log_level: warn
  http:
    enable_access_log: false
deployment:
  role: traditional
  role_traditional:
    config_provider: yaml
EOF
  cat > "$dir/conf/apisix.yaml" <<EOF
routes:
  # (a) plain proxy
  -
    id: proxy
    uri: /proxy
    upstream_id: bench
  # (b) openfunction plugin route: SLOT, not implemented in Sluice yet. When the plugin exists,
  # add the route here (e.g. uri: /fn with plugins: {openfunction: {...}}) and add "fn" to
  # ROUTES below. Do not point it at a plain proxy route: that would fake the number.
upstreams:
  -
    id: bench
    nodes:
      "127.0.0.1:$UPSTREAM_PORT": 1
    type: roundrobin
#END
EOF
  "$SLUICE" -p "$dir" > "$dir/logs/stdout.log" 2>&1 &
  SLUICE_PID=$!
  PIDS+=("$SLUICE_PID")
  wait_http "http://127.0.0.1:$2/proxy"
}
# Route paths measured. (b) slot: append "fn:/fn" once the openfunction route exists (Sluice
# only; nginx has no counterpart, so its column would read "-").
ROUTES="proxy:/proxy"

# --- measurement ------------------------------------------------------------------------------
RAW="$WORK/raw.tsv"; : > "$RAW"
run_wrk() {  # server workers method conns round port path
  local server=$1 workers=$2 method=$3 conns=$4 round=$5 port=$6 path=$7 script=() threads=2
  [ "$method" = POST ] && script=(-s "$HERE/post1k.lua")
  local out
  out=$(timeout $((DURATION + 20)) wrk -t "$threads" -c "$conns" -d "${DURATION}s" --latency \
        "${script[@]}" "http://127.0.0.1:$port$path" 2>&1) || true
  python3 "$HERE/report.py" parse-wrk "$server" "$workers" "$method" "$conns" "$round" "$path" \
    <<<"$out" >> "$RAW"
}

MACHINE="$WORK/machine.txt"
{
  echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host:     $(hostname)"
  echo "nproc:    $(nproc)"
  echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "memory:   $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel:   $(uname -r)"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
  echo "sluice:   $("$SLUICE" -v 2>&1 | head -1) ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "swift:    $(swift --version 2>&1 | head -1)"
  echo "nginx:    $("$NGINX" -v 2>&1 | head -1)"
  echo "wrk:      $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "settings: mode=$MODE rounds=$ROUNDS duration=${DURATION}s wrk threads=2 conns=[$CONNS]" \
       "workers=[$WORKERS] upstream nginx workers=$UPSTREAM_WORKERS"
} > "$MACHINE"
cat "$MACHINE"; echo

# Baseline: the upstream alone (it must be far from the bottleneck).
run_wrk upstream "$UPSTREAM_WORKERS" GET 50 0 "$UPSTREAM_PORT" /

EXTRA="$WORK/extra.txt"; : > "$EXTRA"
for w in $WORKERS; do
  SPORT=$(free_port); NPORT=$(free_port)
  start_sluice "$w" "$SPORT"
  start_nginx_proxy "$w" "$NPORT"
  echo "== $w worker(s): sluice pid $SLUICE_PID on :$SPORT, nginx pid $NGINX_PID on :$NPORT"
  if [ "$w" = 2 ] || [ "$(echo $WORKERS | wc -w)" = 1 ]; then
    # Upstream connections opened for $SEQ_REQUESTS sequential keep-alive requests, on fresh
    # instances (empty pools, before any load): counted as the upstream's accepts meanwhile.
    for s in sluice nginx; do
      if [ "$s" = sluice ]; then port=$SPORT; else port=$NPORT; fi
      before=$(upstream_accepts)
      client=$(timeout 180 python3 "$HERE/seqclient.py" --port "$port" -n "$SEQ_REQUESTS" 2>&1 || true)
      after=$(upstream_accepts)
      echo "upstream connections for $SEQ_REQUESTS sequential keep-alive requests, $s $w worker(s):" \
           "$((after - before - 1)) ($client)" | tee -a "$EXTRA"
    done
  fi
  # Warm-up (not recorded): fills both keep-alive pools, faults in code and heap.
  timeout 10 wrk -t 2 -c 200 -d 1s "http://127.0.0.1:$SPORT/proxy" >/dev/null 2>&1 || true
  timeout 10 wrk -t 2 -c 200 -d 1s "http://127.0.0.1:$NPORT/proxy" >/dev/null 2>&1 || true
  for r in $(seq "$ROUNDS"); do
    for route in $ROUTES; do
      path="${route#*:}"
      for method in GET POST; do
        for c in $CONNS; do
          # A B, then B A next round: neither server always gets the "second" slot.
          if [ $((r % 2)) = 1 ]; then order="sluice nginx"; else order="nginx sluice"; fi
          for s in $order; do
            if [ "$s" = sluice ]; then port=$SPORT; else port=$NPORT; fi
            [ "$s" = nginx ] && [ "$path" != /proxy ] && continue
            printf '  round %s %-6s %-4s c=%-3s %s\n' "$r" "$s" "$method" "$c" "$path"
            run_wrk "$s" "$w" "$method" "$c" "$r" "$port" "$path"
          done
        done
      done
    done
  done
  echo "rss after run, $w worker(s): sluice [$(children_rss "$SLUICE_PID")]" \
       "nginx [$(children_rss "$NGINX_PID")]" | tee -a "$EXTRA"

  stop_pid "$SLUICE_PID" QUIT
  stop_pid "$NGINX_PID" QUIT
done

ELAPSED=$(( $(date +%s) - START_TIME ))
echo
OUT="$WORK/table.txt"
python3 "$HERE/report.py" table < "$RAW" > "$OUT"
{ cat "$MACHINE"; echo; cat "$OUT"; echo; cat "$EXTRA"
  echo "elapsed:  ${ELAPSED}s (build included)"; } > "$WORK/result.txt"
cat "$OUT"; echo; cat "$EXTRA"; echo "elapsed: ${ELAPSED}s"
if [ "$WRITE_RESULTS" = 1 ]; then
  mkdir -p "$HERE/results"
  dest="$HERE/results/$(date +%Y-%m-%d)-$(hostname)$([ "$MODE" = quick ] && echo -quick).txt"
  { cat "$WORK/result.txt"; echo; echo "raw runs (server workers method conns round path rps p50_ms p99_ms errors non2xx):"
    cat "$RAW"; } > "$dest"
  echo "written: ${dest#$ROOT/}"
fi
