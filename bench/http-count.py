#!/usr/bin/env python3
"""A fixed number of HTTP requests, for counting what a server spends per request.

usage: http-count.py ADDR REQUESTS [DEPTH=1] [CONNS=1]
  Sends REQUESTS GET /plaintext requests to ADDR (host:port) over CONNS keep-alive
  connections, DEPTH of them written at once per connection (1: one request, then its
  answer; 16: the TechEmpower plaintext shape, as bench/pipeline.lua), waits for every
  answer (each must have a Content-Length), then closes the connections. The requests are
  wrk's (Host, and Accept when pipelined), so a server parses what it parses under wrk.
  Connecting is retried for up to 60 s, so it can be started beside a server that is still
  coming up (under valgrind, say) without a probe connection the server would count.
prints: "requests N responses N" (the same N, or it exits with an error).
"""
import socket
import sys
import time


def connect(host, port):
    end = time.time() + 60
    while True:
        try:
            s = socket.create_connection((host, port), 1.0)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(30)
            return s
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.05)


def read_answers(s, buf, want):
    """Reads until `want` whole answers are in; returns the bytes after them."""
    got = 0
    while True:
        while got < want:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end].lower()
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise SystemExit(f"an answer without content-length: {bytes(buf[:end])!r}")
            length = int(head[at + 17 :].split(b"\r\n", 1)[0])
            if len(buf) < end + 4 + length:
                break
            if not buf.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"not a 200: {bytes(buf[:end])!r}")
            del buf[: end + 4 + length]
            got += 1
        if got == want:
            return buf
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit(f"the server closed the connection after {got} of {want} answers")
        buf += chunk


def main():
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return
    host, port = sys.argv[1].rsplit(":", 1)
    total = int(sys.argv[2])
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    conns = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    if total % (depth * conns):
        raise SystemExit("REQUESTS must be a multiple of DEPTH * CONNS")
    accept = b"Accept: text/plain\r\n" if depth > 1 else b""
    req = b"GET /plaintext HTTP/1.1\r\nHost: " + sys.argv[1].encode() + b"\r\n" + accept + b"\r\n"
    batch = req * depth
    socks = [connect(host, int(port)) for _ in range(conns)]
    bufs = [bytearray() for _ in socks]
    done = 0
    # Lock-step: a batch on every connection, then every connection's answers.
    for _ in range(total // (depth * conns)):
        for s in socks:
            s.sendall(batch)
        for i, s in enumerate(socks):
            bufs[i] = read_answers(s, bufs[i], depth)
            done += depth
    for s in socks:
        s.close()
    print(f"requests {total} responses {done}")


if __name__ == "__main__":
    main()
