#!/usr/bin/env python3
"""Worker apply time at scale (issue 14 item 7), against the real binary (no assertions).

Starts Sluice with the yaml provider on three generated files and reads each worker's
`configuration generation N applied (R routes, T ms: read X ms, build Y ms)` line:
  plain     10,000 routes, each with an inline upstream
  services  10,000 routes over 1,000 services (each service: an upstream and proxy-rewrite;
            each route: request-id and key-auth), plus one global rule, 5,000 consumers (key-auth,
            every tenth in one of 50 consumer groups, every fifth with a credential too)
  vars      the plain file with a `vars` expression (arg and header) on every route
Usage: benchmarks/apply_scale.py [path/to/sluice] [rounds]   (default .build/release/sluice, 3)
"""
import os, re, shutil, signal, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", ".build/release/sluice")
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
ROUTES, SERVICES, CONSUMERS, GROUPS = 10_000, 1_000, 5_000, 50
UPSTREAM = '{type: roundrobin, nodes: {"127.0.0.1:1980": 1}}'


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port


def plain(vars_=False):
    lines = ["routes:"]
    for i in range(ROUTES):
        extra = f', vars: [["arg_k", "==", "v{i}"], ["http_x_team", "~~", "^t{i % 50}"]]' if vars_ else ""
        lines.append(f'  - {{id: "r{i}", uri: "/r{i}/*", upstream: {UPSTREAM}{extra}}}')
    return "\n".join(lines) + "\n#END\n"


def services():
    lines = ["services:"]
    for s in range(SERVICES):
        lines.append(f'  - {{id: "s{s}", upstream: {UPSTREAM}, plugins: {{"proxy-rewrite": {{headers: {{set: {{X-S: "s{s}"}}}}}}}}}}')
    lines.append("global_rules:")
    lines.append('  - {id: g1, plugins: {"response-rewrite": {headers: {set: {X-G: "1"}}}}}')
    lines.append("consumer_groups:")
    for g in range(GROUPS):
        lines.append(f'  - {{id: "g{g}", plugins: {{"response-rewrite": {{headers: {{set: {{X-Group: "g{g}"}}}}}}}}}}')
    lines.append("consumers:")
    for c in range(CONSUMERS):
        group = f', group_id: "g{c % GROUPS}"' if c % 10 == 0 else ""
        lines.append(f'  - {{username: "u{c}"{group}, plugins: {{"key-auth": {{key: "key-{c}"}}}}}}')
        if c % 5 == 0:
            lines.append(f'  - {{id: "u{c}/credentials/c", plugins: {{"key-auth": {{key: "cred-{c}"}}}}}}')
    lines.append("routes:")
    for i in range(ROUTES):
        lines.append(f'  - {{id: "r{i}", uri: "/r{i}/*", service_id: "s{i % SERVICES}", '
                     f'plugins: {{"request-id": {{}}, "key-auth": {{}}}}}}')
    return "\n".join(lines) + "\n#END\n"


def apply_ms(text):
    prefix = tempfile.mkdtemp(prefix="sluice-apply-")
    os.makedirs(prefix + "/conf")
    proxy = free_port()
    with open(prefix + "/conf/config.yaml", "w") as f:
        f.write(f"""apisix:
  node_listen: [{{ip: 127.0.0.1, port: {proxy}}}]
deployment:
  role: data_plane
  role_data_plane: {{config_provider: yaml}}
nginx_config:
  worker_processes: 1
  error_log_level: info
  http: {{enable_access_log: false}}
""")
    with open(prefix + "/conf/apisix.yaml", "w") as f:
        f.write("#END\n")
    master = subprocess.Popen([BIN, "-p", prefix], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Only a change is logged with its time: start empty, then replace the file whole (as an
        # editor's rename would) and let the file watcher publish it.
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", proxy)).close(); break
            except OSError:
                time.sleep(0.05)
        with open(prefix + "/conf/apisix.yaml.new", "w") as f:
            f.write(text)
        os.rename(prefix + "/conf/apisix.yaml.new", prefix + "/conf/apisix.yaml")
        pattern = re.compile(r"applied \((\d+) routes, (\d+) ms: read (\d+) ms, build (\d+) ms\)")
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with open(prefix + "/logs/error.log") as log:
                    found = pattern.findall(log.read())
                if found and int(found[-1][0]) == ROUTES:
                    return tuple(int(x) for x in found[-1][1:])
            except FileNotFoundError:
                pass
            time.sleep(0.1)
        raise RuntimeError("no apply line in " + prefix + "/logs/error.log")
    finally:
        master.send_signal(signal.SIGQUIT)
        try:
            master.wait(10)
        except subprocess.TimeoutExpired:
            master.kill(); master.wait()
        shutil.rmtree(prefix, ignore_errors=True)


def main():
    files = {"plain": plain(), "services": services(), "vars": plain(vars_=True)}
    print(f"worker apply of {ROUTES} routes (ms: total / read / build), {ROUNDS} rounds, binary {BIN}")
    for name, text in files.items():
        runs = sorted(apply_ms(text) for _ in range(ROUNDS))
        median = runs[len(runs) // 2]
        print(f"  {name:9} median {median[0]} / {median[1]} / {median[2]}   all totals {[r[0] for r in runs]}")


if __name__ == "__main__":
    main()
