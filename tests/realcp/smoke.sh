#!/bin/sh
# smoke.sh: starts the real etcd and kube-apiserver built by build.sh on free loopback ports in a
# temporary directory, with a throwaway PKI and an aescbc EncryptionConfiguration, and checks that:
# /readyz answers, /version reports v1.34, a secret created through the API is stored in etcd as
# k8s:enc:aescbc:v1:key1:..., reads back unchanged, and (informational) which encryption-config
# metrics /metrics exposes. Prints "ok NAME" / "not ok NAME: why" lines and a summary line; exits
# non-zero on any failure. Every process it starts is stopped on exit.
#
# Environment: REALCP_BIN (default build/realcp/bin), REALCP_KEEP=1 (keep the temp dir),
# REALCP_APISERVER_FLAGS (extra kube-apiserver flags), REALCP_TOKEN_FILE=0 (omit --token-auth-file),
# REALCP_RELOAD=1 (then also writes a config with a new first key and waits, up to 3 minutes, for the
# automatic reload: last_config_info's new hash, new writes under key2, old data still readable).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${REALCP_BIN:-$top/build/realcp/bin}
for b in kube-apiserver etcd etcdctl; do
	[ -x "$bin/$b" ] || {
		echo "not ok binaries: $bin/$b missing (run: make realcp)"
		exit 1
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/realcp-smoke-XXXXXX")
chmod 700 "$tmp"
pids=""
passed=0
failed=0

# cleanup: stops the apiserver first (its shutdown still talks to etcd), then etcd; SIGKILL after 20 s.
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || continue
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 200 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "${REALCP_KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() {
	echo "ok $1"
	passed=$((passed + 1))
}
not_ok() {
	echo "not ok $1: $2"
	failed=$((failed + 1))
}
finish() {
	echo "smoke: $passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
}
# fatal NAME WHY [LOG]: a failure the rest cannot go on from.
fatal() {
	not_ok "$1" "$2"
	if [ -n "${3:-}" ] && [ -f "$3" ]; then
		echo "-- last lines of $3:"
		tail -n 40 "$3"
	fi
	finish
}

# free_port: a loopback TCP port below the ephemeral range that nobody listens on.
free_port() {
	python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
'
}

ms() { python3 -c 'import time; print(int(time.monotonic() * 1000))'; }

# --- etcd
cport=$(free_port)
pport=$(free_port)
while [ "$pport" = "$cport" ]; do pport=$(free_port); done
etcd_url="http://127.0.0.1:$cport"
"$bin/etcd" --name smoke --data-dir "$tmp/etcd" --listen-client-urls "$etcd_url" \
	--advertise-client-urls "$etcd_url" --listen-peer-urls "http://127.0.0.1:$pport" \
	--initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "smoke=http://127.0.0.1:$pport" \
	--log-level warn >"$tmp/etcd.log" 2>&1 &
pids="$pids $!"
etcdctl() { "$bin/etcdctl" --endpoints "$etcd_url" "$@"; }
i=0
until etcdctl endpoint health >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 150 ] || fatal etcd_health "etcd not healthy after 15 s" "$tmp/etcd.log"
	sleep 0.1
done
ok "etcd_health ($("$bin/etcd" --version | head -n 1))"

# --- PKI: CA, serving cert, admin client cert (group system:masters), service-account key pair
p=$tmp/pki
mkdir -p "$p"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
q() { "$@" >>"$tmp/openssl.log" 2>&1 || fatal pki "openssl failed: $*" "$tmp/openssl.log"; }
# shellcheck disable=SC2086
q openssl req -x509 $ec -keyout "$p/ca.key" -out "$p/ca.crt" -days 2 -subj /CN=realcp-smoke-ca
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes\nextendedKeyUsage=serverAuth\n' >"$p/server.ext"
printf 'extendedKeyUsage=clientAuth\n' >"$p/client.ext"
# shellcheck disable=SC2086
q openssl req $ec -keyout "$p/apiserver.key" -out "$p/apiserver.csr" -subj /CN=kube-apiserver
q openssl x509 -req -in "$p/apiserver.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
	-out "$p/apiserver.crt" -days 2 -extfile "$p/server.ext"
# shellcheck disable=SC2086
q openssl req $ec -keyout "$p/admin.key" -out "$p/admin.csr" -subj "/O=system:masters/CN=realcp-admin"
q openssl x509 -req -in "$p/admin.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
	-out "$p/admin.crt" -days 2 -extfile "$p/client.ext"
q openssl genrsa -out "$p/sa.key" 2048
q openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub"
token=$(openssl rand -hex 16)
printf '%s,realcp-token-admin,realcp-token-admin,"system:masters"\n' "$token" >"$p/tokens.csv"
chmod 600 "$p"/*.key "$p/tokens.csv"

# --- EncryptionConfiguration: aescbc first (writes), identity second (reads of plaintext)
key=$(openssl rand -base64 32)
cat >"$tmp/encryption.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: $key
      - identity: {}
EOF
chmod 600 "$tmp/encryption.yaml"

# --- kube-apiserver
port=$(free_port)
while [ "$port" = "$cport" ] || [ "$port" = "$pport" ]; do port=$(free_port); done
set -- --etcd-servers="$etcd_url" --secure-port="$port" --bind-address=127.0.0.1 \
	--advertise-address=127.0.0.1 \
	--tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
	--client-ca-file="$p/ca.crt" --service-cluster-ip-range=10.0.0.0/24 --authorization-mode=RBAC \
	--service-account-issuer="https://127.0.0.1:$port" --service-account-key-file="$p/sa.pub" \
	--service-account-signing-key-file="$p/sa.key" --disable-admission-plugins=ServiceAccount \
	--encryption-provider-config="$tmp/encryption.yaml" --encryption-provider-config-automatic-reload
if [ "${REALCP_TOKEN_FILE:-1}" = 1 ]; then set -- "$@" --token-auth-file="$p/tokens.csv"; fi
# shellcheck disable=SC2086
set -- "$@" ${REALCP_APISERVER_FLAGS:-}
printf '%s\n' "$@" >"$tmp/apiserver.flags"
t0=$(ms)
"$bin/kube-apiserver" "$@" >"$tmp/apiserver.log" 2>&1 &
apid=$!
pids="$apid $pids"

api="https://127.0.0.1:$port"
curl_admin() { curl -sS --max-time 20 --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" "$@"; }
i=0
until [ "$(curl_admin -o /dev/null -w '%{http_code}' "$api/readyz" 2>/dev/null)" = 200 ]; do
	kill -0 "$apid" 2>/dev/null || fatal apiserver_ready "kube-apiserver exited" "$tmp/apiserver.log"
	i=$((i + 1))
	[ $i -lt 1200 ] || fatal apiserver_ready "no /readyz 200 after 120 s" "$tmp/apiserver.log"
	sleep 0.1
done
t_ready=$(($(ms) - t0))
rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$apid/status")
ok "apiserver_ready (${t_ready} ms after start, RSS ${rss} MiB)"

curl_admin "$api/readyz?verbose" >"$tmp/readyz.txt" || true
if grep -q '^\[+\]etcd ok' "$tmp/readyz.txt"; then ok readyz_checks; else not_ok readyz_checks "$(head -c 300 "$tmp/readyz.txt")"; fi

curl_admin "$api/version" >"$tmp/version.json" || true
gv=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gitVersion"])' "$tmp/version.json" 2>/dev/null || echo "?")
case "$gv" in
v1.34.*) ok "version ($gv)" ;;
*) not_ok version "gitVersion $gv: $(head -c 200 "$tmp/version.json")" ;;
esac

if [ "${REALCP_TOKEN_FILE:-1}" = 1 ]; then
	code=$(curl -sS --max-time 20 --cacert "$p/ca.crt" -H "Authorization: Bearer $token" \
		-o /dev/null -w '%{http_code}' "$api/api/v1/namespaces/default/secrets" || echo 000)
	if [ "$code" = 200 ]; then ok token_auth_file; else not_ok token_auth_file "HTTP $code with the static token"; fi
fi

# --- a secret through the API, then its stored bytes in etcd
name=smoke-$(openssl rand -hex 4)
body=$(printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s"},"data":{"k":"%s"}}' \
	"$name" "$(printf 'realcp smoke value' | base64)")
code=$(curl_admin -o "$tmp/create.json" -w '%{http_code}' -H 'Content-Type: application/json' \
	-X POST -d "$body" "$api/api/v1/namespaces/default/secrets" || echo 000)
if [ "$code" = 201 ]; then ok create_secret; else not_ok create_secret "HTTP $code: $(head -c 300 "$tmp/create.json")"; fi

etcdctl get "/registry/secrets/default/$name" --print-value-only >"$tmp/stored.bin" 2>"$tmp/etcdctl.err" || true
prefix=$(head -c 23 "$tmp/stored.bin")
if [ "$prefix" = "k8s:enc:aescbc:v1:key1:" ]; then
	ok "stored_aescbc ($prefix, $(wc -c <"$tmp/stored.bin") bytes)"
else
	not_ok stored_aescbc "stored value starts with '$(head -c 40 "$tmp/stored.bin" | od -An -c | tr -s ' ' | head -c 120)' $(cat "$tmp/etcdctl.err")"
fi
if grep -q 'realcp smoke value' "$tmp/stored.bin"; then not_ok stored_not_plain "plaintext found in etcd"; else ok stored_not_plain; fi

curl_admin "$api/api/v1/namespaces/default/secrets/$name" >"$tmp/get.json" || true
got=$(python3 -c 'import base64,json,sys; print(base64.b64decode(json.load(open(sys.argv[1]))["data"]["k"]).decode())' "$tmp/get.json" 2>/dev/null || echo "?")
if [ "$got" = "realcp smoke value" ]; then ok read_back; else not_ok read_back "got '$got'"; fi

# --- metrics (informational: the names are printed for the record)
curl_admin "$api/metrics" >"$tmp/metrics.txt" || true
grep -E '^apiserver_encryption_config_controller_' "$tmp/metrics.txt" | sed 's/^/# metric: /' || true
if grep -q '^apiserver_encryption_config_controller_last_config_info{' "$tmp/metrics.txt"; then
	want="sha256:$(sha256sum "$tmp/encryption.yaml" | cut -d ' ' -f 1)"
	if grep '^apiserver_encryption_config_controller_last_config_info{' "$tmp/metrics.txt" | grep -qF "hash=\"$want\""; then
		ok "last_config_info (hash = sha256 of the file)"
	else
		not_ok last_config_info "hash label is not $want"
	fi
else
	not_ok last_config_info "no apiserver_encryption_config_controller_last_config_info in /metrics"
fi
grep -E '^apiserver_storage_transformation_operations_total' "$tmp/metrics.txt" | sed 's/^/# metric: /' || true

# --- optional: automatic reload (the file is polled about once a minute)
if [ "${REALCP_RELOAD:-0}" = 1 ]; then
	key2=$(openssl rand -base64 32)
	# key2 first (writes), key1 second (reads); written aside, then renamed into place
	cat >"$tmp/encryption.new" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: key2
              secret: $key2
            - name: key1
              secret: $key
      - identity: {}
EOF
	chmod 600 "$tmp/encryption.new"
	mv "$tmp/encryption.new" "$tmp/encryption.yaml"
	want="sha256:$(sha256sum "$tmp/encryption.yaml" | cut -d ' ' -f 1)"
	t0=$(ms)
	seen=0
	while [ $(($(ms) - t0)) -lt 180000 ]; do
		curl_admin "$api/metrics" >"$tmp/metrics.txt" 2>/dev/null || true
		if grep '^apiserver_encryption_config_controller_last_config_info{' "$tmp/metrics.txt" | grep -qF "hash=\"$want\""; then
			seen=1
			break
		fi
		sleep 1
	done
	if [ "$seen" = 1 ]; then ok "reload_seen ($(($(ms) - t0)) ms after the write)"; else not_ok reload_seen "hash $want not in last_config_info after 180 s"; fi
	grep -E '^apiserver_encryption_config_controller_' "$tmp/metrics.txt" | sed 's/^/# metric: /' || true
	name2=smoke2-$(openssl rand -hex 4)
	body=$(printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s"},"data":{"k":"eA=="}}' "$name2")
	curl_admin -o /dev/null -H 'Content-Type: application/json' -X POST -d "$body" \
		"$api/api/v1/namespaces/default/secrets" || true
	etcdctl get "/registry/secrets/default/$name2" --print-value-only >"$tmp/stored2.bin" 2>/dev/null || true
	prefix=$(head -c 23 "$tmp/stored2.bin")
	if [ "$prefix" = "k8s:enc:aescbc:v1:key2:" ]; then ok reload_writes_key2; else not_ok reload_writes_key2 "prefix '$prefix'"; fi
	code=$(curl_admin -o /dev/null -w '%{http_code}' "$api/api/v1/namespaces/default/secrets/$name" || echo 000)
	if [ "$code" = 200 ]; then ok reload_reads_key1; else not_ok reload_reads_key1 "HTTP $code"; fi
fi

rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$apid/status")
echo "# apiserver RSS after the checks: ${rss} MiB; flags:"
sed "s|$tmp|\$TMP|g; s/^/#   /" "$tmp/apiserver.flags"
if grep -Ei 'deprecated|unknown flag|will be removed' "$tmp/apiserver.log" | head -n 10 | sed 's/^/# log: /'; then :; fi
finish
