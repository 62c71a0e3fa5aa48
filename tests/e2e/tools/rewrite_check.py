#!/usr/bin/env python3
"""rewrite_check.py: checks for tests/e2e/50_rewrite.sh, independent of rekeyctl's own code.

  data < kubectl-json          -> one line per secret: "ns/name sha256-of-its-data", sorted
  prefix KEYNAME < etcdctl-json -> "total N under M other K" for the values under /registry/secrets/
  writer SERVER CA CERT KEY NAMES_FILE MARKER -> GET+PUT every secret named in NAMES_FILE ("ns/name"
        lines) with data {"writer": MARKER}, retrying on 409 with a fresh GET; prints "written N"
  expect SERVER CA CERT KEY NAMES_FILE MARKER -> prints "match N of M" (secrets whose data is the marker)
"""
import base64
import hashlib
import http.client
import json
import ssl
import sys
from urllib.parse import urlparse


def data_lines():
    doc = json.load(sys.stdin)
    out = []
    for item in doc["items"]:
        meta = item["metadata"]
        digest = hashlib.sha256(json.dumps(item.get("data", {}), sort_keys=True).encode()).hexdigest()
        out.append("%s/%s %s" % (meta["namespace"], meta["name"], digest))
    for line in sorted(out):
        print(line)


def prefix(key):
    doc = json.load(sys.stdin)
    want = ("k8s:enc:aescbc:v1:%s:" % key).encode()
    total = under = 0
    for kv in doc.get("kvs", []):
        name = base64.b64decode(kv["key"])
        if not name.startswith(b"/registry/secrets/"):
            continue
        total += 1
        if base64.b64decode(kv["value"]).startswith(want):
            under += 1
    print("total %d under %d other %d" % (total, under, total - under))


def connect(server, ca, cert, key):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    u = urlparse(server)
    return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)


def call(conn, method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read() or b"{}")


def names(path):
    with open(path) as f:
        return [line.strip().split("/", 1) for line in f if line.strip()]


def writer(server, ca, cert, key, names_file, marker):
    conn = connect(server, ca, cert, key)
    value = base64.b64encode(marker.encode()).decode()
    written = 0
    for ns, name in names(names_file):
        path = "/api/v1/namespaces/%s/secrets/%s" % (ns, name)
        for _ in range(50):
            status, obj = call(conn, "GET", path)
            if status != 200:
                raise SystemExit("GET %s: %d" % (path, status))
            obj["data"] = {"writer": value}
            status, _ = call(conn, "PUT", path, obj)
            if status == 200:
                written += 1
                break
            if status not in (409, 429, 500, 503):
                raise SystemExit("PUT %s: %d" % (path, status))
        else:
            raise SystemExit("PUT %s: conflicts did not stop" % path)
    print("written %d" % written)


def expect(server, ca, cert, key, names_file, marker):
    conn = connect(server, ca, cert, key)
    value = base64.b64encode(marker.encode()).decode()
    want = names(names_file)
    match = 0
    for ns, name in want:
        status, obj = call(conn, "GET", "/api/v1/namespaces/%s/secrets/%s" % (ns, name))
        if status == 200 and obj.get("data") == {"writer": value}:
            match += 1
    print("match %d of %d" % (match, len(want)))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "data":
        data_lines()
    elif cmd == "prefix":
        prefix(args[0])
    elif cmd == "writer":
        writer(*args)
    elif cmd == "expect":
        expect(*args)
    else:
        raise SystemExit("unknown command " + cmd)
