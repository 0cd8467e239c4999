#!/usr/bin/env bash
# Heap allocations per proxied request: Sluice (1 worker) under valgrind memcheck, two runs of
# N1 and N2 sequential requests; the worker's "total heap usage: N allocs" differs by (N2-N1)
# requests' worth, whatever start-up and shutdown cost. Four cases: keep-alive GET /proxy,
# GET /proxy with a new client connection per request, keep-alive POST /proxy with a 1 KiB body,
# keep-alive GET /plugins (the same upstream through request-id, proxy-rewrite, response-rewrite),
# keep-alive GET /auth (key-auth with a consumer whose proxy-rewrite is merged in), keep-alive GET
# /basic (basic-auth).
#
#   benchmarks/allocs.sh [--n1 300] [--n2 1300] [--skip-build] [--modes "keepalive close post plugins auth basic"]
#
# valgrind 3.19 gives up on the DWARF 5 debug info of the Swift binary ("Possibly corrupted
# debuginfo file"), even with -Xswiftc -gnone (the C and runtime objects still carry some), so
# valgrind runs a copy with debug info stripped (strip --strip-debug). Needs valgrind and strip
# (installed when missing).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
N1=300 N2=1300 SKIP_BUILD=0 MODES="keepalive close post plugins auth basic"
while [ $# -gt 0 ]; do
  case "$1" in
    --n1) N1="$2"; shift ;;
    --n2) N2="$2"; shift ;;
    --skip-build) SKIP_BUILD=1 ;;
    --modes) MODES="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
source "$HERE/lib.sh"
ensure_tools
if ! command -v valgrind >/dev/null; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind
fi
build_sluice
strip --strip-debug -o "$WORK/sluice" "$SLUICE"
SLUICE="$WORK/sluice"
start_upstream 1

allocs_for() {  # requests [seqclient flags] -> prints the worker's total allocs, frees, bytes
  local n="$1" port log pid worker
  shift
  port=$(free_port)
  log="$WORK/vg-$n-$(echo "$*" | tr -c 'a-zA-Z0-9\n' '_')"; mkdir -p "$log"
  SLUICE_WRAPPER="valgrind --tool=memcheck --trace-children=yes --leak-check=no
    --log-file=$log/%p.log" SLUICE_START_TIMEOUT=180 start_sluice 1 "$port"
  sleep 1
  worker=$(ps -o pid=,comm= --ppid "$SLUICE_PID" | awk '/sluice: worker/ {print $1; exit}')
  [ -n "$worker" ] || { ps -o pid=,comm= --ppid "$SLUICE_PID" >&2; echo "no worker" >&2; exit 1; }
  timeout 600 python3 "$HERE/seqclient.py" --port "$port" -n "$n" --timeout 580 "$@" >&2
  kill -QUIT "$SLUICE_PID"
  for _ in $(seq 600); do kill -0 "$SLUICE_PID" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$SLUICE_PID" KILL
  # The worker is a forked child of the master (no exec): its own log file, by pid.
  grep -h "total heap usage" "$log/$worker.log" | sed 's/.*total heap usage: //' \
    | awk '{gsub(",",""); print $1, $3, $5}' # allocs frees bytes
}
echo "sluice: $SLUICE"
for mode in $MODES; do
  flag=""; [ "$mode" = close ] && flag=--close
  [ "$mode" = post ] && flag="--post 1024"
  [ "$mode" = plugins ] && flag="--path /plugins"
  [ "$mode" = auth ] && flag="--path /auth --header apikey:bench-key"
  [ "$mode" = basic ] && flag="--path /basic --header Authorization:Basic%YmVuY2g6YmVuY2g="
  # shellcheck disable=SC2086 # $flag is split into arguments on purpose
  read -r a1 f1 b1 < <(allocs_for "$N1" $flag)
  read -r a2 f2 b2 < <(allocs_for "$N2" $flag)
  echo "$mode: worker after $N1 requests: $a1 allocs, $f1 frees, $b1 bytes allocated"
  echo "$mode: worker after $N2 requests: $a2 allocs, $f2 frees, $b2 bytes allocated"
  python3 -c "
n=$N2-$N1; what={'keepalive': 'GET /proxy, one keep-alive client connection', 'close': 'GET /proxy, a new client connection per request', 'post': 'POST /proxy 1 KiB body, one keep-alive client connection', 'plugins': 'GET /plugins (3 plugins), one keep-alive client connection', 'auth': 'GET /auth (key-auth and a consumer merge), one keep-alive client connection', 'basic': 'GET /basic (basic-auth), one keep-alive client connection'}['$mode']
print(f'per request ({what}, pooled upstream): '
  f'{($a2-$a1)/n:.2f} allocs, {($f2-$f1)/n:.2f} frees, {($b2-$b1)/n:.0f} bytes')"
done
