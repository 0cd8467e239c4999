#!/usr/bin/env python3
"""Merges load.py's outcomes with drive.py's phases and kills; prints the summary; exits 1 when a
failure is not explained by a kill (or the driver noted a problem, or a phase had no load).

A request belongs to the phase its start time falls in. A failed request (non-2xx or socket
error) is explained by a kill when its client port is one of the ports the killed worker held
at the kill (read while the worker was stopped, just before SIGKILL), it started no later than
the kill (+50 ms of slack for the /proc reading) and ended after it. Nothing else is allowed: not
in reloads, changes, warmup or settle, and not in the kill phases either for connections the
victim did not hold.
"""
import json
import sys


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def main():
    load = json.load(open(sys.argv[1]))
    events = json.load(open(sys.argv[2]))
    phases = events["phases"]
    kills = events["kills"]
    bucket = load["bucket"]

    def phase_of(t):
        for phase in phases:
            if phase["start"] <= t < phase["end"]:
                return phase["name"]
        return "before" if t < phases[0]["start"] else "after"

    def explained(failure):
        start, end, port = failure[0], failure[1], failure[2]
        for kill in kills:
            if port in kill["ports"] and start <= kill["time"] + 0.05 and end >= kill["time"]:
                return True
        return False

    names = [p["name"] for p in phases] + ["before", "after"]
    rows = {name: {"ok": 0, "non2xx": 0, "errors": 0, "explained": 0, "unexplained": 0} for name in names}
    for b, count in load["ok"]:
        rows[phase_of(b * bucket)]["ok"] += count
    unexplained = []
    for kind, failures in (("non2xx", load["non2xx"]), ("errors", load["errors"])):
        for failure in failures:
            row = rows[phase_of(failure[0])]
            row[kind] += 1
            if explained(failure):
                row["explained"] += 1
            else:
                row["unexplained"] += 1
                unexplained.append((phase_of(failure[0]), kind, failure))

    actions = events["actions"]
    print("%-9s %7s %8s %9s %8s %13s %18s" % ("phase", "actions", "seconds", "requests", "non-2xx",
                                              "socket-errors", "killed-conn-fails"))
    seconds = {p["name"]: "%.1f" % (p["end"] - p["start"]) for p in phases}
    problems = list(events["problems"])
    for name in names:
        row = rows[name]
        requests = row["ok"] + row["non2xx"] + row["errors"]
        if name in ("before", "after") and requests == 0:
            continue
        print("%-9s %7s %8s %9d %8d %13d %18d" % (name, actions.get(name, "-"), seconds.get(name, "-"), requests,
                                                  row["non2xx"], row["errors"], row["explained"]))
        if name not in ("before", "after") and row["ok"] == 0:
            problems.append("no successful request during %s: the load did not run" % name)
    def preceding(t):
        before = [entry for entry in events.get("log", []) if entry[0] <= t]
        return "%.0f ms after %s" % ((t - before[-1][0]) * 1000, before[-1][1]) if before else "before any action"

    for phase, kind, failure in unexplained[:20]:
        print("  unexplained %s in %s: start %.3f end %.3f port %d %s %s (%s)"
              % (kind, phase, *failure[:5], preceding(failure[0])))
    if len(unexplained) > 20:
        print("  ... %d more" % (len(unexplained) - 20))

    delays = [k["respawn_ms"] for k in kills if k["respawn_ms"] is not None]
    if delays:
        held = sum(len(k["ports"]) for k in kills)
        print("kills: %d, connections held by the victims: %d" % (len(kills), held))
        print("respawn delay (kill -9 -> new worker's epoll watches the slot socket): "
              "p50 %.1f ms, max %.1f ms over %d kills" % (percentile(delays, 0.5), max(delays), len(delays)))
    for problem in problems:
        print("problem: " + problem)
    failed = bool(unexplained or problems)
    print("lifecycle: %s (%d unexplained failures, %d problems)" % ("FAIL" if failed else "PASS",
                                                                    len(unexplained), len(problems)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
