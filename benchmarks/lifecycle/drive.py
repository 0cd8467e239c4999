#!/usr/bin/env python3
"""Drives the lifecycle phases against a running Sluice master while load.py runs.

Phases, back to back, each stamped on CLOCK_MONOTONIC (the clock load.py stamps requests with):
  warmup    load only
  reloads   SIGHUP to the master; mostly no-op, some with a route change, some with a
            process-level config.yaml change (worker_processes 2 <-> 3 and error_log_level: a new
            generation of workers, the old one retired gracefully)
  changes   route changes: Admin API PUTs (--routes admin) or apisix.yaml rewrites + SIGHUP
            (--routes yaml)
  kills     kill -9 of a random worker, at least 1.2 s apart (a single crash, no back-off)
  respawn   more kills like the above, to measure the respawn delay (full run only)
  settle    load only

A kill: SIGSTOP the victim (it accepts nothing more), read the client ports of every connection
it holds (its socket inodes matched with /proc/net/tcp), SIGKILL it, then time until a new worker
has the victim's slot socket (same descriptor number, inherited from the master) registered in
its epoll set: the respawn delay. The ports let report.py attribute a failed request to the kill.
"""
import argparse
import json
import os
import random
import re
import signal
import time
import urllib.error
import urllib.request

ADMIN_KEY = "edd1c9f034335f136f87ad84b625c8f1"


# --- /proc --------------------------------------------------------------------------------------

def stat(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    rest = text[text.rindex(")") + 2:].split()
    return {"pid": pid, "comm": comm, "state": rest[0], "ppid": int(rest[1])}


def children(master):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = stat(int(name))
            if s and s["ppid"] == master:
                out.append(s)
    return out


def workers(master):
    return sorted(c["pid"] for c in children(master)
                  if c["comm"] == "sluice: worker" and c["state"] not in "ZX")


def fd_links(pid):
    links = {}
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return links
    for name in names:
        try:
            links[int(name)] = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            pass
    return links


def tcp_sockets():
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            rows.append({"local": int(fields[1].rsplit(":", 1)[1], 16),
                         "remote": int(fields[2].rsplit(":", 1)[1], 16),
                         "state": int(fields[3], 16), "inode": int(fields[9])})
    return rows


def socket_inodes(links):
    out = {}
    for fd, target in links.items():
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            out[int(m.group(1))] = fd
    return out


def listener_fd(pid, port):
    """The descriptor number of the listening socket on `port` that `pid` holds."""
    inodes = socket_inodes(fd_links(pid))
    for row in tcp_sockets():
        if row["state"] == 0x0A and row["local"] == port and row["inode"] in inodes:
            return inodes[row["inode"]]
    return None


def held_client_ports(pid, port):
    inodes = socket_inodes(fd_links(pid))
    return sorted(row["remote"] for row in tcp_sockets()
                  if row["local"] == port and row["inode"] in inodes and row["state"] != 0x0A)


def epoll_watches(pid, fd):
    """Whether one of `pid`'s epoll instances watches descriptor `fd`."""
    for number, target in fd_links(pid).items():
        if target != "anon_inode:[eventpoll]":
            continue
        try:
            with open("/proc/%d/fdinfo/%d" % (pid, number)) as f:
                for line in f:
                    if line.startswith("tfd:") and int(line.split()[1]) == fd:
                        return True
        except OSError:
            pass
    return False


def wait_for(condition, timeout, interval=0.0005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return None


# --- the driver ---------------------------------------------------------------------------------

class Driver:
    def __init__(self, args):
        self.args = args
        self.master = args.master_pid
        self.phases = []
        self.kills = []
        self.problems = []
        self.actions = {}
        self.workers_target = 2
        self.level = "info"
        self.variant = 0
        self.log = []  # [time, what]: every action, so a failure can be put next to what preceded it

    def phase(self, name):
        now = time.monotonic()
        if self.phases:
            self.phases[-1]["end"] = now
        self.phases.append({"name": name, "start": now, "end": None})
        self.actions[name] = 0

    def note(self, problem):
        print("  problem: " + problem, flush=True)
        self.problems.append(problem)

    # config.yaml: the two process settings the reloads toggle.
    def write_config(self):
        path = os.path.join(self.args.prefix, "conf/config.yaml")
        with open(path) as f:
            text = f.read()
        text = re.sub(r"worker_processes: \d+", "worker_processes: %d" % self.workers_target, text)
        text = re.sub(r"error_log_level: \w+", "error_log_level: " + self.level, text)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)

    def apisix_yaml(self, weight, extra):
        up = self.args.upstream
        text = "routes:\n"
        text += "  - id: load\n    uri: /load\n    upstream:\n      type: roundrobin\n"
        text += "      nodes:\n        \"%s\": %d\n" % (up, weight)
        if extra:
            text += "  - id: extra\n    uri: %s\n    upstream:\n      type: roundrobin\n" % extra
            text += "      nodes:\n        \"%s\": 1\n" % up
        return text + "#END\n"

    def write_apisix(self, weight, extra):
        path = os.path.join(self.args.prefix, "conf/apisix.yaml")
        with open(path + ".tmp", "w") as f:
            f.write(self.apisix_yaml(weight, extra))
        os.rename(path + ".tmp", path)

    def admin(self, method, route_id, body):
        url = "http://127.0.0.1:%d/apisix/admin/routes/%s" % (self.args.admin_port, route_id)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"X-API-KEY": ADMIN_KEY, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError as error:
            return "error %s" % error

    def hup(self, what="no-op reload"):
        self.log.append([time.monotonic(), what])
        os.kill(self.master, signal.SIGHUP)

    def reloads(self, count):
        self.phase("reloads")
        every = 10 if count >= 20 else 5
        changes = 0
        for i in range(count):
            if i % every == every - 1:
                # Process-level change: a new generation of workers.
                changes += 1
                self.workers_target = 3 if changes % 2 == 1 else 2
                self.level = "warn" if changes % 2 == 1 else "info"
                before = set(workers(self.master))
                self.write_config()
                self.hup("reload: worker_processes %d, error_log_level %s" % (self.workers_target, self.level))
                target = self.workers_target
                ok = wait_for(lambda: (lambda now: len(now) == target and not (set(now) & before))(
                    workers(self.master)), 10, 0.01)
                if not ok:
                    self.note("reload %d: no new generation of %d workers within 10 s (workers %s)"
                              % (i + 1, target, workers(self.master)))
            elif i % every == every // 2 and self.args.routes == "yaml":
                # A route change through apisix.yaml (the yaml provider reads it on SIGHUP).
                self.write_apisix(1, "/extra/%d" % i)
                self.hup("reload: apisix.yaml changed")
            else:
                self.hup()
            self.actions["reloads"] += 1
            time.sleep(self.args.interval)
        if self.workers_target != 2:
            self.note("reloads ended with worker_processes %d" % self.workers_target)

    def changes(self, count):
        self.phase("changes")
        for i in range(count):
            weight = 1 + i % 3
            if self.args.routes == "admin":
                self.log.append([time.monotonic(), "Admin API change %d" % (i + 1)])
                if i % 2 == 0:
                    status = self.admin("PUT", "load", {
                        "uri": "/load", "desc": "lifecycle change %d" % i,
                        "upstream": {"type": "roundrobin", "nodes": {self.args.upstream: weight}}})
                else:
                    status = self.admin("PUT", "extra", {
                        "uri": "/extra/%d" % i,
                        "upstream": {"type": "roundrobin", "nodes": {self.args.upstream: 1}}})
                if status not in (200, 201):
                    self.note("Admin API change %d answered %s" % (i + 1, status))
            else:
                self.write_apisix(weight, "/extra/%d" % i if i % 2 else None)
                self.hup("apisix.yaml change %d" % (i + 1))
            self.actions["changes"] += 1
            time.sleep(self.args.interval * 2)

    def kill_one(self, phase):
        # At least 1.2 s since the last kill: the respawned worker is then past the 1 s within
        # which a death counts as a crash loop (back-off), so each kill is a single crash.
        if self.kills:
            time.sleep(max(0.0, self.kills[-1]["time"] + 1.2 - time.monotonic()))
        else:
            time.sleep(0.5)
        current = workers(self.master)
        if not current:
            self.note("no worker to kill")
            return
        victim = random.choice(current)
        fd = listener_fd(victim, self.args.port)
        os.kill(victim, signal.SIGSTOP)
        ports = held_client_ports(victim, self.args.port)
        at = time.monotonic()
        self.log.append([at, "kill -9 worker %d" % victim])
        os.kill(victim, signal.SIGKILL)
        others = set(current) - {victim}

        def respawned():
            for c in children(self.master):
                pid = c["pid"]
                if pid != victim and pid not in others and c["state"] not in "ZX" and c["comm"] != "sluice: control":
                    if fd is not None and epoll_watches(pid, fd):
                        return pid
            return None

        new = wait_for(respawned, 5)
        ready = time.monotonic()
        kill = {"phase": phase, "victim": victim, "time": at, "ports": ports, "fd": fd,
                "new": new, "respawn_ms": (ready - at) * 1000 if new else None}
        if not new:
            self.note("worker %d killed: no new worker accepting on its slot within 5 s" % victim)
        self.kills.append(kill)
        self.actions[phase] += 1

    def run(self):
        a = self.args
        self.phase("warmup")
        time.sleep(a.warmup)
        self.reloads(a.reloads)
        self.changes(a.changes)
        self.phase("kills")
        for _ in range(a.kills):
            self.kill_one("kills")
        if a.respawn_kills:
            self.phase("respawn")
            for _ in range(a.respawn_kills):
                self.kill_one("respawn")
        self.phase("settle")
        time.sleep(a.warmup)
        self.phases[-1]["end"] = time.monotonic()
        with open(a.out, "w") as out:
            json.dump({"phases": self.phases, "kills": self.kills, "actions": self.actions, "log": self.log,
                       "problems": self.problems}, out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--master-pid", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of the upstream")
    parser.add_argument("--routes", choices=["admin", "yaml"], default="admin")
    parser.add_argument("--reloads", type=int, default=100)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--respawn-kills", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--out", required=True)
    Driver(parser.parse_args()).run()


if __name__ == "__main__":
    main()
