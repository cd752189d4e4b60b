"""A WebSocket client gmp did not write (the `websockets` package, sync API), against
gmp's server. usage: ws_client.py URL_BASE. Prints one `name: result` line per check."""
import sys

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

base = sys.argv[1]

with connect(base + "/echo") as ws:
    ws.send("hello")
    print("text:", ws.recv())
    ws.send(b"\x00\x01\xff")
    print("binary:", ws.recv().hex())
    # A message sent in three fragments comes back whole.
    ws.send(["frag1-", "frag2-", "frag3"])
    print("fragmented:", ws.recv())
    pong = ws.ping(b"are you there")
    print("pong:", pong.wait(5))

with connect(base + "/echo") as ws:
    ws.close(4000, "client says bye")
    print("close code:", ws.close_code, ws.close_reason)

with connect(base + "/close-me") as ws:
    try:
        ws.recv()
        print("server close: none")
    except ConnectionClosed as e:
        print("server close:", e.rcvd.code, e.rcvd.reason)

with connect(base + "/echo", max_size=None) as ws:
    try:
        ws.send(b"x" * (16 << 20))
        ws.recv(timeout=10)
        print("16 MiB: echoed")
    except ConnectionClosed as e:
        print("16 MiB: closed", e.rcvd.code if e.rcvd else None)
