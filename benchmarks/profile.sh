#!/usr/bin/env bash
# Where a Sluice worker spends its time under load: perf record on one worker while wrk drives
# GET /proxy, then the top functions by self time and by inclusive time (Swift names demangled).
#
#   benchmarks/profile.sh [--seconds S] [--conns C] [--method GET|POST] [--skip-build] [--out FILE]
#
# Needs perf (Debian: linux-perf; installed when missing). Loopback only; everything started
# here is stopped by pid on exit. Report goes to stdout and, with --out, to FILE.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SECONDS_=8 CONNS=50 METHOD=GET SKIP_BUILD=0 OUT="" CALLGRAPH=dwarf FREQ=499
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_="$2"; shift ;;
    --conns) CONNS="$2"; shift ;;
    --method) METHOD="$2"; shift ;;
    --skip-build) SKIP_BUILD=1 ;;
    --out) OUT="$2"; shift ;;
    --call-graph) CALLGRAPH="$2"; shift ;;  # dwarf (default: Swift omits frame pointers) or fp
    --freq) FREQ="$2"; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
source "$HERE/lib.sh"
ensure_tools
if ! command -v perf >/dev/null; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq linux-perf
fi
build_sluice
start_upstream 1
PORT=$(free_port)
start_sluice 1 "$PORT"
WORKER=$(ps -o pid=,comm= --ppid "$SLUICE_PID" | awk '/sluice: worker/ {print $1; exit}')
[ -n "$WORKER" ] || { echo "no worker under $SLUICE_PID" >&2; exit 1; }
script=(); [ "$METHOD" = POST ] && script=(-s "$HERE/post1k.lua")
timeout $((SECONDS_ + 20)) wrk -t 2 -c "$CONNS" -d "$((SECONDS_ + 2))s" "${script[@]}" \
  "http://127.0.0.1:$PORT/proxy" > "$WORK/wrk.txt" 2>&1 &
WRK_PID=$!; PIDS+=("$WRK_PID")
sleep 1
# cpu-clock: a software event, available on VMs without hardware counters.
timeout $((SECONDS_ + 10)) perf record -e cpu-clock -F "$FREQ" --call-graph "$CALLGRAPH" -o "$WORK/perf.data" \
  -p "$WORKER" -- sleep "$SECONDS_" > "$WORK/perf-record.txt" 2>&1 || {
  cat "$WORK/perf-record.txt" >&2; exit 1; }
wait "$WRK_PID" || true

demangle() { if command -v swift >/dev/null; then swift demangle --simplified --compact; else cat; fi; }
report() {
  set +o pipefail  # head closes pipes early
  echo "== wrk (during the profile): $(grep -E 'Requests/sec' "$WORK/wrk.txt" | tr -s ' ')"
  echo "== sluice worker $WORKER, $METHOD /proxy c=$CONNS, ${SECONDS_}s, perf cpu-clock $FREQ Hz, call graph $CALLGRAPH"
  echo
  echo "== self time, top 40 (symbol, shared object)"
  perf report -i "$WORK/perf.data" --no-children --sort symbol,dso --stdio -g none \
    --percent-limit 0.4 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40 | demangle
  echo
  echo "== self time by shared object"
  perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | head -12
  echo
  echo "== inclusive time (children), top 40 entries in the sluice binary"
  perf report -i "$WORK/perf.data" --children --sort symbol,dso --stdio -g none \
    --dsos sluice 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40 | demangle
  echo
  echo "== who calls the Swift runtime's hot entry points (callers, first levels)"
  for sym in swift_once swift_beginAccess swift_retain swift_release swift_allocObject malloc; do
    echo "-- $sym"
    perf report -i "$WORK/perf.data" --no-children --symbols "$sym" --stdio \
      -g caller,0.5,callee,function,percent --max-stack 4 --percent-limit 0.1 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | grep -- '--' | head -12 | demangle
  done
}
if [ -n "$OUT" ]; then report | tee "$OUT"; else report; fi
