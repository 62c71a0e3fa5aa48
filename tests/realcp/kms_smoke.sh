#!/bin/sh
# kms_smoke.sh: the real kube-apiserver on KMS v2 with the test plugin (tests/realcp/kmsplugin),
# establishing what docs/kms.md relies on. Starts the built etcd, `kmsplugin serve` and one
# kube-apiserver whose EncryptionConfiguration has kms v2 first and identity second, then:
#  - stored format: a secret is stored as k8s:enc:kms:v2:<name>: + EncryptedObject whose keyID is the
#    plugin's key_id and encryptedDEKSourceType 1 (HKDF); `kmsplugin decode` decrypts it on its own;
#  - KEK rotation: how long until the apiserver's Status poll picks up the new key_id (passively,
#    and while /readyz is polled); that an unchanged PUT before that is a no-op and after it writes
#    the object again (new resourceVersion) under the new keyID;
#  - latency and errors: which metrics and readyz texts move, that writes do not wait on the plugin;
#  - plugin down: /readyz, reads and writes over time (writes fail once the DEK seed expires);
#    an apiserver restarted while the plugin is down; recovery after the plugin comes back.
# Prints "ok NAME" / "not ok NAME: why", "# fact: ..." lines with the measurements, "# metric: ..."
# samples, and a summary; exits non-zero on any failure. Every process it starts is stopped on exit.
#
# Environment: as lib.sh (REALCP_BIN, REALCP_KEEP=1, REALCP_APISERVER_FLAGS), and REALCP_KMS_QUICK=1
# to skip the long waits (the passive 60 s poll, the 10 s unhealthy poll, the 3 minute write expiry):
# about 4.5 minutes instead of 10.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
realcp_init realcp-kms kube-apiserver etcd etcdctl kmsplugin

quick=${REALCP_KMS_QUICK:-0}
kname=smoke-kms
sock=$tmp/kms.sock
state=$tmp/kms-state.json
plog=$tmp/kmsplugin.log
kp() { "$bin/kmsplugin" "$@" --state "$state"; }
# now: wall-clock milliseconds, the clock the plugin's log uses.
now() { date +%s%3N; }
fact() { echo "# fact: $*"; }
sha() { printf 'sha256:%s' "$(printf '%s' "$1" | sha256sum | cut -d ' ' -f 1)"; }

start_etcd
make_pki

# --- the plugin
start_plugin() {
	"$bin/kmsplugin" serve --socket "$sock" --state "$state" 2>>"$plog" &
	kpid=$!
	pids="$kpid $pids"
	_i=0
	until [ -S "$sock" ] && kp status | grep -q '"code": "OK"'; do
		_i=$((_i + 1))
		[ $_i -lt 100 ] || fatal plugin_ready "kmsplugin not answering Status after 10 s" "$plog"
		sleep 0.1
	done
}
start_plugin
key1=$(kp keyid)
ok "plugin_ready (key_id $key1)"

write_encryption_config "$tmp/encryption.yaml" <<EOF
      - kms:
          apiVersion: v2
          name: $kname
          endpoint: unix://$sock
          timeout: 3s
EOF

# --- helpers over the running apiserver
cat >"$tmp/mval.py" <<'EOF'
# mval.py FILE NAME [label=value ...]: sum of the samples of NAME whose labels include every pair;
# prints "none" when no sample matches.
import re, sys
path, name, want = sys.argv[1], sys.argv[2], [a.split("=", 1) for a in sys.argv[3:]]
total, seen = 0.0, False
for line in open(path):
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line.strip())
    if not m or m.group(1) != name:
        continue
    labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
    if all(labels.get(k) == v for k, v in want):
        total += float(m.group(3))
        seen = True
print(("%g" % total) if seen else "none")
EOF
metrics() { curl_admin "$api/metrics" >"$tmp/metrics.txt" 2>/dev/null || : >"$tmp/metrics.txt"; }
# mval NAME [label=value ...] over the last metrics() scrape.
mval() { python3 "$tmp/mval.py" "$tmp/metrics.txt" "$@"; }
# kms_check: GET /readyz/kms-providers; sets kc_code, kc_body, kc_ms (its duration).
kms_check() {
	_kt=$(now)
	kc_code=$(curl_admin -o "$tmp/kc.txt" -w '%{http_code}' "$api/readyz/kms-providers" 2>/dev/null || echo 000)
	kc_ms=$(($(now) - _kt))
	kc_body=$(tr '\n' ' ' <"$tmp/kc.txt" 2>/dev/null | head -c 600)
}
readyz_verbose() { curl_admin "$api/readyz?verbose" 2>/dev/null | grep -E 'kms|check failed' | tr '\n' ' ' || true; }
# poll_kms_check CODE SECONDS: GET /readyz/kms-providers every second until it answers CODE; sets
# pk_ms (ms from the call to the answer) and leaves kc_* of the last check. False after SECONDS.
poll_kms_check() {
	_pt=$(now)
	while [ $(($(now) - _pt)) -lt $(($2 * 1000)) ]; do
		kms_check
		pk_ms=$(($(now) - _pt))
		[ "$kc_code" = "$1" ] && return 0
		sleep 1
	done
	return 1
}
secret_body() {
	printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s"},"data":{"k":"%s"}}' \
		"$1" "$(printf 'kms smoke value %s' "$1" | base64)"
}
# create NAME: POST a secret; prints the HTTP code (body in $tmp/create.json).
create() {
	curl_admin -o "$tmp/create.json" -w '%{http_code}' -H 'Content-Type: application/json' \
		-X POST -d "$(secret_body "$1")" "$api/api/v1/namespaces/default/secrets" 2>/dev/null || echo 000
}
# get NAME: GET a secret; prints the HTTP code (body in $tmp/get.json).
get() {
	curl_admin -o "$tmp/get.json" -w '%{http_code}' "$api/api/v1/namespaces/default/secrets/$1" 2>/dev/null || echo 000
}
rv_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["resourceVersion"])' "$1" 2>/dev/null || echo "?"; }
msg_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("message","")[:300])' "$1" 2>/dev/null || head -c 300 "$1"; }
# put_unchanged NAME: GET then PUT the same object; prints "RV_BEFORE RV_AFTER".
put_unchanged() {
	get "$1" >/dev/null
	curl_admin -o "$tmp/put.json" -H 'Content-Type: application/json' -X PUT --data-binary @"$tmp/get.json" \
		"$api/api/v1/namespaces/default/secrets/$1" >/dev/null 2>&1 || true
	echo "$(rv_of "$tmp/get.json") $(rv_of "$tmp/put.json")"
}
# stored NAME: decodes (and decrypts) the etcd value of secret NAME into $tmp/stored.json.
stored() {
	# -w json: the exact bytes (--print-value-only appends a newline)
	etcdctl get "/registry/secrets/default/$1" -w json 2>/dev/null | python3 -c '
import base64, json, sys
kvs = json.load(sys.stdin).get("kvs") or [{}]
sys.stdout.buffer.write(base64.b64decode(kvs[0].get("value", "")))' >"$tmp/stored.bin" 2>/dev/null || true
	kp decode --etcd-key "/registry/secrets/default/$1" <"$tmp/stored.bin" >"$tmp/stored.json" 2>"$tmp/decode.err" || true
}
jf() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2], ""); print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1" "$2" 2>/dev/null || echo "?"; }
# plugin log queries: first call of METHOD at or after T (ms) [with key_id K]: prints its t=.
first_call() {
	awk -v m="method=$1" -v t="$2" -v k="${3:-}" '$2 == "call" && $4 == m {
		split($3, a, "="); if (a[2] + 0 < t + 0) next
		if (k != "" && $6 != "key_id=" k) next
		print a[2]; exit }' "$plog"
}
# calls METHOD T1 T2: how many calls of METHOD the plugin logged in [T1, T2).
calls() {
	awk -v m="method=$1" -v t1="$2" -v t2="$3" '$2 == "call" && $4 == m {
		split($3, a, "="); if (a[2] + 0 >= t1 + 0 && a[2] + 0 < t2 + 0) n++ } END { print n + 0 }' "$plog"
}
dump_metrics() {
	grep -E '^(apiserver_envelope_encryption_|apiserver_storage_transformation_operations_total|apiserver_storage_envelope_transformation_cache_misses_total)' \
		"$tmp/metrics.txt" | grep -v '_bucket{' | sed 's/^/# metric: /' || true
}

# --- kube-apiserver on KMS v2
t_api=$(now)
start_apiserver "$tmp/encryption.yaml"
ok "apiserver_ready (${t_ready} ms after start)"
fact "at start-up the apiserver called Status $(calls status "$t_api" "$(now)") time(s), Encrypt $(calls encrypt "$t_api" "$(now)") (the first DEK seed), Decrypt $(calls decrypt "$t_api" "$(now)")"

rz=$(readyz_verbose)
case "$rz" in *'[+]kms-providers ok'*) ok readyz_kms_providers ;; *) not_ok readyz_kms_providers "$rz" ;; esac
hz=$(curl_admin "$api/healthz?verbose" 2>/dev/null | grep kms | tr '\n' ' ' || true)
lz=$(curl_admin "$api/livez?verbose" 2>/dev/null | grep -c kms || true)
if [ "$hz" = "[+]kms-providers ok " ] && [ "$lz" = 0 ]; then
	ok "health_endpoints (kms-providers in /healthz and /readyz, not in /livez)"
else
	not_ok health_endpoints "healthz '$hz', livez kms lines $lz"
fi
kms_check
if [ "$kc_code" = 200 ] && [ "$kc_body" = ok ]; then ok "readyz_kms_path (/readyz/kms-providers: ok)"; else not_ok readyz_kms_path "$kc_code $kc_body"; fi

# --- stored format
code=$(create s1)
[ "$code" = 201 ] || fatal create_s1 "HTTP $code: $(msg_of "$tmp/create.json")" "$tmp/apiserver.log"
stored s1
prefix=$(head -c $((15 + ${#kname} + 1)) "$tmp/stored.bin")
if [ "$prefix" = "k8s:enc:kms:v2:$kname:" ]; then ok "stored_prefix ($prefix)"; else not_ok stored_prefix "'$prefix'"; fi
if grep -q 'kms smoke value' "$tmp/stored.bin"; then not_ok stored_not_plain "plaintext in etcd"; else ok stored_not_plain; fi
if [ "$(jf "$tmp/stored.json" key_id)" = "$key1" ] && [ "$(jf "$tmp/stored.json" encrypted_dek_source_type)" = 1 ]; then
	ok "stored_keyid_hkdf (keyID = plugin key_id $key1, encryptedDEKSourceType = 1)"
else
	not_ok stored_keyid_hkdf "$(cat "$tmp/stored.json" "$tmp/decode.err")"
fi
pt=$(python3 -c 'import base64,json,sys
p = base64.b64decode(json.load(open(sys.argv[1]))["plaintext_b64"])
print(p[:4].hex(), b"kms smoke value s1" in p)' "$tmp/stored.json" 2>/dev/null || echo "?")
if [ "$pt" = "6b387300 True" ]; then
	ok "stored_decrypts (kmsplugin decode: HKDF-SHA256(seed, info=encryptedData[:32]), AES-256-GCM, AAD = etcd key; plaintext = k8s<NUL> + protobuf)"
else
	not_ok stored_decrypts "plaintext: $pt $(cat "$tmp/decode.err")"
fi
fact "EncryptedObject field order $(jf "$tmp/stored.json" field_order), encryptedDEKSource $(jf "$tmp/stored.json" encrypted_dek_source_len) bytes (seed $(jf "$tmp/stored.json" dek_source_plaintext_len) bytes), encryptedData $(jf "$tmp/stored.json" encrypted_data_len) bytes for a $(jf "$tmp/stored.json" plaintext_len)-byte plaintext, annotations $(jf "$tmp/stored.json" annotations), value $(wc -c <"$tmp/stored.bin") bytes"
code=$(get s1)
if [ "$code" = 200 ]; then ok read_back; else not_ok read_back "HTTP $code"; fi
metrics
fact "key_id_hash_total to_storage for key1: $(mval apiserver_envelope_encryption_key_id_hash_total transformation_type=to_storage provider_name=$kname key_id_hash="$(sha "$key1")")"
dump_metrics

# --- KEK rotation, passive: nobody calls /readyz, only the apiserver's own poll calls Status
t_rot=$(now)
key2=$(kp rotate)
fact "rotated the KEK: $key1 -> $key2"
set -- $(put_unchanged s1)
t_put=$(now)
early_status=$(first_call status "$t_rot" "$key2")
if [ -z "$early_status" ] || [ "$early_status" -gt "$t_put" ]; then
	if [ "$1" = "$2" ]; then
		ok "put_before_pickup_noop (unchanged PUT before the apiserver saw $key2 kept resourceVersion $1)"
	else
		not_ok put_before_pickup_noop "resourceVersion $1 -> $2 before any Status saw the new key_id"
	fi
else
	echo "# skipped put_before_pickup_noop: the apiserver polled Status during the PUT"
fi
if [ "$quick" = 1 ]; then
	echo "# skipped passive pickup (REALCP_KMS_QUICK=1)"
else
	seen=0
	while [ $(($(now) - t_rot)) -lt 75000 ]; do
		metrics
		if [ "$(mval apiserver_envelope_encryption_key_id_hash_status_last_timestamp_seconds provider_name=$kname key_id_hash="$(sha "$key2")")" != none ]; then
			seen=1
			break
		fi
		sleep 0.5
	done
	t_seen=$(now)
	if [ "$seen" = 1 ]; then
		t_s=$(first_call status "$t_rot" "$key2")
		t_e=$(first_call encrypt "$t_rot" "$key2")
		ok "passive_pickup (key_id_hash_status_last_timestamp_seconds for $key2 $((t_seen - t_rot)) ms after the rotation)"
		fact "passive pickup: Status returned $key2 $((t_s - t_rot)) ms after the rotation; the new DEK seed's Encrypt followed $((t_e - t_s)) ms later"
		# the healthy poll period: the next Status call, still with nobody else calling it
		t_next=""
		while [ $(($(now) - t_s)) -lt 75000 ]; do
			t_next=$(first_call status $((t_s + 1)))
			[ -n "$t_next" ] && break
			sleep 0.5
		done
		if [ -n "$t_next" ] && [ $((t_next - t_s)) -ge 55000 ] && [ $((t_next - t_s)) -le 65000 ]; then
			ok "healthy_poll_period ($((t_next - t_s)) ms between two Status calls of the apiserver's own poll)"
		else
			not_ok healthy_poll_period "next Status ${t_next:-never} after $t_s"
		fi
	else
		not_ok passive_pickup "no status metric for $key2 after 75 s"
	fi
	metrics
	grep -E '^apiserver_envelope_encryption_key_id_hash' "$tmp/metrics.txt" | sed 's/^/# metric: /' || true
fi

# make sure the apiserver uses key2 before the stale rewrite (active pickup through /readyz)
t_act=$(now)
seen=0
while [ $(($(now) - t_act)) -lt 30000 ]; do
	kms_check
	metrics
	if [ "$(mval apiserver_envelope_encryption_key_id_hash_status_last_timestamp_seconds provider_name=$kname key_id_hash="$(sha "$key2")")" != none ] &&
		[ -n "$(first_call encrypt "$t_rot" "$key2")" ]; then
		seen=1
		break
	fi
	sleep 1
done
[ "$seen" = 1 ] || fatal pickup_key2 "the apiserver did not pick up $key2 within 30 s of polling /readyz" "$tmp/apiserver.log"

# --- stale rewrite under the new key_id
set -- $(put_unchanged s1)
stored s1
if [ "$1" != "$2" ] && [ "$(jf "$tmp/stored.json" key_id)" = "$key2" ]; then
	ok "stale_rewrite (unchanged PUT after the pickup: resourceVersion $1 -> $2, stored keyID $key2)"
else
	not_ok stale_rewrite "resourceVersion $1 -> $2, stored keyID $(jf "$tmp/stored.json" key_id)"
fi
set -- $(put_unchanged s1)
if [ "$1" = "$2" ]; then ok "rewrite_then_noop (a second unchanged PUT keeps resourceVersion $1)"; else not_ok rewrite_then_noop "$1 -> $2"; fi
seed_s1=$(jf "$tmp/stored.json" encrypted_dek_source_sha256)
code=$(create s2)
stored s2
if [ "$code" = 201 ] && [ "$(jf "$tmp/stored.json" key_id)" = "$key2" ]; then ok "new_write_keyid (s2 stored under $key2)"; else not_ok new_write_keyid "HTTP $code, keyID $(jf "$tmp/stored.json" key_id)"; fi
if [ "$(jf "$tmp/stored.json" encrypted_dek_source_sha256)" = "$seed_s1" ]; then
	ok "one_seed_per_key_id (s1 rewritten and s2 created under $key2 carry the same encryptedDEKSource)"
else
	not_ok one_seed_per_key_id "encryptedDEKSource sha256 $seed_s1 vs $(jf "$tmp/stored.json" encrypted_dek_source_sha256)"
fi
metrics
if [ "$(mval apiserver_envelope_encryption_key_id_hash_total transformation_type=to_storage provider_name=$kname key_id_hash="$(sha "$key2")")" != none ]; then
	ok "metric_keyid_to_storage (key_id_hash_total{transformation_type=to_storage} carries sha256 of $key2)"
else
	not_ok metric_keyid_to_storage "no to_storage sample for $key2"
fi

# --- KEK rotation, active: /readyz/kms-providers polled every second
t_rot=$(now)
key3=$(kp rotate)
seen=0
while [ $(($(now) - t_rot)) -lt 40000 ]; do
	kms_check
	if [ -n "$(first_call encrypt "$t_rot" "$key3")" ]; then
		seen=1
		break
	fi
	sleep 1
done
if [ "$seen" = 1 ] && [ $(($(first_call status "$t_rot" "$key3") - t_rot)) -le 25000 ]; then
	ok "active_pickup (Status returned $key3 $(($(first_call status "$t_rot" "$key3") - t_rot)) ms after the rotation, /readyz/kms-providers polled every 1 s)"
else
	not_ok active_pickup "no Status/Encrypt with $key3 within 25 s"
fi

# --- latency: Status only; writes do not call the plugin
kp latency 1s
t0=$(now)
slow=""
while [ $(($(now) - t0)) -lt 30000 ]; do
	kms_check
	if [ "$kc_ms" -ge 1000 ]; then
		slow=$kc_ms
		break
	fi
	sleep 1
done
if [ -n "$slow" ] && [ "$kc_code" = 200 ]; then ok "latency_readyz (/readyz/kms-providers took $slow ms with 1 s plugin latency, still ok)"; else not_ok latency_readyz "no slow kms check within 30 s ($kc_code $kc_ms ms)"; fi
t0=$(now)
code=$(create s3)
dt=$(($(now) - t0))
if [ "$code" = 201 ] && [ "$dt" -lt 900 ]; then ok "latency_write_fast (create took $dt ms with 1 s plugin latency)"; else not_ok latency_write_fast "HTTP $code in $dt ms"; fi
metrics
le_low=$(mval apiserver_envelope_encryption_kms_operations_latency_seconds_bucket provider_name=$kname method_name=/v2.KeyManagementService/Status grpc_status_code=OK le=0.8192)
le_high=$(mval apiserver_envelope_encryption_kms_operations_latency_seconds_bucket provider_name=$kname method_name=/v2.KeyManagementService/Status grpc_status_code=OK le=1.6384)
if [ "$le_low" != none ] && [ "$le_high" != none ] && python3 -c "import sys; sys.exit(0 if $le_high > $le_low else 1)"; then
	ok "latency_metric (kms_operations_latency_seconds{method_name=/v2.KeyManagementService/Status,grpc_status_code=OK}: $le_low calls <= 0.8192 s, $le_high <= 1.6384 s)"
else
	not_ok latency_metric "buckets 0.8192=$le_low 1.6384=$le_high"
fi
grep '^apiserver_envelope_encryption_kms_operations_latency_seconds_count' "$tmp/metrics.txt" | sed 's/^/# metric: /' || true
kp latency 4s
if poll_kms_check 500 40; then
	ok "latency_over_timeout (/readyz/kms-providers 500 after $pk_ms ms with 4 s latency > 3 s timeout; that call took $kc_ms ms)"
	fact "kms-providers text: $kc_body"
else
	not_ok latency_over_timeout "still $kc_code after 40 s"
fi
metrics
fact "Status DeadlineExceeded count: $(mval apiserver_envelope_encryption_kms_operations_latency_seconds_count provider_name=$kname method_name=/v2.KeyManagementService/Status grpc_status_code=DeadlineExceeded)"
kp latency off
if poll_kms_check 200 30; then ok "latency_recovered (kms-providers ok $pk_ms ms after latency off)"; else not_ok latency_recovered "$kc_code $kc_body"; fi

# --- errors from Status: a gRPC code, a bad healthz, bad key_ids
for c in unavailable internal; do
	kp fail 1 "$c" --methods status
	if poll_kms_check 500 30; then
		ok "status_error_$c (kms-providers 500 after $pk_ms ms)"
		fact "kms-providers text ($c): $kc_body"
	else
		not_ok "status_error_$c" "still $kc_code"
	fi
	kp fail off
	poll_kms_check 200 30 || not_ok "status_error_${c}_recovered" "$kc_code $kc_body"
done
metrics
for c in Unavailable Internal; do
	n=$(mval apiserver_envelope_encryption_kms_operations_latency_seconds_count provider_name=$kname method_name=/v2.KeyManagementService/Status grpc_status_code=$c)
	if [ "$n" != none ]; then ok "metric_grpc_code_$c (kms_operations_latency_seconds_count{grpc_status_code=$c} = $n)"; else not_ok "metric_grpc_code_$c" "no sample"; fi
done
kp healthz "kek sealed"
if poll_kms_check 500 30; then
	case "$kc_body" in *'got unexpected healthz status: kek sealed'*) ok "status_healthz_text" ;; *) not_ok status_healthz_text "$kc_body" ;; esac
	fact "kms-providers text (healthz): $kc_body"
else
	not_ok status_healthz_text "still $kc_code"
fi
kp healthz ok
poll_kms_check 200 30 || true
for mode in empty long; do
	kp bad-keyid "$mode"
	if poll_kms_check 500 30; then
		fact "kms-providers text (key_id $mode): $(printf '%s' "$kc_body" | head -c 400)"
	fi
	kp bad-keyid off
	poll_kms_check 200 30 || true
done
metrics
e=$(mval apiserver_envelope_encryption_invalid_key_id_from_status_total provider_name=$kname error=empty)
l=$(mval apiserver_envelope_encryption_invalid_key_id_from_status_total provider_name=$kname error=too_long)
if [ "$e" != none ] && [ "$l" != none ]; then
	ok "metric_invalid_key_id (invalid_key_id_from_status_total{error=empty} = $e, {error=too_long} = $l)"
else
	not_ok metric_invalid_key_id "empty=$e too_long=$l"
fi

# --- the unhealthy poll period: Status failing, nobody calling /readyz
if [ "$quick" = 1 ]; then
	echo "# skipped unhealthy poll period (REALCP_KMS_QUICK=1)"
else
	t0=$(now)
	kp fail 1 unavailable --methods status
	t1=""
	t2=""
	while [ $(($(now) - t0)) -lt 100000 ]; do
		t1=$(first_call status "$t0")
		[ -n "$t1" ] && t2=$(first_call status $((t1 + 1)))
		[ -n "$t2" ] && break
		sleep 0.5
	done
	kp fail off
	if [ -n "$t2" ] && [ $((t2 - t1)) -ge 9000 ] && [ $((t2 - t1)) -le 11000 ]; then
		ok "unhealthy_poll_period ($((t2 - t1)) ms between the first two failing Status calls of the apiserver's poll)"
	else
		not_ok unhealthy_poll_period "Status calls at ${t1:-none}, ${t2:-none}"
	fi
	poll_kms_check 200 30 || true
fi

# --- plugin down
last_ok=$(awk '$2 == "call" && $4 == "method=status" && $5 == "code=OK" { split($3, a, "="); t = a[2] } END { print t }' "$plog")
t_stop=$(now)
kp stop
if poll_kms_check 500 40; then
	ok "down_readyz (kms-providers 500 $pk_ms ms after the socket went away; that check took $kc_ms ms)"
	fact "kms-providers text (plugin down): $kc_body"
	fact "/readyz?verbose (plugin down): $(readyz_verbose)"
else
	not_ok down_readyz "still $kc_code after 40 s"
fi
code=$(get s1)
if [ "$code" = 200 ]; then ok "down_read_cached (GET s1 200: its DEK is cached)"; else not_ok down_read_cached "HTTP $code"; fi
code=$(create s4)
if [ "$code" = 201 ]; then ok "down_write_within_ttl (create 201 $(($(now) - last_ok)) ms after the last good Status)"; else not_ok down_write_within_ttl "HTTP $code: $(msg_of "$tmp/create.json")"; fi
if [ "$quick" = 1 ]; then
	echo "# skipped write expiry (REALCP_KMS_QUICK=1)"
else
	n=5
	wfail=""
	while [ $(($(now) - last_ok)) -lt 240000 ]; do
		code=$(create "s$n")
		if [ "$code" != 201 ]; then
			wfail=$(($(now) - last_ok))
			break
		fi
		n=$((n + 1))
		sleep 2
	done
	if [ -n "$wfail" ] && [ "$wfail" -ge 170000 ] && [ "$wfail" -le 200000 ]; then
		ok "down_write_expiry (create refused with HTTP $code $wfail ms after the last good Status)"
		fact "write refused: $(msg_of "$tmp/create.json")"
	else
		not_ok down_write_expiry "writes still ${code} after ${wfail:-240000} ms"
	fi
	code=$(get s1)
	if [ "$code" = 200 ]; then ok "down_read_after_expiry (GET s1 still 200)"; else not_ok down_read_after_expiry "HTTP $code"; fi
fi
metrics
grep -E '^apiserver_envelope_encryption_kms_operations_latency_seconds_count|^apiserver_storage_transformation_operations_total' "$tmp/metrics.txt" | sed 's/^/# metric: /' || true

# --- the plugin comes back: how long until this apiserver (its gRPC client backing off) uses it
enc_before=$(calls encrypt 0 "$(now)")
t_outage=$(($(now) - t_stop))
kp start
if poll_kms_check 200 180; then
	ok "recovered_after_outage (kms-providers ok $pk_ms ms after the socket came back from a $((t_outage / 1000)) s outage)"
else
	not_ok recovered_after_outage "still $kc_code after 180 s: $kc_body"
fi
code=$(create s-back)
if [ "$code" = 201 ] && [ "$(calls encrypt 0 "$(now)")" = "$enc_before" ]; then
	ok "write_after_outage (create 201; same key_id, so the DEK seed is kept: no Encrypt call)"
else
	not_ok write_after_outage "HTTP $code, Encrypt calls $enc_before -> $(calls encrypt 0 "$(now)")"
fi
kp stop

# --- restart the apiserver while the plugin is down: nothing cached, reads fail closed
stop_pid "$apid"
REALCP_NO_WAIT=1 start_apiserver "$tmp/encryption.yaml" "$tmp/apiserver2.log"
# wait until the post-start hooks are done and kms-providers fails (or 90 s), then record the list
t0=$(now)
while :; do
	kill -0 "$apid" 2>/dev/null || fatal restart_down "kube-apiserver exited" "$tmp/apiserver2.log"
	rz=$(curl_admin "$api/readyz?verbose" 2>/dev/null | grep '^\[-\]' | tr '\n' ' ' || true)
	case "$rz" in *poststarthook*) ;; *'[-]kms-providers'*) break ;; esac
	[ $(($(now) - t0)) -lt 90000 ] || break
	sleep 0.5
done
case "$rz" in
*'[-]kms-providers failed'*) ok "restart_down_readyz (failing checks $(($(now) - t0)) ms after the start: $rz)" ;;
*) not_ok restart_down_readyz "failing checks: '$rz'" ;;
esac
code=$(get s1)
if [ "$code" != 200 ]; then
	ok "restart_down_read_fails (GET s1 HTTP $code)"
	fact "read refused: $(msg_of "$tmp/get.json")"
else
	not_ok restart_down_read_fails "GET s1 200 with the plugin down and nothing cached"
fi
code=$(create s-restart)
if [ "$code" != 201 ]; then ok "restart_down_write_fails (create HTTP $code)"; fact "write refused: $(msg_of "$tmp/create.json")"; else not_ok restart_down_write_fails "create 201"; fi
metrics
grep -E '^apiserver_storage_transformation_operations_total|^apiserver_envelope_encryption_kms_operations_latency_seconds_count' "$tmp/metrics.txt" | sed 's/^/# metric (restarted, plugin down): /' || true

# --- the plugin comes back with Decrypt failing, then healthy
kp fail 1 internal --methods decrypt
t_start=$(now)
kp start
if poll_kms_check 200 180; then
	ok "start_recovered (restarted apiserver: kms-providers ok $pk_ms ms after the socket came back)"
	fact "Status calls reaching the plugin after start: first at +$(($(first_call status "$t_start") - t_start)) ms"
else
	not_ok start_recovered "still $kc_code after 180 s: $kc_body"
fi
code=$(get s1)
if [ "$code" = 500 ]; then ok "decrypt_error_read (GET s1 HTTP 500 while Decrypt fails with Internal)"; fact "read error: $(msg_of "$tmp/get.json")"; else not_ok decrypt_error_read "HTTP $code"; fi
metrics
d=$(mval apiserver_envelope_encryption_kms_operations_latency_seconds_count provider_name=$kname method_name=/v2.KeyManagementService/Decrypt grpc_status_code=Internal)
t=$(mval apiserver_storage_transformation_operations_total resource=secrets transformation_type=from_storage status=Internal)
if [ "$d" != none ] && [ "$t" != none ]; then
	ok "metric_decrypt_internal (kms_operations_latency_seconds_count{Decrypt,Internal} = $d, transformation_operations_total{from_storage,status=Internal} = $t)"
else
	not_ok metric_decrypt_internal "Decrypt/Internal=$d transformation status=Internal=$t"
fi
kp fail off
# reads after recovery: a Decrypt per DEK seed on the first read (by us or by the watch cache's
# reflector, possibly both at once), then the seed is cached: reading again calls no Decrypt
dec_ok() {
	awk -v t="$t_start" -v k="key_id=$1" '$2 == "call" && $4 == "method=decrypt" && $5 == "code=OK" && $6 == k {
		split($3, a, "="); if (a[2] >= t) n++ } END { print n + 0 }' "$plog"
}
reads() {
	_bad=""
	for _n in s1 s2 s3; do
		_c=$(get "$_n")
		[ "$_c" = 200 ] || _bad="$_bad $_n:$_c"
	done
	echo "${_bad:-all 200}"
}
r1=$(reads)
d2=$(dec_ok "$key2")
d3=$(dec_ok "$key3")
r2=$(reads)
r3=$(reads)
if [ "$r1 $r2 $r3" = "all 200 all 200 all 200" ] && [ "$d2" -ge 1 ] && [ "$d3" -ge 1 ] &&
	[ "$(dec_ok "$key2") $(dec_ok "$key3")" = "$d2 $d3" ]; then
	ok "dek_seed_cache (first reads of s1, s2 (one seed under $key2), s3 (one under $key3): $d2 and $d3 successful Decrypt calls; two more rounds of reads: none)"
else
	not_ok dek_seed_cache "reads: $r1 / $r2 / $r3; Decrypt OK calls $d2 -> $(dec_ok "$key2") for $key2, $d3 -> $(dec_ok "$key3") for $key3"
fi
code=$(create s-final)
stored s-final
if [ "$code" = 201 ] && [ "$(jf "$tmp/stored.json" key_id)" = "$key3" ]; then ok "write_after_recovery (stored under $key3)"; else not_ok write_after_recovery "HTTP $code keyID $(jf "$tmp/stored.json" key_id)"; fi
seed_final=$(jf "$tmp/stored.json" encrypted_dek_source_sha256)
stored s3
if [ "$(jf "$tmp/stored.json" key_id)" = "$key3" ] && [ "$(jf "$tmp/stored.json" encrypted_dek_source_sha256)" != "$seed_final" ]; then
	ok "new_seed_after_restart (s3 from the first apiserver and s-final from the restarted one: same keyID $key3, different encryptedDEKSource)"
else
	not_ok new_seed_after_restart "s3 keyID $(jf "$tmp/stored.json" key_id), encryptedDEKSource sha256 $(jf "$tmp/stored.json" encrypted_dek_source_sha256) vs $seed_final"
fi
metrics
dump_metrics
curl_admin "$api/metrics/slis" 2>/dev/null | grep 'kms-providers' | sed 's/^/# metric (slis): /' || true
fact "plugin calls overall: Status $(calls status 0 "$(now)"), Encrypt $(calls encrypt 0 "$(now)"), Decrypt $(calls decrypt 0 "$(now)")"
finish
