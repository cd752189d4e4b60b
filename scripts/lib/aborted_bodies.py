#!/usr/bin/env python3
"""Clients that post large bodies to /echo and reset (SO_LINGER 0) after reading 64 KiB
of the answer. usage: aborted_bodies.py PORT PID [CONNS] [MIB] [ROUNDS]
Prints the server's RSS after each round (`name value unit` lines)."""
import socket, struct, sys, threading, time

port, pid = int(sys.argv[1]), int(sys.argv[2])
conns = int(sys.argv[3]) if len(sys.argv) > 3 else 20
size = (int(sys.argv[4]) if len(sys.argv) > 4 else 8) << 20
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 4
body = b"x" * size


def rss_mib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024


def one():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % size)
    s.sendall(body)
    got = 0
    while got < 65536:
        d = s.recv(65536 - got)
        if not d:
            break
        got += len(d)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


print(f"rss_start {rss_mib():.1f} MiB")
for r in range(rounds):
    ts = [threading.Thread(target=one) for _ in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    time.sleep(0.5)
    print(f"rss_round{r + 1} {rss_mib():.1f} MiB")
time.sleep(1)
print(f"rss_end {rss_mib():.1f} MiB")
