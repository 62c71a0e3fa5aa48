#!/usr/bin/env python3
"""http1_proxy.py: an HTTP/1.1-only reverse proxy (Python's http.server) that forwards every request
to a target URL, the way an HTTP/1 load balancer in front of etcd's JSON gateway would: it cannot
carry gRPC, so tests/e2e/30_verify.sh uses it to check that `verify` falls back to the gateway.
Usage: http1_proxy.py PORT TARGET_URL"""
import http.server
import sys
import urllib.error
import urllib.request

TARGET = sys.argv[2].rstrip("/")


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self, body):
        req = urllib.request.Request(TARGET + self.path, data=body, method=self.command,
                                     headers={"Content-Type": self.headers.get("Content-Type", "")})
        try:
            with urllib.request.urlopen(req) as resp:
                status, data, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, data, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.forward(None)

    def do_POST(self):
        self.forward(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def log_message(self, fmt, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Proxy).serve_forever()
