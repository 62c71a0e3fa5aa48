# apiserver_lib.sh: helpers for the scenarios that drive `rekey-sandbox apiserver` directly (sourced
# after lib.sh): free loopback ports, an etcd, a PKI made with the openssl CLI, EncryptionConfigurations,
# starting/stopping apiservers, and curl with the admin client certificate.
: "${SANDBOX:?SANDBOX must name the rekey-sandbox binary}"
SBX_PIDS=""

sbx_cleanup() {
	for pid in $SBX_PIDS; do kill -TERM "$pid" 2>/dev/null; done
	for pid in $SBX_PIDS; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$pid" 2>/dev/null
	done
	rm -rf "$E2E_TMP"
}
trap sbx_cleanup EXIT

# sbx_free_port: prints a loopback TCP port nobody listens on.
sbx_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# sbx_wait_for DESC SECONDS CMD...: polls CMD every 0.1 s until it succeeds or the deadline passes.
sbx_wait_for() {
	desc=$1 limit=$(($2 * 10))
	shift 2
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -ge $limit ]; then echo "timeout waiting for $desc" >&2; return 1; fi
		sleep 0.1
	done
}

# sbx_start_etcd D: etcd with its data in D/etcd; sets ETCD_URL.
sbx_start_etcd() {
	cport=$(sbx_free_port) pport=$(sbx_free_port)
	ETCD_URL="http://127.0.0.1:$cport"
	etcd --name sbx --data-dir "$1/etcd" --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
		--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "sbx=http://127.0.0.1:$pport" --log-level error >"$1/etcd.log" 2>&1 &
	SBX_PIDS="$SBX_PIDS $!"
	echo "$ETCD_URL" >"$1/etcd.url"
	sbx_wait_for etcd 30 etcdctl --endpoints "$ETCD_URL" endpoint health
}

# sbx_make_pki D: CA, serving cert (127.0.0.1, localhost, kubernetes), admin client cert, tokens.csv.
sbx_make_pki() {
	p="$1/pki"
	mkdir -p "$p" && chmod 700 "$p"
	ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	# shellcheck disable=SC2086
	openssl req -x509 $ec -keyout "$p/ca.key" -out "$p/ca.crt" -days 2 -subj /CN=rekey-sandbox-ca 2>/dev/null || return 1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes\nextendedKeyUsage=serverAuth\n' >"$p/server.ext"
	printf 'extendedKeyUsage=clientAuth\n' >"$p/client.ext"
	# shellcheck disable=SC2086
	openssl req $ec -keyout "$p/apiserver.key" -out "$p/apiserver.csr" -subj /CN=kube-apiserver 2>/dev/null &&
		openssl x509 -req -in "$p/apiserver.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
			-out "$p/apiserver.crt" -days 2 -extfile "$p/server.ext" 2>/dev/null || return 1
	# shellcheck disable=SC2086
	openssl req $ec -keyout "$p/admin.key" -out "$p/admin.csr" -subj "/O=system:masters/CN=admin" 2>/dev/null &&
		openssl x509 -req -in "$p/admin.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
			-out "$p/admin.crt" -days 2 -extfile "$p/client.ext" 2>/dev/null || return 1
	echo "sbx-token-$(openssl rand -hex 16),tester,uid-1,\"system:masters\"" >"$p/tokens.csv"
	chmod 600 "$p"/*.key "$p/tokens.csv"
	SBX_TOKEN=$(cut -d, -f1 "$p/tokens.csv")
}

# sbx_key: a random 32-byte key, base64.
sbx_key() { openssl rand -base64 32; }

# sbx_write_config FILE PROVIDER NAME1 SECRET1 [NAME2 SECRET2]: secrets encrypted with PROVIDER
# (aescbc|aesgcm|secretbox) keys in that order, identity last.
sbx_write_config() {
	f=$1 prov=$2
	shift 2
	{
		printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n'
		printf '  - resources: [secrets]\n    providers:\n      - %s:\n          keys:\n' "$prov"
		while [ $# -ge 2 ]; do
			printf '            - name: %s\n              secret: %s\n' "$1" "$2"
			shift 2
		done
		printf '      - identity: {}\n'
	} >"$f.tmp" && mv "$f.tmp" "$f"
}

# sbx_start_apiserver D NODE CONFIG [FLAGS...]: starts an apiserver on a free port, waits until it
# answers /readyz; sets API_URL and API_PID.
sbx_start_apiserver() {
	d=$1 node=$2 cfg=$3
	shift 3
	rm -f "$d/nodes/$node/apiserver.url" "$d/nodes/$node/apiserver.pid"
	"$SANDBOX" apiserver --dir "$d" --node "$node" --port 0 --etcd "$ETCD_URL" \
		--encryption-provider-config "$cfg" "$@" >>"$d/$node.log" 2>&1 &
	API_PID=$!
	SBX_PIDS="$SBX_PIDS $API_PID"
	sbx_wait_for "apiserver $node" 30 test -s "$d/nodes/$node/apiserver.pid" || return 1
	API_URL=$(cat "$d/nodes/$node/apiserver.url")
	sbx_wait_for "readyz of $node" 30 kc "$d" -f "$API_URL/readyz"
}

# sbx_stop_apiserver PID: SIGTERM and wait for the exit; returns its exit status.
sbx_stop_apiserver() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
}

# kc D CURL-ARGS...: curl with the admin client certificate of sandbox D.
kc() {
	d=$1
	shift
	curl -sS --cacert "$d/pki/ca.crt" --cert "$d/pki/admin.crt" --key "$d/pki/admin.key" "$@"
}

# etcd_get KEY: the raw stored value of KEY (bytes) on stdout.
etcd_get() { etcdctl --endpoints "$ETCD_URL" get --print-value-only "$1"; }

# json_field FILE EXPR: a field of a JSON document (python3 expression over `d`).
json_field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# etcd_value KEY FILE: the exact stored bytes of KEY into FILE (through the JSON gateway); fails if absent.
etcd_value() {
	python3 - "$ETCD_URL" "$1" "$2" <<'PY'
import base64, json, sys, urllib.request
url, key, out = sys.argv[1:]
req = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
resp = json.load(urllib.request.urlopen(url + "/v3/kv/range", req))
kvs = resp.get("kvs") or []
if not kvs:
    sys.exit(1)
open(out, "wb").write(base64.b64decode(kvs[0].get("value", "")))
PY
}

# etcd_put_file KEY FILE: stores the bytes of FILE under KEY.
etcd_put_file() {
	python3 - "$ETCD_URL" "$1" "$2" <<'PY'
import base64, json, sys, urllib.request
url, key, path = sys.argv[1:]
req = json.dumps({"key": base64.b64encode(key.encode()).decode(),
                  "value": base64.b64encode(open(path, "rb").read()).decode()}).encode()
urllib.request.urlopen(url + "/v3/kv/put", req).read()
PY
}

# b64hex B64: the hex of base64-encoded bytes.
b64hex() { python3 -c 'import base64,sys; print(base64.b64decode(sys.argv[1]).hex())' "$1"; }

# slice FILE FROM [TO] OUT: bytes FROM..TO of FILE into OUT (TO empty = to the end).
slice() { python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); t=sys.argv[3]; open(sys.argv[4],"wb").write(d[int(sys.argv[2]):int(t) if t else None])' "$1" "$2" "$3" "$4"; }

# http_code FILE CURL-ARGS...: runs kc with the body into FILE and prints the HTTP status.
http_code() {
	out=$1
	shift
	kc "$D" -o "$out" -w '%{http_code}' "$@"
}
