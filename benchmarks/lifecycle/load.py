#!/usr/bin/env python3
"""Bounded constant HTTP/1.1 load on loopback that records the outcome of every request.

Two kinds of client loops run on one asyncio loop:
  * keep-alive loops: one connection each, requests back to back, a new connection only when the
    server said `Connection: close` (or after a failure);
  * fresh loops: a new connection for every request (`Connection: close`).

A request is "ok" when a complete 2xx response arrives, "non2xx" when a complete response with
another status arrives, and a socket error otherwise (connect refused/reset, reset or EOF before
the whole response, timeout). Every request has a start and an end time on CLOCK_MONOTONIC (the
clock the driver stamps its phases and kills with) and the client's local port, so a failure can
be attributed to a phase and to the worker that held its connection.

Successes are kept as counts per 10 ms of start time; failures one by one. The load stops on
SIGTERM/SIGINT or after --max-seconds, and writes JSON to --out.
"""
import argparse
import asyncio
import json
import signal
import socket
import time

BUCKET = 0.01


class Stats:
    def __init__(self):
        self.ok = {}          # bucket -> count (by start time)
        self.non2xx = []      # [start, end, port, status, kind]
        self.errors = []      # [start, end, port, reason, kind]

    def success(self, start):
        b = int(start / BUCKET)
        self.ok[b] = self.ok.get(b, 0) + 1


async def read_response(reader):
    """Reads one response; returns (status, close) or raises."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError("bad status line %r" % lines[0][:40])
    status = int(parts[1])
    length = None
    close = parts[0] == b"HTTP/1.0"
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value == b"close"
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
    if chunked:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()  # until EOF
        close = True
    return status, close


def describe(exc):
    if isinstance(exc, asyncio.IncompleteReadError):
        return "eof-before-response" if not exc.partial else "eof-mid-response"
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        return "errno-%s" % exc.errno
    return type(exc).__name__


async def one_connection(host, port, timeout):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer, writer.get_extra_info("sockname")[1]


def close_writer(writer):
    if writer is not None:
        try:
            writer.transport.abort()
        except Exception:
            pass


async def keepalive_loop(args, stats, stop):
    request = ("GET %s HTTP/1.1\r\nHost: lifecycle\r\n\r\n" % args.path).encode()
    reader = writer = None
    port = 0
    while not stop.is_set():
        start = time.monotonic()
        try:
            if writer is None:
                reader, writer, port = await one_connection(args.host, args.port, args.timeout)
            writer.write(request)
            status, close = await asyncio.wait_for(read_response(reader), args.timeout)
        except Exception as exc:  # a socket error: recorded, then a new connection
            stats.errors.append([start, time.monotonic(), port, describe(exc), "keepalive"])
            close_writer(writer)
            reader = writer = None
            port = 0
            await asyncio.sleep(0.001)
            continue
        end = time.monotonic()
        if 200 <= status < 300:
            stats.success(start)
        else:
            stats.non2xx.append([start, end, port, status, "keepalive"])
        if close:
            close_writer(writer)
            reader = writer = None
            port = 0
    close_writer(writer)


async def fresh_loop(args, stats, stop):
    request = ("GET %s HTTP/1.1\r\nHost: lifecycle\r\nConnection: close\r\n\r\n" % args.path).encode()
    while not stop.is_set():
        start = time.monotonic()
        writer = None
        port = 0
        try:
            reader, writer, port = await one_connection(args.host, args.port, args.timeout)
            writer.write(request)
            status, _ = await asyncio.wait_for(read_response(reader), args.timeout)
        except Exception as exc:
            stats.errors.append([start, time.monotonic(), port, describe(exc), "fresh"])
            close_writer(writer)
            await asyncio.sleep(0.001)
            continue
        close_writer(writer)
        if 200 <= status < 300:
            stats.success(start)
        else:
            stats.non2xx.append([start, time.monotonic(), port, status, "fresh"])


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/load")
    parser.add_argument("--keepalive", type=int, default=24)
    parser.add_argument("--fresh", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ready", help="file created once the load runs")
    args = parser.parse_args()

    stats = Stats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # A parent that blocks signals (a test runner's thread) passes its mask on: SIGTERM, which
    # ends the load, must get through.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    for signo in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signo, stop.set)
    loop.call_later(args.max_seconds, stop.set)
    started = time.monotonic()
    tasks = [asyncio.create_task(keepalive_loop(args, stats, stop)) for _ in range(args.keepalive)]
    tasks += [asyncio.create_task(fresh_loop(args, stats, stop)) for _ in range(args.fresh)]
    if args.ready:
        open(args.ready, "w").close()
    await stop.wait()
    stopped = time.monotonic()
    # Requests in flight get their answer (bounded by the per-request timeout).
    await asyncio.wait(tasks, timeout=args.timeout + 1)
    for task in tasks:
        task.cancel()
    with open(args.out, "w") as out:
        json.dump({"started": started, "stopped": stopped, "bucket": BUCKET,
                   "ok": sorted(stats.ok.items()), "non2xx": stats.non2xx, "errors": stats.errors}, out)


if __name__ == "__main__":
    asyncio.run(main())
