#!/usr/bin/env python3
"""N sequential HTTP/1.1 GETs on one keep-alive connection (reopened only when the server
closes it). Prints: requests ok, non-200 count, client connections opened. Bounded by --timeout."""
import argparse, socket, sys, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/proxy")
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--close", action="store_true", help="Connection: close (a new connection per request)")
    ap.add_argument("--post", type=int, default=0, metavar="BYTES", help="POST a body of BYTES instead of GET")
    ap.add_argument("--header", action="append", default=[], metavar="NAME:VALUE", help="an extra request header")
    a = ap.parse_args()
    # `%` in a --header value stands for a space (the shell scripts pass it unquoted).
    extra = ("Connection: close\r\n" if a.close else "") + "".join(h.replace("%", " ") + "\r\n" for h in a.header)
    if a.post:
        req = (f"POST {a.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Content-Length: {a.post}\r\n\r\n").encode() + b"x" * a.post
    else:
        req = (f"GET {a.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n").encode()
    deadline = time.monotonic() + a.timeout
    sock, buf, opened, ok, bad = None, b"", 0, 0, 0
    for _ in range(a.n):
        if time.monotonic() > deadline:
            print("timeout", file=sys.stderr); break
        for attempt in range(2):
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", a.port), timeout=10)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                opened += 1; buf = b""
            try:
                sock.sendall(req)
                status, close = read_response(sock, buf)
                break
            except (ConnectionError, EOFError):
                sock.close(); sock = None
                if attempt: raise
        buf = b""
        if status == 200: ok += 1
        else: bad += 1
        if close or a.close:
            sock.close(); sock = None
    print(f"ok={ok} bad={bad} client_connections={opened}")

def read_response(sock, buf):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk: raise EOFError
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, close, chunked = 0, False, False
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower(); v = v.strip().lower()
        if k == b"content-length": length = int(v)
        elif k == b"connection" and v == b"close": close = True
        elif k == b"transfer-encoding" and b"chunked" in v: chunked = True
    if chunked:
        # Read until the terminating zero chunk (bodies here are tiny).
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk: raise EOFError
            rest += chunk
    else:
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk: raise EOFError
            rest += chunk
    return status, close

if __name__ == "__main__":
    main()
