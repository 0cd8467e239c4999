"""What the two walkthroughs share: their arguments, one line per step, and the proxy checks."""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

DOCS_KEY = "edd1c9f034335f136f87ad84b625c8f1"


def arguments(description):
    """--admin URL, --key, --proxy-port, --upstream HOST:PORT; each defaults to an environment variable."""
    parser = argparse.ArgumentParser(description=description)
    env = os.environ.get
    parser.add_argument("--admin", default=env("ADMIN_URL", "http://127.0.0.1:9180"),
                        help="Admin API base URL, without /apisix/admin ($ADMIN_URL)")
    parser.add_argument("--key", default=env("ADMIN_KEY", DOCS_KEY), help="admin key ($ADMIN_KEY)")
    parser.add_argument("--proxy-port", type=int, default=int(env("PROXY_PORT", "9080")),
                        help="the gateway's proxy port on 127.0.0.1 ($PROXY_PORT)")
    parser.add_argument("--upstream", default=env("UPSTREAM", "127.0.0.1:1980"),
                        help="HOST:PORT of an HTTP server the routes proxy to ($UPSTREAM)")
    args = parser.parse_args()
    args.admin = args.admin.rstrip("/")
    host, _, port = args.upstream.rpartition(":")
    args.upstream_host, args.upstream_port = host, int(port)
    return args


def ok(what):
    print(f"ok    {what}", flush=True)


def skip(what):
    print(f"skip  {what}", flush=True)


def fail(what, detail=""):
    print(f"FAIL  {what}" + (f"\n      {detail}" if detail else ""), flush=True)
    sys.exit(1)


def check(condition, what, detail=""):
    """One step: `ok` when `condition` holds, else FAIL with `detail` and exit 1."""
    if condition:
        ok(what)
    else:
        fail(what, detail)


def http(method, url, body=None, headers=None, timeout=5):
    """(status, headers, body text) of one request; an HTTP error status is an answer, not an exception."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8", "replace")


def until(probe, accept, timeout=10):
    """Calls `probe` until `accept(result)` or `timeout` seconds (the data plane applies Admin API writes
    a moment later); returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = probe()
        except OSError as error:
            result = error
        if accept(result) or time.monotonic() >= deadline:
            return result
        time.sleep(0.1)


def proxy(args, path, headers=None, status=200, timeout=10):
    """GET `path` through the gateway until it answers `status`; returns (status, headers, body)."""
    url = f"http://127.0.0.1:{args.proxy_port}{path}"
    answer = until(lambda: http("GET", url, headers=headers), lambda r: isinstance(r, tuple) and r[0] == status,
                   timeout)
    if not isinstance(answer, tuple):
        fail(f"GET {path} through the proxy", repr(answer))
    return answer


def echoed(body):
    """The request as the upstream saw it, when it echoes the request as JSON (Sluice's TestUpstream
    does: "target", "headers" as [name, value] pairs); None for any other upstream."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "target" in value else None


def echoed_header(request, name):
    return next((v for k, v in request.get("headers", []) if k.lower() == name.lower()), None)
