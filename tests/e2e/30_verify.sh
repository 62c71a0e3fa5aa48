#!/bin/sh
# 30_verify.sh: `rekeyctl verify` against a real etcd and an `etcdctl snapshot save` of it: a mix of
# identity (JSON and protobuf), aescbc (made with the openssl CLI), aesgcm and secretbox (made by a
# helper over the codec), kms v1 and v2, malformed, deleted keys and keys with several revisions.
# Counts from the snapshot must be exact and equal to the live counts, and the live reports over gRPC
# and over the JSON gateway identical, in one page or many; an HTTP/1-only proxy in front of the
# gateway is read through the JSON fallback; a plain HTTP server is a clear error; etcd compacting
# past the scan's revision between two pages is ridden out at the newest revision; etcd's gRPC error
# message reaches the user; bad snapshot files and flags exit 2.
. tests/e2e/lib.sh
T=$E2E_TMP
for tool in etcd etcdctl openssl curl jq cc; do
	if ! command -v $tool >/dev/null 2>&1; then
		skip 30_verify "$tool not installed"
		exit 0
	fi
done

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
CPORT=$(free_port)
PPORT=$(free_port)
EURL=http://127.0.0.1:$CPORT
etcd --name e2e --data-dir "$T/etcd" --listen-client-urls "$EURL" --advertise-client-urls "$EURL" \
	--listen-peer-urls "http://127.0.0.1:$PPORT" --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
	--initial-cluster "e2e=http://127.0.0.1:$PPORT" >"$T/etcd.log" 2>&1 &
ETCD_PID=$!
e2e_cleanup() { kill "$ETCD_PID" 2>/dev/null; wait "$ETCD_PID" 2>/dev/null; rm -rf "$E2E_TMP"; }
trap e2e_cleanup EXIT
deadline=$(($(date +%s) + 30))
until ETCDCTL_API=3 etcdctl --endpoints "$EURL" endpoint health >/dev/null 2>&1; do
	if [ "$(date +%s)" -ge $deadline ] || ! kill -0 "$ETCD_PID" 2>/dev/null; then
		not_ok etcd_started "etcd did not become healthy: $(tail -n 5 "$T/etcd.log")"
		e2e_done
	fi
	sleep 0.2
done
ok etcd_started

cc -std=c11 -D_GNU_SOURCE -Iinclude -o "$T/mkvalue" tests/e2e/tools/mkvalue.c src/codec/codec.c src/codec/codec_chain.c \
	src/codec/codec_crypto.c src/encconfig/keys.c src/util/buf.c src/util/err.c src/util/pbwire.c src/util/base64.c \
	$(pkg-config --cflags --libs libcrypto libsodium) || { not_ok mkvalue_built "cc failed"; e2e_done; }

KEY1=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=   # aescbc key1
KEY2=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=   # aesgcm key2
BOX1=c2VjcmV0Ym94LWtleS0zMi1ieXRlcy1sb25nLi4uLi4=   # secretbox box1
hex() { od -An -v -tx1 | tr -d ' \n'; }

b64() { printf '%s' "$1" | base64 -w0; }
put_file() { # put_file ETCDKEY FILE
	printf '{"key":"%s","value":"%s"}' "$(b64 "$1")" "$(base64 -w0 "$2")" >"$T/req.json"
	curl -sf -X POST "$EURL/v3/kv/put" --data-binary @"$T/req.json" >/dev/null || not_ok "put $1" "curl failed"
}
del_key() {
	curl -sf -X POST "$EURL/v3/kv/deleterange" -d "{\"key\":\"$(b64 "$1")\"}" >/dev/null || not_ok "del $1" "curl"
}
plain_json() { printf '{"kind":"Secret","apiVersion":"v1","metadata":{"name":"%s"},"data":{"a":"YQ=="}}' "$1"; }
put_identity_json() { plain_json "$1" >"$T/v"; put_file "$1" "$T/v"; }
put_identity_pb() { printf 'k8s\000\012\014\012\002v1\022\006Secret\022\003abc' >"$T/v"; put_file "$1" "$T/v"; }
put_aescbc() { # independent: openssl CLI, IV || AES-256-CBC(PKCS#7)
	openssl rand 16 >"$T/iv"
	plain_json "$1" | openssl enc -aes-256-cbc -K "$(printf %s "$KEY1" | base64 -d | hex)" \
		-iv "$(hex <"$T/iv")" >"$T/ct"
	{ printf 'k8s:enc:aescbc:v1:key1:'; cat "$T/iv" "$T/ct"; } >"$T/v"
	put_file "$1" "$T/v"
}
put_helper() { # put_helper PROVIDER NAME SECRET ETCDKEY
	plain_json "$4" | MKVALUE_SECRET=$3 "$T/mkvalue" "$1" "$2" "$4" >"$T/v" && put_file "$4" "$T/v"
}
S=/registry/secrets
put_identity_json $S/ns1/id-json
put_identity_pb $S/ns1/id-pb
for i in 1 2 3; do put_aescbc $S/ns1/cbc-$i; done
for i in 1 2; do put_helper aesgcm key2 $KEY2 $S/ns2/gcm-$i; done
for i in 1 2; do put_helper secretbox box1 $BOX1 $S/ns2/box-$i; done
put_aescbc $S/ns1/deleted && del_key $S/ns1/deleted                       # gone
put_identity_json $S/ns1/multi && put_aescbc $S/ns1/multi && put_helper aesgcm key2 $KEY2 $S/ns1/multi
put_aescbc $S/ns1/reborn && del_key $S/ns1/reborn && put_identity_json $S/ns1/reborn
printf 'garbage' >"$T/v" && put_file $S/ns1/bad "$T/v"
# kms v2: prefix + EncryptedObject {1: data, 2: keyID "kek-1", 3: DEK source, 5: 1}
printf 'k8s:enc:kms:v2:vault:\012\003abc\022\005kek-1\032\004seed\050\001' >"$T/v" && put_file $S/ns3/kms "$T/v"
# kms v1: prefix + uint16 BE DEK length + DEK + payload
{ printf 'k8s:enc:kms:v1:legacy:\000\004dek!'; head -c 44 /dev/urandom; } >"$T/v" && put_file $S/ns3/kms1 "$T/v"
put_identity_json /registry/configmaps/ns1/cm1
{ printf '{"kind":"Secret","data":{"big":"'; head -c 150000 /dev/urandom | base64 -w0; printf '"}}'; } >"$T/v"
put_file $S/ns1/big "$T/v" # spans bbolt overflow pages
for i in 1 2; do put_aescbc /registry/example.com/widgets/ns1/w$i; done
put_identity_json /other/not-registry

V="$REKEYCTL verify"
ETCDCTL_API=3 etcdctl --endpoints "$EURL" snapshot save "$T/snap.db" >/dev/null 2>&1 || not_ok snapshot_saved "etcdctl"
[ -s "$T/snap.db" ] && ok snapshot_saved

# exact counts from the snapshot
expect_exit snapshot_has_mismatch 1 $V --snapshot "$T/snap.db" -o json --limit 0
cp "$T/out" "$T/snap.json"
count() { jq -r --arg r "$1" --arg p "$2" --arg k "$3" \
	'[.counts[] | select(.resource==$r and .provider==$p and (.key // "")==$k) | .count] | add // 0' "$T/snap.json"; }
check_count() {
	got=$(count "$1" "$2" "$3")
	if [ "$got" = "$4" ]; then ok "count_$1_$2_$3"; else not_ok "count_$1_$2_$3" "got $got want $4"; fi
}
check_count secrets identity "" 4
check_count secrets aescbc key1 3
check_count secrets aesgcm key2 3
check_count secrets secretbox box1 2
check_count secrets malformed "" 1
check_count secrets kms-v2 vault 1
check_count secrets kms-v1 legacy 1
check_count configmaps identity "" 1
check_count widgets.example.com aescbc key1 2
total=$(jq .total "$T/snap.json")
[ "$total" = 18 ] && ok snapshot_total || not_ok snapshot_total "total $total, want 18"
kid=$(jq -r '.counts[] | select(.provider=="kms-v2") | .keyID' "$T/snap.json")
[ "$kid" = kek-1 ] && ok kms_v2_key_id || not_ok kms_v2_key_id "keyID $kid"
expect_no_grep deleted_key_not_listed "/registry/secrets/ns1/deleted" "$T/snap.json"
expect_no_grep outside_prefix_not_counted "/other/" "$T/snap.json"

# the same counts from live etcd: gRPC by default, the JSON gateway when asked, identical reports in one
# page or in pages of 2 (pages end inside the big value's neighbours and between revisions of a key)
expect_exit live_has_mismatch 1 $V --etcd "$EURL" -o json --limit 0
cp "$T/out" "$T/live.json"
norm() { jq -S '[.counts[] | {resource, provider, key, keyID, count}] | sort_by(.resource, .provider, .key)' "$1"; }
if [ "$(norm "$T/snap.json")" = "$(norm "$T/live.json")" ] && [ "$(jq .total "$T/live.json")" = 18 ]; then
	ok live_equals_snapshot
else
	not_ok live_equals_snapshot "$(norm "$T/live.json" | head -c 400)"
fi
[ "$(jq -r .api "$T/live.json")" = grpc ] && ok live_default_is_grpc || not_ok live_default_is_grpc "$(jq -r .api "$T/live.json")"
same_report() { jq -S 'del(.api)' "$1"; }
for api in grpc json; do
	for pages in 0 2; do
		args="--etcd-api $api"
		[ "$pages" = 0 ] || args="$args --page-size $pages"
		# shellcheck disable=SC2086
		expect_exit "live_${api}_pages_${pages}_runs" 1 $V --etcd "$EURL" $args -o json --limit 0
		if [ "$(same_report "$T/out")" = "$(same_report "$T/live.json")" ] && [ "$(jq -r .api "$T/out")" = $api ]; then
			ok "live_${api}_pages_${pages}_same_report"
		else
			not_ok "live_${api}_pages_${pages}_same_report" "$(jq -c '[.api, .total, .unexpected, .revision]' "$T/out")"
		fi
	done
done

# expectations and exit codes
expect_exit widgets_all_under_key1 0 $V --snapshot "$T/snap.db" --resource widgets.example.com --expect key1 -o json
[ "$(jq .total "$T/out")" = 2 ] && ok widgets_filter_counts_2 || not_ok widgets_filter_counts_2 "$(head -c 300 "$T/out")"
expect_exit secrets_not_all_key1 1 $V --snapshot "$T/snap.db" --resource secrets --expect key1 --limit 2
expect_grep names_unexpected_object "/registry/secrets/ns[0-9]/.*expected key \"key1\"" "$T/out"
expect_grep listing_is_limited "first ones" "$T/out"
expect_exit json_lists_all 1 $V --snapshot "$T/snap.db" --resource secrets --expect key1 -o json
[ "$(jq '.unexpectedObjects | length' "$T/out")" = "$(jq .unexpected "$T/out")" ] && [ "$(jq .unexpected "$T/out")" = 12 ] &&
	ok json_lists_every_unexpected || not_ok json_lists_every_unexpected "$(jq -c '[.unexpected, (.unexpectedObjects|length)]' "$T/out")"
expect_exit live_widgets_under_key1 0 $V --etcd "$EURL" --resource widgets.example.com --expect key1 -o json
[ "$(jq .total "$T/out")" = 2 ] && ok live_widgets_counts_2 || not_ok live_widgets_counts_2 "$(head -c 300 "$T/out")"

# --config: expected = the write key of each resource's rule; every local value decrypt-checked
cat >"$T/enc.yaml" <<YAML
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aesgcm: {keys: [{name: key2, secret: "$KEY2"}]}
      - aescbc: {keys: [{name: key1, secret: "$KEY1"}]}
      - secretbox: {keys: [{name: box1, secret: "$BOX1"}]}
      - identity: {}
  - resources: [widgets.example.com]
    providers:
      - aescbc: {keys: [{name: key1, secret: "$KEY1"}]}
YAML
expect_exit config_secrets_mismatch 1 $V --snapshot "$T/snap.db" --resource secrets --config "$T/enc.yaml" -o json
jsum() { jq -c '[.total, .unexpected, .decryptChecked, .decryptFailed]' "$T/out"; }
# 12 local values and identity read; the kms values (v2 "vault", v1 "legacy") are unreadable (no kms
# provider in the secrets rule: the apiserver could not read them either)
[ "$(jsum)" = "[15,12,14,2]" ] && ok config_counts || not_ok config_counts "total/unexpected/checked/failed $(jsum)"
jq -r '.unexpectedObjects[] | select(.etcdKey == "/registry/secrets/ns3/kms") | .reason' "$T/out" >"$T/kms.reason"
expect_grep config_unknown_kms_unreadable 'unreadable with the configuration: .*no matching prefix found \(value is kms-v2 key "vault", not in this configuration\)' "$T/kms.reason"
# with a kms provider "vault" in the rule, only its plugin can read that value: not checked, not failed
sed 's/      - identity: {}/      - kms: {apiVersion: v2, name: vault, endpoint: "unix:\/\/\/tmp\/kms.sock"}\n      - identity: {}/' \
	"$T/enc.yaml" >"$T/enc-kms.yaml"
expect_exit config_known_kms 1 $V --snapshot "$T/snap.db" --resource secrets --config "$T/enc-kms.yaml" -o json
[ "$(jsum)" = "[15,12,13,1]" ] && ok config_known_kms_not_checked || not_ok config_known_kms_not_checked "$(jsum)"
# --expect-key-id with --config: a kms v2 value of a rule whose write provider is that kms must carry the
# keyID too (a KEK rotation's verify over the selected rules)
sed 's/      - aesgcm: {keys/      - kms: {apiVersion: v2, name: vault, endpoint: "unix:\/\/\/tmp\/kms.sock"}\n      - aesgcm: {keys/' \
	"$T/enc.yaml" >"$T/enc-kms-first.yaml"
kms_reason() { jq -r '.unexpectedObjects[] | select(.etcdKey == "/registry/secrets/ns3/kms") | .reason' "$T/out"; }
expect_exit config_key_id_same 1 $V --snapshot "$T/snap.db" --resource secrets --config "$T/enc-kms-first.yaml" --expect-key-id kek-1 -o json
[ -z "$(kms_reason)" ] && ok config_key_id_same_expected || not_ok config_key_id_same_expected "$(kms_reason)"
expect_exit config_key_id_other 1 $V --snapshot "$T/snap.db" --resource secrets --config "$T/enc-kms-first.yaml" --expect-key-id kek-2 -o json
kms_reason >"$T/kms.reason"
expect_grep config_key_id_other_named 'kms-v2 key "vault" keyID "kek-1", expected keyID "kek-2"' "$T/kms.reason"
expect_exit config_widgets_ok 0 $V --snapshot "$T/snap.db" --resource widgets.example.com --config "$T/enc.yaml" -o json
[ "$(jsum)" = "[2,0,2,0]" ] && ok config_widgets_decrypted || not_ok config_widgets_decrypted "$(jsum)"
# a value under a configured key name but sealed with another secret (a reused name) fails the check
OTHER=b3RoZXItc2VjcmV0LXVuZGVyLWEtcmV1c2VkLW5hbWU=
put_helper aesgcm key2 $OTHER $S/ns4/forged
expect_exit config_forged_detected 1 $V --etcd "$EURL" --resource secrets --config "$T/enc.yaml" --limit 0
expect_grep config_forged_named "/registry/secrets/ns4/forged: .*aesgcm key \"key2\".*authentication failed" "$T/out"
expect_exit config_grpc_decrypt_checks 1 $V --etcd "$EURL" --resource secrets --config "$T/enc.yaml" -o json
cp "$T/out" "$T/config-grpc.json"
expect_exit config_json_decrypt_checks 1 $V --etcd "$EURL" --etcd-api json --resource secrets --config "$T/enc.yaml" -o json
# unreadable: the forged value and the two kms values (no kms provider in the secrets rule)
[ "$(same_report "$T/out")" = "$(same_report "$T/config-grpc.json")" ] && [ "$(jq .decryptFailed "$T/out")" = 3 ] &&
	ok config_grpc_equals_json || not_ok config_grpc_equals_json "$(jq -c '[.decryptChecked, .decryptFailed]' "$T/out")"
printf 'kind: Nope\n' >"$T/bad.yaml"
expect_exit bad_config_exit_2 2 $V --snapshot "$T/snap.db" --config "$T/bad.yaml"

# --forbid: the prune gate; a value planted under the old key is found and named
expect_exit forbid_absent_key_ok 0 $V --snapshot "$T/snap.db" --resource widgets.example.com --forbid key9
expect_exit forbid_present_key_fails 1 $V --etcd "$EURL" --forbid box1 -o json
[ "$(jq .forbidden "$T/out")" = 2 ] && ok forbid_counts_2 || not_ok forbid_counts_2 "$(jq .forbidden "$T/out")"
expect_grep forbid_names_object '"etcdKey": "/registry/secrets/ns2/box-1"' "$T/out"
expect_exit forbid_identity_exit_2 2 $V --snapshot "$T/snap.db" --forbid identity

# bad inputs exit 2 with a clear message
: >"$T/empty.db"
expect_exit empty_snapshot_exit_2 2 $V --snapshot "$T/empty.db"
expect_grep empty_snapshot_message "empty file" "$T/err"
head -c 20000 "$T/snap.db" >"$T/trunc.db"
expect_exit truncated_snapshot_exit_2 2 $V --snapshot "$T/trunc.db"
expect_grep truncated_snapshot_message "trunc|page|sha256" "$T/err"
head -c 12288 "$T/snap.db" >"$T/trunc2.db"
expect_exit truncated_at_page_exit_2 2 $V --snapshot "$T/trunc2.db"
expect_grep truncated_at_page_message "truncated: the database has [0-9]+ pages but the file holds 3" "$T/err"
head -c 65536 /dev/urandom >"$T/random.db"
expect_exit random_snapshot_exit_2 2 $V --snapshot "$T/random.db"
expect_grep random_snapshot_message "not an etcd snapshot|no valid bbolt meta" "$T/err"
expect_exit missing_snapshot_exit_2 2 $V --snapshot "$T/nope.db"
expect_exit no_source_exit_2 2 $V
expect_exit bad_url_exit_2 2 $V --etcd "ftp://127.0.0.1:1"
expect_exit both_expectations_exit_2 2 $V --snapshot "$T/snap.db" --expect a --config x.yaml
expect_exit bad_etcd_api_exit_2 2 $V --etcd "$EURL" --etcd-api rest
expect_grep bad_etcd_api_message "--etcd-api \"rest\": must be auto, grpc or json" "$T/err"
expect_exit etcd_api_needs_etcd_exit_2 2 $V --snapshot "$T/snap.db" --etcd-api grpc
expect_grep etcd_api_needs_etcd_message "--etcd-api needs --etcd URL" "$T/err"

# an HTTP/1-only proxy in front of the JSON gateway: gRPC fails, the fallback reads the gateway
HPORT=$(free_port)
python3 tests/e2e/tools/http1_proxy.py "$HPORT" "$EURL" >"$T/proxy.log" 2>&1 &
PROXY_PID=$!
until curl -s -o /dev/null "http://127.0.0.1:$HPORT/"; do
	kill -0 $PROXY_PID 2>/dev/null || { not_ok proxy_started "$(tail -n 3 "$T/proxy.log")"; break; }
	sleep 0.1
done
expect_exit fallback_through_http1_proxy 1 $V --etcd "http://127.0.0.1:$HPORT" -o json --limit 0
[ "$(jq -r .api "$T/out")" = json ] && [ "$(jq .total "$T/out")" = 19 ] && ok fallback_reads_json_gateway ||
	not_ok fallback_reads_json_gateway "$(jq -c '[.api, .total]' "$T/out")"
expect_grep fallback_logged 'etcdscan.fallback.*does not speak gRPC' "$T/err"
expect_exit grpc_only_refuses_proxy 1 $V --etcd "http://127.0.0.1:$HPORT" --etcd-api grpc
expect_grep grpc_only_names_reason 'not a gRPC server' "$T/err"
kill $PROXY_PID 2>/dev/null
wait $PROXY_PID 2>/dev/null
# a plain HTTP server that is no etcd at all: a clear error, not a crash
python3 -m http.server "$HPORT" --bind 127.0.0.1 --directory "$T/etcd" >"$T/http.log" 2>&1 &
HTTP_PID=$!
until curl -s -o /dev/null "http://127.0.0.1:$HPORT/"; do sleep 0.1; done
expect_exit plain_http_server_fails 1 $V --etcd "http://127.0.0.1:$HPORT"
expect_grep plain_http_server_message "v3/kv/range: HTTP 501" "$T/err"
expect_exit plain_http_server_grpc_only 1 $V --etcd "http://127.0.0.1:$HPORT" --etcd-api grpc
expect_grep plain_http_server_not_grpc "not a gRPC server" "$T/err"
kill $HTTP_PID 2>/dev/null
wait $HTTP_PID 2>/dev/null

# etcd compacts past the scan's revision between two pages (after page 1 of pages of 2): the scan
# carries on from the same key at the newest revision and says so; the key written meanwhile after
# the scan's position is counted
SCAN=${REKEYCTL%/rekeyctl}/e2e-scan_pages
n=0
for api in grpc json; do
	n=$((n + 1))
	hook="ETCDCTL_API=3 etcdctl --endpoints $EURL put /registry/secrets/zz/late-$n x >/dev/null &&
		ETCDCTL_API=3 etcdctl --endpoints $EURL compact --physical \$(ETCDCTL_API=3 etcdctl --endpoints $EURL \
		get / -w json | jq .header.revision) >/dev/null"
	expect_exit "compaction_mid_scan_${api}" 0 "$SCAN" "$EURL" $api 2 1 "$hook"
	rev=$(jq .revision "$T/out") moved=$(jq .revisionMovedTo "$T/out") total=$(jq .total "$T/out")
	[ "$moved" -gt "$rev" ] 2>/dev/null && [ "$total" = $((19 + n)) ] && ok "compaction_${api}_moved_on" ||
		not_ok "compaction_${api}_moved_on" "revision $rev, moved to $moved, total $total"
	expect_grep "compaction_${api}_logged" "etcdscan.compacted.*carrying on from the same key" "$T/err"
done

# etcd's own error message reaches the user (auth enabled, no credentials)
ETCDCTL_API=3 etcdctl --endpoints "$EURL" user add root:e2e-pass >/dev/null 2>&1
ETCDCTL_API=3 etcdctl --endpoints "$EURL" auth enable >/dev/null 2>&1
expect_exit auth_enabled_grpc_error 1 $V --etcd "$EURL"
expect_grep auth_grpc_message "KV/Range: grpc-status 3 \(INVALID_ARGUMENT\): etcdserver: user name is empty" "$T/err"
expect_exit auth_enabled_json_error 1 $V --etcd "$EURL" --etcd-api json
expect_grep auth_json_message "HTTP 400: etcdserver: user name is empty" "$T/err"
e2e_done
