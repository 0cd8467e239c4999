#!/usr/bin/env bash
# What a route's plugins cost against the same route without them, on the same Sluice, same run:
# wrk alternates /proxy (plain), /auth (key-auth + a consumer whose proxy-rewrite is merged in),
# /basic (basic-auth), /plugins (request-id, proxy-rewrite, response-rewrite) and /vars (the plain
# route behind a two-condition `vars`), each ROUNDS x DURATION s; medians of req/s and of the
# workers' CPU time per request, as ratios to /proxy (plugins.md 1.4: at most 10% lost).
#
#   benchmarks/plugin_cost.sh [--rounds 5] [--duration 5] [--conns 50] [--workers 1] [--skip-build]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROUNDS=5 DURATION=5 CONNS=50 WORKERS=1 SKIP_BUILD=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --conns) CONNS="$2"; shift ;;
    --workers) WORKERS="$2"; shift ;;
    --skip-build) SKIP_BUILD=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
source "$HERE/lib.sh"
ensure_tools
build_sluice
start_upstream 1
PORT=$(free_port)
start_sluice "$WORKERS" "$PORT"
RAW="$WORK/cost.tsv"; : > "$RAW"
CASES=(proxy auth basic plugins vars)
# A short warm-up of each route, then rounds whose order rotates (no route always runs first).
for case in "${CASES[@]}"; do
  curl -s -o /dev/null -H "apikey: bench-key" -H "X-Team: ops" -H "Authorization: Basic YmVuY2g6YmVuY2g=" \
    "http://127.0.0.1:$PORT/$case?k=v"
done
timeout 20 wrk -t 2 -c "$CONNS" -d 2s "http://127.0.0.1:$PORT/proxy" > /dev/null 2>&1 || true
for round in $(seq "$ROUNDS"); do
  shift_by=$(( (round - 1) % ${#CASES[@]} ))
  for case in "${CASES[@]:$shift_by}" "${CASES[@]:0:$shift_by}"; do
    headers=(); path="/$case"
    [ "$case" = auth ] && headers=(-H "apikey: bench-key")
    [ "$case" = basic ] && headers=(-H "Authorization: Basic YmVuY2g6YmVuY2g=")
    [ "$case" = vars ] && { path="/vars?k=v"; headers=(-H "X-Team: ops"); }
    pids=$(worker_pids "$SLUICE_PID"); before=$(cpu_ticks $pids)
    out=$(timeout $((DURATION + 20)) wrk -t 2 -c "$CONNS" -d "${DURATION}s" "${headers[@]}" \
          "http://127.0.0.1:$PORT$path" 2>&1) || true
    after=$(cpu_ticks $pids)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    printf '%s\t%s\t%s\t%s\t%s\n' "$case" "$round" "${rps:-0}" "$((after - before))" "${non2xx:-0}" >> "$RAW"
  done
done
python3 - "$RAW" "$DURATION" "$(getconf CLK_TCK)" <<'PY'
import sys, statistics
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
duration, tck = float(sys.argv[2]), float(sys.argv[3])
by = {}
for case, _, rps, ticks, bad in rows:
    rps, ticks = float(rps), float(ticks)
    cpu_us = ticks / tck * 1e6 / (rps * duration) if rps else 0
    by.setdefault(case, []).append((rps, cpu_us, int(bad)))
base_rps = statistics.median(r for r, _, _ in by["proxy"])
base_cpu = statistics.median(c for _, c, _ in by["proxy"])
print(f"{'route':8} {'req/s med':>10} {'vs /proxy':>9} {'cpu us/req':>10} {'vs /proxy':>9} {'non-2xx':>8}")
for case, runs in by.items():
    rps = statistics.median(r for r, _, _ in runs); cpu = statistics.median(c for _, c, _ in runs)
    print(f"{case:8} {rps:10.0f} {rps / base_rps:9.2f} {cpu:10.1f} {cpu / base_cpu:9.2f} {sum(b for _, _, b in runs):8}")
PY
