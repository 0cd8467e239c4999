#!/usr/bin/env python3
"""Admin API figures for issue 3, against the real binary (not a test: no assertions).

1. Apply delay: after each of N route PUTs (a new route each time), how long until requests on
   fresh connections to the proxy port are served by the new route. A route is "served by all
   workers" at the first request of a run of STREAK consecutive non-404 answers on fresh
   connections (SO_REUSEPORT spreads them over the workers: 16 in a row all landing on one of 2
   workers has probability 2^-15). The route's upstream is a closed port, so served = 502.
2. Writes per second: sequential PUTs on one keep-alive Admin API connection, each durable
   (store written with fsync + rename + directory fsync, snapshot published) before its answer.

Usage: benchmarks/admin_apply.py [path/to/sluice] [writes]   (default .build/debug/sluice, 200)
"""
import http.client, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".build/debug/sluice")
WRITES = int(sys.argv[2]) if len(sys.argv) > 2 else 200
STREAK = 16
KEY = "edd1c9f034335f136f87ad84b625c8f1"


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port


def status(port, path):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk: break
        data += chunk
    s.close()
    return int(data.split(b" ")[1])


def main():
    prefix = tempfile.mkdtemp(prefix="sluice-bench-")
    proxy, admin, dead = free_port(), free_port(), free_port()
    os.makedirs(prefix + "/conf")
    with open(prefix + "/conf/config.yaml", "w") as f:
        f.write(f"""apisix:
  node_listen: [{{ip: 127.0.0.1, port: {proxy}}}]
deployment:
  role_traditional: {{config_provider: local}}
  admin:
    admin_listen: {{ip: 127.0.0.1, port: {admin}}}
    admin_key: [{{name: admin, key: {KEY}, role: admin}}]
nginx_config:
  worker_processes: 2
  error_log_level: warn
  http: {{enable_access_log: false}}
""")
    master = subprocess.Popen([BIN, "-p", prefix], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", admin)).close(); break
            except OSError:
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", admin)
        headers = {"X-API-KEY": KEY, "Content-Type": "application/json"}

        delays = []
        for i in range(WRITES):
            body = f'{{"uri":"/r{i}","upstream":{{"type":"roundrobin","nodes":{{"127.0.0.1:{dead}":1}}}}}}'
            conn.request("PUT", f"/apisix/admin/routes/r{i}", body, headers)
            response = conn.getresponse(); response.read()
            acknowledged = time.perf_counter()
            assert response.status == 201, response.status
            streak, start = 0, None
            while streak < STREAK:
                sent = time.perf_counter()
                if status(proxy, f"/r{i}") != 404:
                    if streak == 0: start = sent
                    streak += 1
                else:
                    streak = 0
            delays.append((start - acknowledged) * 1000)
        delays.sort()
        p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
        print(f"apply delay over {WRITES} writes (ms): p50 {p(0.50):.2f}  p99 {p(0.99):.2f}  max {delays[-1]:.2f}"
              f"  mean {statistics.mean(delays):.2f}")

        count = max(WRITES, 500)
        started = time.perf_counter()
        for i in range(count):
            conn.request("PUT", f"/apisix/admin/upstreams/u{i % 50}", '{"nodes":{"127.0.0.1:1980":1}}', headers)
            response = conn.getresponse(); response.read()
            assert response.status in (200, 201), response.status
        elapsed = time.perf_counter() - started
        print(f"writes/s with fsync (sequential, keep-alive, {count} PUTs, store of "
              f"{WRITES} routes + 50 upstreams): {count / elapsed:.0f}  ({elapsed / count * 1000:.2f} ms each)")
    finally:
        master.send_signal(signal.SIGQUIT)
        try:
            master.wait(10)
        except subprocess.TimeoutExpired:
            master.kill()
        shutil.rmtree(prefix, ignore_errors=True)


main()
