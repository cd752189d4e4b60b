#!/usr/bin/env python3
"""A fixed number of HTTP requests, for counting what a server spends per request.

usage: http-count.py [--tls] ADDR REQUESTS [DEPTH=1] [CONNS=1]
  Sends REQUESTS GET /plaintext requests to ADDR (host:port) over CONNS keep-alive
  connections, DEPTH of them written at once per connection (1: one request, then its
  answer; 16: the TechEmpower plaintext shape, as bench/pipeline.lua), waits for every
  answer (each must have a Content-Length), then closes the connections. The requests are
  wrk's (Host, and Accept when pipelined), so a server parses what it parses under wrk.
  Connecting is retried for up to 60 s, so it can be started beside a server that is still
  coming up (under valgrind, say) without a probe connection the server would count.
  --tls: over TLS (HTTPS), as wrk speaks it: ALPN http/1.1, no certificate check; each
  connection's handshake is done before the first request is sent.
prints: "requests N responses N" (the same N, or it exits with an error).
"""
import socket
import ssl
import sys
import time


def tls_context():
    """What wrk asks of a server: any certificate, ALPN http/1.1."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def connect(host, port, tls=None):
    end = time.time() + 60
    while True:
        try:
            s = socket.create_connection((host, port), 1.0)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(30)
            if tls:
                s = tls.wrap_socket(s)  # the handshake happens here
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
    argv = [a for a in sys.argv[1:] if a != "--tls"]
    tls = tls_context() if len(argv) < len(sys.argv) - 1 else None
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return
    host, port = argv[0].rsplit(":", 1)
    total = int(argv[1])
    depth = int(argv[2]) if len(argv) > 2 else 1
    conns = int(argv[3]) if len(argv) > 3 else 1
    if total % (depth * conns):
        raise SystemExit("REQUESTS must be a multiple of DEPTH * CONNS")
    accept = b"Accept: text/plain\r\n" if depth > 1 else b""
    req = b"GET /plaintext HTTP/1.1\r\nHost: " + argv[0].encode() + b"\r\n" + accept + b"\r\n"
    batch = req * depth
    socks = [connect(host, int(port), tls) for _ in range(conns)]
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
