#!/usr/bin/env python3
"""etcd provider figures for issue 7, against the real binary and a real etcd (not a test: no
assertions).

1. A -> B delay: two Sluice nodes share one etcd. For each of N route PUTs on node A's Admin API
   (a new route each time), the time from sending the PUT until node B's proxy port serves the
   route: "first" = the first non-404 answer on a fresh connection, "all workers" = the first
   of STREAK consecutive non-404 answers (B runs 2 workers; SO_REUSEPORT spreads fresh
   connections over them). The route's upstream is a closed port, so served = 502. Also the
   delay counted from A's answer (etcd has the write), as admin_apply.py counts the local one.
2. 10,000 routes: written straight to etcd (100 puts per txn), then a node started on them: the
   time from spawning `sluice` until /r/9999 is served, next to the same for an empty prefix
   (process start, first snapshot, worker start); the difference is the load (paginated range
   reads, validation of every route, snapshot written and read by the worker).

Usage: benchmarks/etcd_sync.py [path/to/sluice] [writes]   (default .build/release/sluice if
built, else .build/debug/sluice; 200 writes). Needs /usr/bin/etcd (make test-deps).
"""
import base64, http.client, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DEFAULT = os.path.join(ROOT, ".build/release/sluice")
if not os.path.exists(DEFAULT):
    DEFAULT = os.path.join(ROOT, ".build/debug/sluice")
BIN = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
WRITES = int(sys.argv[2]) if len(sys.argv) > 2 else 200
STREAK = 16
KEY = "edd1c9f034335f136f87ad84b625c8f1"


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port


def status(port, path):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return 0
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk: break
        data += chunk
    s.close()
    return int(data.split(b" ")[1]) if data else 0


def b64(text):
    return base64.b64encode(text.encode()).decode()


def etcd_call(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/v3/" + path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse(); data = r.read(); c.close()
    return r.status, json.loads(data or b"{}")


def config(proxy, admin, etcd_port, prefix="/apisix", workers=2):
    return f"""apisix:
  node_listen:
    - ip: 127.0.0.1
      port: {proxy}
deployment:
  role: traditional
  role_traditional:
    config_provider: etcd
  etcd:
    host: ["http://127.0.0.1:{etcd_port}"]
    prefix: {prefix}
  admin:
    admin_key: [{{name: admin, key: {KEY}, role: admin}}]
    admin_listen: {{ip: 127.0.0.1, port: {admin}}}
nginx_config:
  worker_processes: {workers}
  error_log_level: warn
  http:
    enable_access_log: false
"""


class Node:
    def __init__(self, root, name, etcd_port, prefix="/apisix", workers=2):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir + "/conf"); os.makedirs(self.dir + "/logs")
        self.proxy, self.admin = free_port(), free_port()
        with open(self.dir + "/conf/config.yaml", "w") as f:
            f.write(config(self.proxy, self.admin, etcd_port, prefix, workers))
        self.started = time.monotonic()
        self.proc = subprocess.Popen([BIN, "-p", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def wait_admin(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=2)
                c.request("GET", "/apisix/admin/routes", headers={"X-API-KEY": KEY})
                if c.getresponse().status == 200: return
            except OSError:
                pass
            time.sleep(0.02)
        raise SystemExit(f"node {self.dir} not ready")

    def wait_served(self, path, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if status(self.proxy, path) not in (0, 404): return time.monotonic()
            time.sleep(0.001)
        raise SystemExit(f"{path} not served by {self.dir}")

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=10)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    root = tempfile.mkdtemp(prefix="sluice-etcd-bench-")
    etcd_port, peer = free_port(), free_port()
    etcd = subprocess.Popen(["/usr/bin/etcd", "--data-dir", root + "/etcd",
                             "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                             "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                             "--initial-cluster", f"default=http://127.0.0.1:{peer}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes = []
    try:
        for _ in range(200):
            try:
                if etcd_call(etcd_port, "kv/range", {"key": b64("/")})[0] == 200: break
            except OSError:
                time.sleep(0.05)
        dead = free_port()
        a, b = Node(root, "a", etcd_port), Node(root, "b", etcd_port)
        nodes += [a, b]
        a.wait_admin(); b.wait_admin()
        conn = http.client.HTTPConnection("127.0.0.1", a.admin)
        first, everywhere, after_ack = [], [], []
        for i in range(WRITES):
            body = json.dumps({"uri": f"/p/{i}", "upstream": {"type": "roundrobin", "nodes": {f"127.0.0.1:{dead}": 1}}})
            sent = time.monotonic()
            conn.request("PUT", f"/apisix/admin/routes/p{i}", body, {"X-API-KEY": KEY})
            r = conn.getresponse(); r.read()
            acked = time.monotonic()
            assert r.status == 201, r.status
            first_seen, streak, start_of_streak = None, 0, None
            while streak < STREAK:
                code = status(b.proxy, f"/p/{i}")
                now = time.monotonic()
                if code not in (0, 404):
                    if first_seen is None: first_seen = now
                    if streak == 0: start_of_streak = now
                    streak += 1
                else:
                    streak = 0
            first.append((first_seen - sent) * 1000)
            everywhere.append((start_of_streak - sent) * 1000)
            after_ack.append(max(0.0, first_seen - acked) * 1000)
        print(f"binary: {BIN}")
        print(f"A -> B delay over {WRITES} PUTs (ms): first p50 {pct(first, 50):.2f} p99 {pct(first, 99):.2f} "
              f"max {max(first):.2f}; all workers p50 {pct(everywhere, 50):.2f} p99 {pct(everywhere, 99):.2f} "
              f"max {max(everywhere):.2f}; first, from A's answer: p50 {pct(after_ack, 50):.2f} "
              f"p99 {pct(after_ack, 99):.2f}")

        # 10,000 routes under /big, written straight to etcd.
        up = json.dumps({"type": "roundrobin", "nodes": {f"127.0.0.1:{dead}": 1}})
        etcd_call(etcd_port, "kv/put", {"key": b64("/big/upstreams/1"), "value": b64(up)})
        written = time.monotonic()
        for start in range(0, 10000, 100):
            ops = [{"request_put": {"key": b64(f"/big/routes/{i}"),
                                    "value": b64(json.dumps({"uri": f"/r/{i}", "upstream_id": "1"}))}}
                   for i in range(start, start + 100)]
            assert etcd_call(etcd_port, "kv/txn", {"success": ops})[0] == 200
        print(f"writing 10,000 routes to etcd: {time.monotonic() - written:.2f} s")
        empty = Node(root, "empty", etcd_port, prefix="/nothing")
        nodes.append(empty)
        empty.wait_admin()
        # Baseline: start until the Admin API answers with the (empty) copy loaded.
        baseline = time.monotonic() - empty.started
        big = Node(root, "big", etcd_port, prefix="/big")
        nodes.append(big)
        served = big.wait_served("/r/9999")
        load = served - big.started
        print(f"10,000 routes: start to /r/9999 served {load:.2f} s (empty prefix: start to Admin API synced "
              f"{baseline:.2f} s)")
        changed = time.monotonic()
        etcd_call(etcd_port, "kv/put", {"key": b64("/big/routes/10000"),
                                        "value": b64(json.dumps({"uri": "/r/10000", "upstream_id": "1"}))})
        print(f"one watched change on top of 10,000 routes: served after "
              f"{(big.wait_served('/r/10000') - changed) * 1000:.1f} ms")
    finally:
        for node in nodes:
            try: node.stop()
            except Exception: pass
        etcd.kill(); etcd.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
