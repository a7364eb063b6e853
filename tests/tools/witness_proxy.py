#!/usr/bin/env python3
"""witness_proxy.py - a tampering HTTPS proxy in front of one witness, for
tests/integration/test_witness_client.sh.

    witness_proxy.py CERT KEY UPSTREAM CAFILE MODEFILE READYFILE

Serves HTTPS on 127.0.0.1 (any free port; the URL is written to READYFILE)
and forwards every request to UPSTREAM (a witness, whose TLS certificate
chains to CAFILE).  What it does to a POST /v1/witness/latest answer is read
from MODEFILE at each request:

    forward   pass it on (also when MODEFILE is absent); every answer passed
              on is kept in MODEFILE.last
    forge     flip one bit of the witness's signature (a forged answer)
    replay    answer MODEFILE.last, the answer to an earlier question,
              whatever nonce was asked (a replayed answer)
    hold      refuse every POST /v1/witness/countersign (503) and pass the
              rest on: the witness keeps the last head it countersigned
              while the others move on (a witness the room's relay misses)
"""
import base64
import http.server
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

CERT, KEY, UPSTREAM, CAFILE, MODEFILE, READY = sys.argv[1:7]
UPSTREAM_CTX = ssl.create_default_context(cafile=CAFILE)


def mode():
    try:
        with open(MODEFILE) as f:
            return f.read().strip()
    except FileNotFoundError:
        return "forward"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self, method, body=None):
        req = urllib.request.Request(UPSTREAM + self.path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=UPSTREAM_CTX, timeout=20) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send(*self.forward("GET"))

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        m = mode()
        latest = self.path == "/v1/witness/latest"
        if self.path == "/v1/witness/countersign" and m == "hold":
            return self.send(503, b'{"error":"unavailable","message":"held back by witness_proxy.py"}')
        if latest and m == "replay":
            with open(MODEFILE + ".last", "rb") as f:
                return self.send(200, f.read())
        status, answer = self.forward("POST", body)
        if latest and status == 200 and m == "forge":
            j = json.loads(answer)
            sig = bytearray(base64.b64decode(j["signature"]))
            sig[-1] ^= 1
            j["signature"] = base64.b64encode(bytes(sig)).decode()
            answer = json.dumps(j).encode()
        elif latest and status == 200:
            with open(MODEFILE + ".last", "wb") as f:
                f.write(answer)
        self.send(status, answer)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(READY + ".tmp", "w") as f:
    f.write("https://127.0.0.1:%d\n" % server.server_address[1])
os.rename(READY + ".tmp", READY)
server.serve_forever()
