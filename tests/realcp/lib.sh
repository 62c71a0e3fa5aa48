# lib.sh: shell helpers shared by the tests/realcp smoke tests (sourced, not run): the temp dir and
# the processes to stop on exit, "ok NAME" / "not ok NAME: why" reporting, free loopback ports, the
# built etcd, a throwaway PKI (CA, apiserver serving cert, admin client cert in system:masters,
# service-account key pair, static token) and one kube-apiserver started and waited for.
#
# The sourcing script sets nothing before; it calls realcp_init PREFIX BINARY... first.
# Environment: REALCP_BIN (default build/realcp/bin), REALCP_KEEP=1 (keep the temp dir),
# REALCP_APISERVER_FLAGS (extra kube-apiserver flags), REALCP_TOKEN_FILE=0 (omit --token-auth-file).

# realcp_init PREFIX BINARY...: checks the built binaries, makes the 0700 temp dir $tmp, sets the
# exit trap. Sets: top, bin, tmp, pids, passed, failed.
realcp_init() {
	_prefix=$1
	shift
	top=$(cd "$(dirname "$0")/../.." && pwd)
	bin=${REALCP_BIN:-$top/build/realcp/bin}
	for b in "$@"; do
		[ -x "$bin/$b" ] || {
			echo "not ok binaries: $bin/$b missing (run: make realcp)"
			exit 1
		}
	done
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$_prefix-XXXXXX")
	chmod 700 "$tmp"
	pids=""
	passed=0
	failed=0
	trap realcp_cleanup EXIT
	trap 'exit 130' INT TERM
}

# stop_pid PID: SIGTERM, then SIGKILL after 20 s; reaps it.
stop_pid() {
	kill "$1" 2>/dev/null || return 0
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 200 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# realcp_cleanup: stops $pids in order (put the apiserver first: its shutdown still talks to etcd).
realcp_cleanup() {
	for _p in $pids; do stop_pid "$_p"; done
	if [ "${REALCP_KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}

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

# ms: monotonic milliseconds.
ms() { python3 -c 'import time; print(int(time.monotonic() * 1000))'; }

# start_etcd: the built etcd on two free ports, data in $tmp/etcd. Sets etcd_url, cport, pport;
# defines etcdctl.
start_etcd() {
	cport=$(free_port)
	pport=$(free_port)
	while [ "$pport" = "$cport" ]; do pport=$(free_port); done
	etcd_url="http://127.0.0.1:$cport"
	"$bin/etcd" --name smoke --data-dir "$tmp/etcd" --listen-client-urls "$etcd_url" \
		--advertise-client-urls "$etcd_url" --listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "smoke=http://127.0.0.1:$pport" \
		--log-level warn >"$tmp/etcd.log" 2>&1 &
	pids="$pids $!"
	_i=0
	until etcdctl endpoint health >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ $_i -lt 150 ] || fatal etcd_health "etcd not healthy after 15 s" "$tmp/etcd.log"
		sleep 0.1
	done
	ok "etcd_health ($("$bin/etcd" --version | head -n 1))"
}
etcdctl() { "$bin/etcdctl" --endpoints "$etcd_url" "$@"; }

# make_pki: CA, serving cert, admin client cert (group system:masters), service-account key pair and
# a static token file, in $tmp/pki. Sets p, token.
make_pki() {
	p=$tmp/pki
	mkdir -p "$p"
	_ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	# shellcheck disable=SC2086
	_q openssl req -x509 $_ec -keyout "$p/ca.key" -out "$p/ca.crt" -days 2 -subj /CN=realcp-smoke-ca
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes\nextendedKeyUsage=serverAuth\n' >"$p/server.ext"
	printf 'extendedKeyUsage=clientAuth\n' >"$p/client.ext"
	# shellcheck disable=SC2086
	_q openssl req $_ec -keyout "$p/apiserver.key" -out "$p/apiserver.csr" -subj /CN=kube-apiserver
	_q openssl x509 -req -in "$p/apiserver.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
		-out "$p/apiserver.crt" -days 2 -extfile "$p/server.ext"
	# shellcheck disable=SC2086
	_q openssl req $_ec -keyout "$p/admin.key" -out "$p/admin.csr" -subj "/O=system:masters/CN=realcp-admin"
	_q openssl x509 -req -in "$p/admin.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
		-out "$p/admin.crt" -days 2 -extfile "$p/client.ext"
	_q openssl genrsa -out "$p/sa.key" 2048
	_q openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub"
	token=$(openssl rand -hex 16)
	printf '%s,realcp-token-admin,realcp-token-admin,"system:masters"\n' "$token" >"$p/tokens.csv"
	chmod 600 "$p"/*.key "$p/tokens.csv"
}
_q() { "$@" >>"$tmp/openssl.log" 2>&1 || fatal pki "openssl failed: $*" "$tmp/openssl.log"; }

# write_encryption_config FILE: an EncryptionConfiguration for secrets whose providers are the YAML
# list items on stdin (indented as items of `providers:`), then identity; created 0600.
write_encryption_config() {
	(
		umask 077
		{
			printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n'
			printf '  - resources: [secrets]\n    providers:\n'
			cat
			printf '      - identity: {}\n'
		} >"$1"
	)
}

curl_admin() { curl -sS --max-time 20 --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" "$@"; }

# start_apiserver ENCRYPTION_CONFIG [LOG]: kube-apiserver on etcd with that config (automatic reload
# on), on $port (a free one the first time, the same one on a restart), then waits up to 120 s for
# /readyz 200 unless REALCP_NO_WAIT=1. Sets port, api, apid, t_ready (ms from start to ready).
start_apiserver() {
	_log=${2:-$tmp/apiserver.log}
	if [ -z "${port:-}" ]; then
		port=$(free_port)
		while [ "$port" = "$cport" ] || [ "$port" = "$pport" ]; do port=$(free_port); done
	fi
	set -- --etcd-servers="$etcd_url" --secure-port="$port" --bind-address=127.0.0.1 \
		--advertise-address=127.0.0.1 \
		--tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
		--client-ca-file="$p/ca.crt" --service-cluster-ip-range=10.0.0.0/24 --authorization-mode=RBAC \
		--service-account-issuer="https://127.0.0.1:$port" --service-account-key-file="$p/sa.pub" \
		--service-account-signing-key-file="$p/sa.key" --disable-admission-plugins=ServiceAccount \
		--encryption-provider-config="$1" --encryption-provider-config-automatic-reload
	if [ "${REALCP_TOKEN_FILE:-1}" = 1 ]; then set -- "$@" --token-auth-file="$p/tokens.csv"; fi
	# shellcheck disable=SC2086
	set -- "$@" ${REALCP_APISERVER_FLAGS:-}
	printf '%s\n' "$@" >"$tmp/apiserver.flags"
	_t0=$(ms)
	"$bin/kube-apiserver" "$@" >"$_log" 2>&1 &
	apid=$!
	pids="$apid $pids"
	api="https://127.0.0.1:$port"
	[ "${REALCP_NO_WAIT:-0}" = 1 ] && return 0
	_i=0
	until [ "$(curl_admin -o /dev/null -w '%{http_code}' "$api/readyz" 2>/dev/null)" = 200 ]; do
		kill -0 "$apid" 2>/dev/null || fatal apiserver_ready "kube-apiserver exited" "$_log"
		_i=$((_i + 1))
		[ $_i -lt 1200 ] || fatal apiserver_ready "no /readyz 200 after 120 s" "$_log"
		sleep 0.1
	done
	t_ready=$(($(ms) - _t0))
}
