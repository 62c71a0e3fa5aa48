#!/bin/sh
# 32_verify_sandbox.sh: `rekeyctl verify` on what the sandbox apiserver wrote through its transformer
# chain (aescbc k1, then k2 promoted): counts and decrypt checks with --config, the --forbid prune gate
# finding values still under the old key, live and snapshot agreeing; then a TLS etcd with client
# certificate authentication (--cacert/--cert/--key): read over gRPC (HTTP/2 by ALPN) and over the JSON
# gateway with the same report, refused without the client certificate or with an unknown CA; then a
# config with a wrong aescbc secret under the right key name over 2000 seeded values: none readable
# (about 1 in 256 passes the CBC padding check; its plaintext is not a stored object).
set -u
. tests/e2e/lib.sh
. tests/e2e/apiserver_lib.sh
D=$E2E_TMP/sbx
mkdir -p "$D"
T=$E2E_TMP
V="$REKEYCTL verify"
sbx_start_etcd "$D" || { not_ok setup "etcd did not start"; e2e_done; }
sbx_make_pki "$D" || { not_ok setup "openssl PKI failed"; e2e_done; }
K1=$(sbx_key) K2=$(sbx_key)
CFG=$D/enc.yaml
sbx_write_config "$CFG" aescbc k1 "$K1"
sbx_start_apiserver "$D" cp-1 "$CFG" || { not_ok setup "apiserver did not start: $(tail -3 "$D/cp-1.log")"; e2e_done; }
API=$API_URL/api/v1
JSON="Content-Type: application/json"
create() {
	body=$(printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s","namespace":"default"},"data":{"a":"eA=="}}' "$1")
	code=$(http_code "$T/c" -X POST -H "$JSON" -d "$body" "$API/namespaces/default/secrets")
	[ "$code" = 201 ] || not_ok "create_$1" "HTTP $code: $(head -c 200 "$T/c")"
}
for i in 1 2 3 4 5; do create a$i; done
jsum() { jq -c '[.total, .unexpected, .decryptChecked, .decryptFailed, .forbidden]' "$T/out"; }
expect_exit all_under_k1 0 $V --etcd "$ETCD_URL" --resource secrets --config "$CFG" -o json
[ "$(jsum)" = "[5,0,5,0,0]" ] && ok k1_counts || not_ok k1_counts "$(jsum)"

# promote k2 (k1 stays to read), restart, write two more: five values still need k1
sbx_write_config "$CFG" aescbc k2 "$K2" k1 "$K1"
sbx_stop_apiserver "$API_PID"
sbx_start_apiserver "$D" cp-1 "$CFG" || { not_ok restart "apiserver did not restart"; e2e_done; }
API=$API_URL/api/v1
for i in 1 2; do create b$i; done
expect_exit k1_values_unexpected 1 $V --etcd "$ETCD_URL" --resource secrets --config "$CFG" -o json
[ "$(jsum)" = "[7,5,7,0,0]" ] && ok promoted_counts || not_ok promoted_counts "$(jsum)"
expect_exit prune_gate_refuses 1 $V --etcd "$ETCD_URL" --forbid k1 -o json --limit 0
[ "$(jq .forbidden "$T/out")" = 5 ] && ok prune_gate_counts || not_ok prune_gate_counts "$(jq .forbidden "$T/out")"
expect_grep prune_gate_names "/registry/secrets/default/a3" "$T/out"
etcdctl --endpoints "$ETCD_URL" snapshot save "$T/snap.db" >/dev/null 2>&1
expect_exit snapshot_prune_gate 1 $V --snapshot "$T/snap.db" --forbid k1 -o json
[ "$(jq .forbidden "$T/out")" = 5 ] && ok snapshot_gate_counts || not_ok snapshot_gate_counts "$(jq .forbidden "$T/out")"
expect_exit snapshot_config_check 1 $V --snapshot "$T/snap.db" --resource secrets --config "$CFG" -o json
[ "$(jsum)" = "[7,5,7,0,0]" ] && ok snapshot_counts_equal_live || not_ok snapshot_counts_equal_live "$(jsum)"
expect_exit gate_open_for_unused_key 0 $V --snapshot "$T/snap.db" --forbid k0

# TLS etcd with client certificates: the sandbox CA and admin client cert; etcd's own cert needs
# clientAuth too (its JSON gateway dials the gRPC server with it)
P=$D/pki
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$P/etcd.ext"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$P/etcd.key" -out "$P/etcd.csr" \
	-subj /CN=etcd 2>/dev/null && openssl x509 -req -in "$P/etcd.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" \
	-CAcreateserial -out "$P/etcd.crt" -days 2 -extfile "$P/etcd.ext" 2>/dev/null || not_ok etcd_cert "openssl"
cport=$(sbx_free_port) pport=$(sbx_free_port)
TURL=https://127.0.0.1:$cport
etcd --name tls --data-dir "$T/etcd-tls" --listen-client-urls "$TURL" --advertise-client-urls "$TURL" \
	--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "tls=http://127.0.0.1:$pport" --cert-file "$P/etcd.crt" --key-file "$P/etcd.key" \
	--trusted-ca-file "$P/ca.crt" --client-cert-auth --log-level error >"$T/etcd-tls.log" 2>&1 &
SBX_PIDS="$SBX_PIDS $!"
TLS="--cacert $P/ca.crt --cert $P/admin.crt --key $P/admin.key"
# shellcheck disable=SC2086
if sbx_wait_for "tls etcd" 30 etcdctl --endpoints "$TURL" $TLS endpoint health; then
	# shellcheck disable=SC2086
	etcdctl --endpoints "$TURL" $TLS put /registry/secrets/default/t1 '{"kind":"Secret"}' >/dev/null
	# shellcheck disable=SC2086
	for i in 2 3 4 5; do
		# shellcheck disable=SC2086
		etcdctl --endpoints "$TURL" $TLS put /registry/secrets/default/t$i '{"kind":"Secret"}' >/dev/null
	done
	# shellcheck disable=SC2086
	expect_exit tls_client_cert 0 $V --etcd "$TURL" $TLS --expect identity -o json
	[ "$(jq -c '[.total, .api]' "$T/out")" = '[5,"grpc"]' ] && ok tls_counts_grpc || not_ok tls_counts_grpc "$(head -c 200 "$T/out")"
	cp "$T/out" "$T/tls-grpc.json"
	# shellcheck disable=SC2086
	expect_exit tls_grpc_pages 0 $V --etcd "$TURL" $TLS --etcd-api grpc --page-size 2 --expect identity -o json
	[ "$(jq -S 'del(.api)' "$T/out")" = "$(jq -S 'del(.api)' "$T/tls-grpc.json")" ] && ok tls_grpc_pages_same ||
		not_ok tls_grpc_pages_same "$(head -c 200 "$T/out")"
	# shellcheck disable=SC2086
	expect_exit tls_json_gateway 0 $V --etcd "$TURL" $TLS --etcd-api json --expect identity -o json
	[ "$(jq -r .api "$T/out")" = json ] && [ "$(jq -S 'del(.api)' "$T/out")" = "$(jq -S 'del(.api)' "$T/tls-grpc.json")" ] &&
		ok tls_json_same_report || not_ok tls_json_same_report "$(head -c 200 "$T/out")"
	expect_exit tls_without_client_cert 1 $V --etcd "$TURL" --cacert "$P/ca.crt"
	expect_grep tls_error_names_url "https://127.0.0.1:$cport" "$T/err"
	expect_no_grep tls_no_cert_no_fallback "etcdscan.fallback" "$T/err"
	expect_exit tls_unknown_ca 1 $V --etcd "$TURL" --cert "$P/admin.crt" --key "$P/admin.key"
	expect_grep tls_unknown_ca_named "SSL|certificate" "$T/err"
	expect_exit tls_missing_key_file_exit_2 2 $V --etcd "$TURL" --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/nope.key"
	expect_grep tls_missing_key_file_named "nope.key" "$T/err"
else
	not_ok tls_etcd_started "$(tail -n 3 "$T/etcd-tls.log")"
fi

# ---- a wrong aescbc secret under the right key name: zero readable values ----
W=$T/wrongkey
NW=${VERIFY_WRONG_KEY_VALUES:-2000}
trap '"$SANDBOX" down --dir "$W" >/dev/null 2>&1; sbx_cleanup' EXIT
if "$SANDBOX" up --dir "$W" --apiservers 1 --secrets "$NW" --provider aescbc >"$T/up.log" 2>&1; then
	WCFG=$W/nodes/cp-1/etc/kubernetes/enc/enc.yaml
	WURL=$(cat "$W/etcd.url")
	expect_exit right_key_all_readable 0 $V --etcd "$WURL" --resource secrets --config "$WCFG" -o json
	[ "$(jsum)" = "[$NW,0,$NW,0,0]" ] && ok right_key_counts || not_ok right_key_counts "$(jsum)"
	sed "s|secret: .*|secret: $(sbx_key)|" "$WCFG" >"$T/wrong.yaml"
	cmp -s "$WCFG" "$T/wrong.yaml" && not_ok wrong_key_config "sed changed nothing"
	expect_exit wrong_key_none_readable 1 $V --etcd "$WURL" --resource secrets --config "$T/wrong.yaml" -o json --limit 0
	[ "$(jsum)" = "[$NW,0,$NW,$NW,0]" ] && ok wrong_key_zero_readable || not_ok wrong_key_zero_readable "$(jsum)"
	# the values whose padding happened to check out are named as not decrypting to a stored object
	jq -r '.unexpectedObjects[].reason' "$T/out" | grep -c 'not a stored object' >"$T/padded"
	echo "# wrong key: $(cat "$T/padded") of $NW values passed the CBC padding check"
else
	not_ok wrong_key_sandbox_up "$(tail -n 5 "$T/up.log")"
fi
"$SANDBOX" down --dir "$W" >/dev/null 2>&1
e2e_done
