"""A small load for scripts/memcheck.sh: CONNS connections to an echo server at
HOST:PORT, each sending ROUNDS messages of varied sizes (1 byte to 64 KiB, some in
several writes) and checking that every byte comes back; then half-closes. Exits
non-zero on a wrong or missing byte."""
import socket
import sys
import threading

host, port = sys.argv[1].rsplit(":", 1)
conns = int(sys.argv[2]) if len(sys.argv) > 2 else 8
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 100
failed = []


def run(i):
    try:
        s = socket.create_connection((host, int(port)), timeout=60)
        for k in range(rounds):
            size = [1, 64, 1500, 16384, 65536][(i + k) % 5]
            msg = bytes((i * 31 + k + j) % 251 for j in range(size))
            # Large messages go in pieces, so the server sees partial reads.
            for off in range(0, size, 7000):
                s.sendall(msg[off:off + 7000])
            got = b""
            while len(got) < size:
                b = s.recv(size - len(got))
                if not b:
                    raise RuntimeError("server closed early")
                got += b
            if got != msg:
                raise RuntimeError(f"conn {i} round {k}: wrong bytes")
        s.shutdown(socket.SHUT_WR)
        if s.recv(1) != b"":
            raise RuntimeError("bytes after the half-close")
        s.close()
    except Exception as e:  # noqa: BLE001 - reported and counted
        failed.append(f"conn {i}: {e}")


threads = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failed:
    print("\n".join(failed), file=sys.stderr)
    sys.exit(1)
print(f"echo load: {conns} connections x {rounds} round trips checked")
