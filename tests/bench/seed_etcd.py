#!/usr/bin/env python3
"""seed_etcd.py: puts N secrets into etcd through the v3 JSON gateway in transactions of 128 puts:
half identity JSON, a quarter aescbc-shaped, a quarter aesgcm-shaped values (prefix + random payload
of a valid length; enough for classification, not decryptable). Secrets START..N-1 (START default 0),
so a benchmark can grow one keyspace step by step. Usage: seed_etcd.py URL N BYTES [START]"""
import base64
import json
import os
import sys
import urllib.request


def value(i, size):
    kind = i % 4
    if kind < 2:
        body = json.dumps({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s%d" % i},
                           "data": {"k": base64.b64encode(os.urandom(size * 3 // 4)).decode()}})
        return body.encode()
    if kind == 2:
        return b"k8s:enc:aescbc:v1:key1:" + os.urandom(16 + (size // 16 + 1) * 16)
    return b"k8s:enc:aesgcm:v1:key2:" + os.urandom(12 + size + 16)


def main():
    url, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    b64 = lambda b: base64.b64encode(b).decode()
    for start in range(first, n, 128):
        ops = []
        for i in range(start, min(n, start + 128)):
            key = "/registry/secrets/ns%d/s%d" % (i % 100, i)
            ops.append({"request_put": {"key": b64(key.encode()), "value": b64(value(i, size))}})
        req = urllib.request.Request(url + "/v3/kv/txn", data=json.dumps({"success": ops}).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()


main()
