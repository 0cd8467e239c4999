#!/usr/bin/env python3
"""Helpers for benchmarks/run.sh.

  report.py parse-wrk SERVER WORKERS METHOD CONNS ROUND PATH [CPU_TICKS] < wrk-output
                                                                   -> one TSV line
  report.py table < raw.tsv                                        -> the table
  report.py peers RAW.tsv                                          -> peers.sh's table
  report.py syscalls SERVER SCENARIO REQUESTS < strace-c-output    -> syscalls per request

TSV columns: server workers method conns round path rps p50_ms p99_ms errors non2xx
             requests cpu_us_per_req
CPU_TICKS: utime+stime of the server's worker processes over the run, in clock ticks
(/proc/<pid>/stat), or "-"; cpu_us_per_req is that time per completed request (nan when
unknown). `table` also reads the older 11-column lines (no CPU figure).
"""
import os
import re
import statistics
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value * (60000.0 if unit == "m" else UNITS[unit])


def parse_wrk(args, text):
    server, workers, method, conns, rnd, path = args[:6]
    ticks = args[6] if len(args) > 6 else "-"
    rps = p50 = p99 = float("nan")
    errors = non2xx = requests = 0
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"(\d+) requests in ", line)
        if m:
            requests = int(m.group(1))
        elif line.startswith("Requests/sec:"):
            rps = float(line.split()[1])
        elif line.startswith("50%"):
            p50 = ms(line.split()[1])
        elif line.startswith("99%"):
            p99 = ms(line.split()[1])
        elif line.startswith("Socket errors:"):
            # Socket errors: connect 0, read 0, write 0, timeout 0
            errors = sum(int(n) for n in re.findall(r"\d+", line))
        elif line.startswith("Non-2xx or 3xx responses:"):
            non2xx = int(line.split(":")[1])
    if rps != rps:  # wrk failed: keep its output visible
        sys.stderr.write("wrk failed:\n" + text + "\n")
    cpu = float("nan")
    if ticks.isdigit() and requests > 0:
        cpu = int(ticks) * 1e6 / os.sysconf("SC_CLK_TCK") / requests
    print("\t".join([server, workers, method, conns, rnd, path,
                     f"{rps:.1f}", f"{p50:.3f}", f"{p99:.3f}", str(errors), str(non2xx),
                     str(requests), f"{cpu:.2f}"]))


def fmt_range(values, digits=0):
    values = [v for v in values if v == v]
    if not values:
        return "-"
    med = statistics.median(values)
    f = f"{{:.{digits}f}}"
    if len(values) == 1:
        return f.format(med)
    return f"{f.format(med)} ({f.format(min(values))}-{f.format(max(values))})"


def table(lines):
    runs = []
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) not in (11, 13):  # 11: before requests and cpu_us_per_req
            continue
        server, workers, method, conns, rnd, path = parts[:6]
        rps, p50, p99 = map(float, parts[6:9])
        errors, non2xx = int(parts[9]), int(parts[10])
        requests, cpu = (int(parts[11]), float(parts[12])) if len(parts) == 13 else (0, float("nan"))
        runs.append(dict(server=server, workers=int(workers), method=method, conns=int(conns),
                         round=int(rnd), path=path, rps=rps, p50=p50, p99=p99,
                         errors=errors, non2xx=non2xx, requests=requests, cpu=cpu))
    out = []
    for r in runs:
        if r["server"] == "upstream":
            cpu = f", cpu {r['cpu']:.1f} µs/req" if r["cpu"] == r["cpu"] else ""
            out.append(f"upstream alone (nginx return 200, {r['workers']} worker, GET c={r['conns']}):"
                       f" {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms{cpu}")
    out.append("")
    header = ["scenario", "sluice req/s med (min-max)", "nginx req/s med (min-max)",
              "p50 ms s/n", "p99 ms s/n", "cpu µs/req s/n", "sluice/nginx req/s (paired, min-max)",
              "err s/n"]
    rows = [header]
    keys = []
    for r in runs:
        if r["server"] == "upstream":
            continue
        k = (r["path"], r["workers"], r["method"], r["conns"])
        if k not in keys:
            keys.append(k)
    ratio_ge1 = p99_le = 0
    for path, workers, method, conns in keys:
        def sel(server):
            return sorted((r for r in runs if r["server"] == server and r["path"] == path
                           and r["workers"] == workers and r["method"] == method
                           and r["conns"] == conns), key=lambda r: r["round"])
        s, n = sel("sluice"), sel("nginx")
        nmap = {r["round"]: r for r in n}
        ratios = [r["rps"] / nmap[r["round"]]["rps"] for r in s
                  if r["round"] in nmap and nmap[r["round"]]["rps"] > 0]

        def median(rs, key):
            vals = [r[key] for r in rs if r[key] == r[key]]
            return statistics.median(vals) if vals else None

        def med(rs, key, digits=2):
            v = median(rs, key)
            return "-" if v is None else f"{v:.{digits}f}"
        if ratios and statistics.median(ratios) >= 1.0:
            ratio_ge1 += 1
        s99, n99 = median(s, "p99"), median(n, "p99")
        if s99 is not None and n99 is not None and s99 <= n99:
            p99_le += 1
        label = f"{path} {method} c={conns} w={workers}"
        errs = f"{sum(r['errors'] + r['non2xx'] for r in s)}/{sum(r['errors'] + r['non2xx'] for r in n)}"
        rows.append([label, fmt_range([r["rps"] for r in s]), fmt_range([r["rps"] for r in n]),
                     f"{med(s, 'p50')}/{med(n, 'p50')}", f"{med(s, 'p99')}/{med(n, 'p99')}",
                     f"{med(s, 'cpu', 1)}/{med(n, 'cpu', 1)}", fmt_range(ratios, 2), errs])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for i, row in enumerate(rows):
        out.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out.append(f"of {len(keys)} rows: median ratio >= 1.0 in {ratio_ge1},"
               f" p99 sluice <= nginx in {p99_le}.")
    out.append("")
    out.append("req/s: median over rounds (min-max). p50/p99: median over rounds, sluice/nginx."
               " cpu: CPU time of the proxy's worker processes (user+system) per completed"
               " request, median over rounds, sluice/nginx; lower is better, and less sensitive"
               " to scheduling noise than req/s."
               " ratio: per-round sluice/nginx (runs paired within a round), median (min-max)."
               " err: socket errors + non-2xx responses, all rounds.")
    print("\n".join(out))


def peers(path):
    """Median over rounds per (scenario, proxy): req/s, p99, CPU us/request, ratios to Sluice."""
    rows = {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) < 13:
            continue
        key = (f[2] + " " + f[5], f[0])
        rows.setdefault(key, []).append((float(f[6]), float(f[8]), float(f[12]), int(f[9]) + int(f[10])))
    scenarios = []
    for (scenario, _) in rows:
        if scenario not in scenarios:
            scenarios.append(scenario)
    order = ["sluice", "sluice-base", "nginx", "haproxy", "h2o"]
    out = ["| scenario | proxy | req/s | p99 ms | CPU us/req | req/s vs sluice | CPU vs sluice | errors |",
           "|---|---|---|---|---|---|---|---|"]
    for scenario in scenarios:
        base = rows.get((scenario, "sluice"))
        base_rps = statistics.median(r[0] for r in base) if base else float("nan")
        base_cpu = statistics.median(r[2] for r in base) if base else float("nan")
        for proxy in order:
            rs = rows.get((scenario, proxy))
            if not rs:
                continue
            rps = statistics.median(r[0] for r in rs)
            p99 = statistics.median(r[1] for r in rs)
            cpu = statistics.median(r[2] for r in rs)
            errs = sum(r[3] for r in rs)
            out.append(f"| {scenario} | {proxy} | {rps:,.0f} | {p99:.2f} | {cpu:.1f} | "
                       f"{rps / base_rps:.2f} | {cpu / base_cpu:.2f} | {errs} |")
    print("\n".join(out))
    print("(medians over rounds; CPU: utime+stime of all the proxy's processes per completed request)")


def syscalls(server, scenario, requests, text):
    """strace -c output -> calls per request by syscall, largest first."""
    n = int(requests) if requests and requests.isdigit() else 0
    counts = {}
    for line in text.splitlines():
        f = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(f) >= 5 and f[0].replace(".", "").isdigit() and f[-1] != "total":
            calls = int(f[3])
            errors = int(f[4]) if len(f) == 6 else 0
            counts[f[-1]] = (calls, errors)
    parts = []
    for name, (calls, errors) in sorted(counts.items(), key=lambda kv: -kv[1][0]):
        if n:
            parts.append(f"{name} {calls / n:.2f}" + (f" ({errors / n:.2f} failed)" if errors else ""))
    total = sum(c for c, _ in counts.values())
    print(f"{server} {scenario}: {n} requests, {total / n if n else float('nan'):.2f} syscalls/request: " + ", ".join(parts))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "parse-wrk" and len(sys.argv) in (8, 9):
        parse_wrk(sys.argv[2:], sys.stdin.read())
    elif len(sys.argv) == 3 and sys.argv[1] == "peers":
        peers(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "syscalls":
        syscalls(sys.argv[2], sys.argv[3], sys.argv[4], sys.stdin.read())
    elif len(sys.argv) == 2 and sys.argv[1] == "table":
        table(sys.stdin.readlines())
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
