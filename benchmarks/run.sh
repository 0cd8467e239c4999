#!/usr/bin/env bash
# Sluice vs nginx, side by side on this machine: same upstream, same worker count, runs
# interleaved (order alternated each round), results as ratios. See benchmarks/README.md.
#
#   benchmarks/run.sh            full run: 3 rounds of 5 s runs (about 9 minutes)
#   benchmarks/run.sh --quick    smoke run: 1 round of 2 s runs (about 1.5 minutes after the build)
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

source "$HERE/lib.sh"
ensure_tools
build_sluice
start_upstream "$UPSTREAM_WORKERS"

# --- measurement ------------------------------------------------------------------------------
RAW="$WORK/raw.tsv"; : > "$RAW"
run_wrk() {  # server workers method conns round port path master-pid
  local server=$1 workers=$2 method=$3 conns=$4 round=$5 port=$6 path=$7 master=$8
  local script=() threads=2 out pids before after ticks=-
  [ "$method" = POST ] && script=(-s "$HERE/post1k.lua")
  # CPU time of the server's workers over the run (utime+stime, clock ticks), for
  # cpu_us_per_req. The same pids before and after; "-" if a worker came or went.
  pids=$(worker_pids "$master")
  before=$(cpu_ticks $pids)
  out=$(timeout $((DURATION + 20)) wrk -t "$threads" -c "$conns" -d "${DURATION}s" --latency \
        "${script[@]}" "http://127.0.0.1:$port$path" 2>&1) || true
  after=$(cpu_ticks $pids)
  if [ "$before" != - ] && [ "$after" != - ] && [ "$(worker_pids "$master")" = "$pids" ]; then
    ticks=$((after - before))
  fi
  python3 "$HERE/report.py" parse-wrk "$server" "$workers" "$method" "$conns" "$round" "$path" \
    "$ticks" <<<"$out" >> "$RAW"
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
run_wrk upstream "$UPSTREAM_WORKERS" GET 50 0 "$UPSTREAM_PORT" / "$UPSTREAM_PID"

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
            if [ "$s" = sluice ]; then port=$SPORT master=$SLUICE_PID
            else port=$NPORT master=$NGINX_PID; fi
            printf '  round %s %-6s %-4s c=%-3s %s\n' "$r" "$s" "$method" "$c" "$path"
            run_wrk "$s" "$w" "$method" "$c" "$r" "$port" "$path" "$master"
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
  suffix=""; [ "$MODE" = quick ] && suffix=-quick
  dest="$HERE/results/$(date +%Y-%m-%d)-$(hostname)$suffix.txt"
  { cat "$WORK/result.txt"; echo; echo "raw runs (server workers method conns round path rps p50_ms p99_ms errors non2xx" \
         "requests cpu_us_per_req):"
    cat "$RAW"; } > "$dest"
  echo "written: ${dest#$ROOT/}"
fi
