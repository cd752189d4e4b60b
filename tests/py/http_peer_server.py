"""An HTTP/1.1 server gmp did not write, for the client's tests: Python's http.server
with keep-alive. Prints `PORT <n>` once listening. Routes:
  /count          the number of distinct connections seen so far (by client port)
  /chunked?n=N    N lines in chunked framing
  /close          a body delimited by closing the connection (no length)
  /redirect?code=C&to=URL
  /headers        echoes Authorization, Cookie and User-Agent as the server saw them
  /echo           (POST) the request body back
  /slow?ms=M      answers after M ms
Idle keep-alive connections are closed after IDLE seconds (argv[1], default 0.3).
With argv[2] and argv[3] (a certificate chain and its key, PEM), it serves HTTPS."""
import http.server
import socketserver
import sys
import threading
import time
import urllib.parse

IDLE = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
seen = set()
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE  # an idle keep-alive connection is closed after this

    def log_message(self, *args):
        pass

    def send_body(self, body, code=200, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            seen.add(self.client_address[1])
        u = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/count":
            with lock:
                n = len(seen)
            self.send_body(str(n).encode())
        elif u.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(int(q.get("n", "10"))):
                line = f"line {i}\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
        elif u.path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the close")
            self.close_connection = True
        elif u.path == "/redirect":
            self.send_body(b"moved", int(q["code"]), [("Location", q["to"])])
        elif u.path == "/headers":
            h = self.headers
            body = f"auth={h.get('Authorization', '-')} cookie={h.get('Cookie', '-')} ua={h.get('User-Agent', '-')} method={self.command}"
            self.send_body(body.encode())
        elif u.path == "/slow":
            time.sleep(int(q.get("ms", "1000")) / 1000)
            self.send_body(b"slow")
        else:
            self.send_body(f"path {self.path}".encode())

    def do_POST(self):
        with lock:
            seen.add(self.client_address[1])
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path.startswith("/redirect") or self.path.startswith("/headers"):
            return self.do_GET()
        self.send_body(body)

    do_PUT = do_POST


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
if len(sys.argv) > 3:
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("PORT", srv.server_address[1], flush=True)
srv.serve_forever()
