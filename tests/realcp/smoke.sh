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
. "$here/lib.sh"
realcp_init realcp-smoke kube-apiserver etcd etcdctl

start_etcd
make_pki

# --- EncryptionConfiguration: aescbc first (writes), identity second (reads of plaintext)
key=$(openssl rand -base64 32)
write_encryption_config "$tmp/encryption.yaml" <<EOF
      - aescbc:
          keys:
            - name: key1
              secret: $key
EOF

# --- kube-apiserver
start_apiserver "$tmp/encryption.yaml"
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
	write_encryption_config "$tmp/encryption.new" <<EOF
      - aescbc:
          keys:
            - name: key2
              secret: $key2
            - name: key1
              secret: $key
EOF
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
