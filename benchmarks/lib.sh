# Shared by benchmarks/*.sh (sourced, not run): tools, builds, process bookkeeping, and the
# three servers (nginx upstream, nginx proxy, Sluice), each in its own temp prefix on a free
# loopback port. Every process started is recorded in PIDS and stopped by pid on exit.
# Callers set HERE (this directory) before sourcing.
# --- tools ------------------------------------------------------------------------------------
ensure_tools() {  # installs wrk and nginx-light from Debian when missing
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
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
}

build_sluice() {  # release build unless SKIP_BUILD=1; sets SLUICE
if [ "${SKIP_BUILD:-0}" = 0 ]; then
  echo "building sluice (release)..."
  (cd "$ROOT" && swift build -c release --static-swift-stdlib --product sluice 2>&1 | tail -1)
fi
SLUICE="$(cd "$ROOT" && swift build -c release --static-swift-stdlib --show-bin-path)/sluice"
[ -x "$SLUICE" ] || { echo "no sluice binary at $SLUICE" >&2; exit 1; }
}

# --- process bookkeeping ----------------------------------------------------------------------
[ -n "${ROOT:-}" ] || ROOT="$(cd "$HERE/.." && pwd)"
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
wait_http() {  # url [seconds]: until it answers 200, 15 s at most by default
  for _ in $(seq $(( ${2:-15} * 10 ))); do
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
worker_pids() {  # master pid -> pids of its children whose args contain "worker"
  # Sluice: "sluice: worker process" (not the control process); nginx: "nginx: worker process".
  { ps -o pid=,args= --ppid "$1" || true; } | awk '{ pid = $1; $1 = ""; if ($0 ~ /worker/) print pid }'
}
cpu_ticks() {  # pid... -> utime+stime summed over them (all threads), clock ticks; "-" if one is gone
  local pid stat total=0 f
  [ $# -gt 0 ] || { echo -; return; }
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || { echo -; return; }
    # Field 2 is "(comm)", and Sluice's comm has spaces ("sluice: worker"): split after the
    # last ')'. The rest starts at field 3 (state); utime, stime are fields 14, 15.
    read -r -a f <<<"${stat##*)}"
    total=$(( total + f[11] + f[12] ))
  done
  echo "$total"
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

start_upstream() {  # workers: the nginx upstream (return 200, 12-byte body) + its stub_status
local workers="$1"
UPSTREAM_PORT=$(free_port)
UPSTREAM_STATUS_PORT=$(free_port)
UP="$WORK/upstream"; nginx_prefix "$UP"
{ nginx_common "$workers"
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
}
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
    # (a)'s twin: the request APISIX's nginx.conf sends upstream (client Host, as pass_host
    # "pass"; X-Real-IP and the X-Forwarded-* headers), so the upstream parses the same head
    # behind either proxy.
    location /proxy {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_set_header X-Forwarded-Port \$server_port;
    }
    # (b)'s twin: the same call the openfunction route makes (Host = the function's host,
    # the service token as Basic auth, upstream keepalive).
    location /fn {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1;
      proxy_set_header Authorization "Basic YmVuY2g6YmVuY2g=";
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
  local dir="$WORK/sluice-w$1${SLUICE_TAG:-}"; mkdir -p "$dir/conf" "$dir/logs" "$dir/data"
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
  # (b) openfunction plugin route calling the same server as a function, with a service token;
  # keepalive_pool as large as nginx's upstream keepalive, so both keep their connections.
  -
    id: fn
    uri: /fn
    plugins:
      openfunction:
        function_uri: http://127.0.0.1:$UPSTREAM_PORT/fn
        authorization:
          service_token: "bench:bench"
        keepalive_pool: 320
  # (c) the plain proxy through plugins on every phase they edit: request-id (rewrite +
  # header_filter), proxy-rewrite (request headers), response-rewrite (response headers).
  -
    id: plugins
    uri: /plugins
    upstream_id: bench
    plugins:
      request-id: {}
      proxy-rewrite:
        headers:
          set:
            X-Bench: "1"
      response-rewrite:
        headers:
          set:
            X-Served-By: sluice
  # (e) the plain proxy behind a vars expression of two conditions (argument and header).
  -
    id: vars
    uri: /vars
    upstream_id: bench
    vars: [["arg_k", "==", "v"], ["http_x_team", "~~", "^op"]]
  # (d) the plain proxy behind key-auth, with a consumer whose own proxy-rewrite is merged in
  # (the merged chain is built on the first request and reused).
  -
    id: auth
    uri: /auth
    upstream_id: bench
    plugins:
      key-auth: {}
  # (f) the plain proxy behind basic-auth (bench:bench).
  -
    id: basic
    uri: /basic
    upstream_id: bench
    plugins:
      basic-auth: {}
consumers:
  -
    username: bench
    plugins:
      basic-auth:
        username: bench
        password: bench
      key-auth:
        key: bench-key
      proxy-rewrite:
        headers:
          set:
            X-Consumer-Bench: "1"
upstreams:
  -
    id: bench
    nodes:
      "127.0.0.1:$UPSTREAM_PORT": 1
    type: roundrobin
#END
EOF
  # SLUICE_WRAPPER: an optional command prefix (valgrind, for instance).
  ${SLUICE_WRAPPER:-} "$SLUICE" -p "$dir" > "$dir/logs/stdout.log" 2>&1 &
  SLUICE_PID=$!
  PIDS+=("$SLUICE_PID")
  wait_http "http://127.0.0.1:$2/proxy" "${SLUICE_START_TIMEOUT:-15}"
}
# Route paths measured: (a) plain proxy, (b) openfunction (nginx: its proxy_pass twin).
ROUTES="proxy:/proxy fn:/fn"
