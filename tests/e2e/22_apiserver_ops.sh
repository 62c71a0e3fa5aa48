#!/bin/sh
# 21_apiserver_ops.sh: the operational surface of the sandbox apiserver: authentication (client cert,
# bearer token, 401), health and metrics, the identity lease, automatic config reload, runtime faults
# (latency, 5xx, 429 with Retry-After, in-flight limit, failStart), bad start-up input, and real kubectl
# (get -A -o json, apply -f, replace --validate=false -f -).
set -u
. tests/e2e/lib.sh
. tests/e2e/apiserver_lib.sh
D=$E2E_TMP/sbx
T=$E2E_TMP
mkdir -p "$D"
sbx_start_etcd "$D" || { not_ok setup "etcd did not start"; e2e_done; }
sbx_make_pki "$D" || { not_ok setup "openssl PKI failed"; e2e_done; }
K1=$(sbx_key) K2=$(sbx_key)
CFG=$D/enc.yaml
sbx_write_config "$CFG" aescbc k1 "$K1"
sbx_start_apiserver "$D" cp-1 "$CFG" --encryption-provider-config-automatic-reload --reload-period 1 ||
	{ not_ok setup "apiserver did not start: $(tail -3 "$D/cp-1.log")"; e2e_done; }
API=$API_URL/api/v1
JSON='Content-Type: application/json'

# --- authentication ---
code=$(curl -sS -o "$T/anon" -w '%{http_code}' --cacert "$D/pki/ca.crt" "$API/secrets")
[ "$code" = 401 ] && ok anonymous_401 || not_ok anonymous_401 "HTTP $code"
expect_grep unauthorized_status '"kind":"Status".*"reason":"Unauthorized".*"code":401' "$T/anon"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$D/pki/ca.crt" -H "Authorization: Bearer $SBX_TOKEN" "$API/secrets")
[ "$code" = 200 ] && ok bearer_token_200 || not_ok bearer_token_200 "HTTP $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$D/pki/ca.crt" -H "Authorization: Bearer wrong-$SBX_TOKEN" "$API/secrets")
[ "$code" = 401 ] && ok wrong_token_401 || not_ok wrong_token_401 "HTTP $code"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/rogue.key" -out "$T/rogue.crt" \
	-days 1 -subj /CN=admin 2>/dev/null
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$D/pki/ca.crt" --cert "$T/rogue.crt" --key "$T/rogue.key" "$API/secrets" 2>/dev/null)
[ "$code" = 401 ] || [ "$code" = 000 ] && ok foreign_client_cert_rejected || not_ok foreign_client_cert_rejected "HTTP $code"

# --- health, version, discovery ---
kc "$D" "$API_URL/readyz?verbose" >"$T/readyz"
expect_grep readyz_verbose_etcd '^\[\+\]etcd ok' "$T/readyz"
expect_grep readyz_verbose_kms '^\[\+\]kms-providers ok' "$T/readyz"
expect_grep readyz_passed '^readyz check passed' "$T/readyz"
[ "$(kc "$D" "$API_URL/readyz/kms-providers")" = ok ] && ok readyz_single_check || not_ok readyz_single_check "not ok"
code=$(http_code "$T/x" "$API_URL/readyz/no-such-check")
[ "$code" = 404 ] && ok readyz_unknown_check_404 || not_ok readyz_unknown_check_404 "HTTP $code"
[ "$(kc "$D" "$API_URL/livez")" = ok ] && [ "$(kc "$D" "$API_URL/healthz")" = ok ] && ok livez_healthz || not_ok livez_healthz "not ok"
kc "$D" "$API_URL/api/v1" >"$T/disc"
expect_grep discovery_secrets '"name":"secrets","singularName":"secret","namespaced":true,"kind":"Secret","verbs":\[' "$T/disc"
kc "$D" "$API_URL/apis" >"$T/apis"
expect_grep discovery_coordination '"coordination.k8s.io/v1"' "$T/apis"

# --- identity lease named as kube-apiserver names it ---
ID=$(python3 -c 'import base64,hashlib; h=b"cp-1"; d=len(h).to_bytes(2,"big")+h+(14).to_bytes(2,"big")+b"kube-apiserver"; print("apiserver-"+base64.b32encode(hashlib.sha256(d).digest()[:16]).decode().rstrip("=").lower())')
code=$(http_code "$T/lease" "$API_URL/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/$ID")
[ "$code" = 200 ] && ok identity_lease || not_ok identity_lease "HTTP $code for $ID"
expect_grep identity_lease_label '"apiserver.kubernetes.io/identity":"kube-apiserver"' "$T/lease"
R1=$(json_field "$T/lease" 'd["spec"]["renewTime"]')
renewed() { kc "$D" "$API_URL/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/$ID" | grep -q '"renewTime"' &&
	[ "$(kc "$D" "$API_URL/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/$ID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"]["renewTime"])')" != "$R1" ]; }
sbx_wait_for "lease renewal" 15 renewed && ok identity_lease_renewed || not_ok identity_lease_renewed "renewTime stayed $R1"

# --- pods (mirror pods are written straight to etcd by the kubelet emulation) are served and written
# back like any object: a "*.*" rewrite PUTs them unchanged (issue 16) ---
printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"kube-apiserver-cp-1","namespace":"kube-system","uid":"0f0e0d0c-0000-4000-8000-000000000002","annotations":{"kubernetes.io/config.mirror":"x"}},"spec":{"nodeName":"cp-1"}}' >"$T/pod.json"
etcd_put_file /registry/pods/kube-system/kube-apiserver-cp-1 "$T/pod.json"
code=$(http_code "$T/pod" "$API/namespaces/kube-system/pods/kube-apiserver-cp-1")
[ "$code" = 200 ] && grep -q '"resourceVersion":"[0-9]' "$T/pod" && ok mirror_pod_get || not_ok mirror_pod_get "HTTP $code"
kc "$D" "$API/namespaces/kube-system/pods" >"$T/pods"
[ "$(json_field "$T/pods" 'd["kind"]+":"+d["items"][0]["metadata"]["name"]')" = "PodList:kube-apiserver-cp-1" ] && ok mirror_pod_list || not_ok mirror_pod_list "$(head -c 200 "$T/pods")"
rv=$(json_field "$T/pod" 'd["metadata"]["resourceVersion"]')
code=$(http_code "$T/x" -X PUT -H 'Content-Type: application/json' --data-binary @"$T/pod" \
	"$API/namespaces/kube-system/pods/kube-apiserver-cp-1")
[ "$code" = 200 ] && [ "$(json_field "$T/x" 'd["metadata"]["name"]')" = kube-apiserver-cp-1 ] &&
	ok pods_unchanged_put || not_ok pods_unchanged_put "HTTP $code (resourceVersion was $rv)"

# --- TCP_NODELAY: 100 keep-alive requests on one connection (Nagle + delayed ACK would cap ~23/s) ---
URLS=$(i=0; while [ $i -lt 100 ]; do printf '%s ' "$API_URL/version"; i=$((i + 1)); done)
t0=$(date +%s%N)
# shellcheck disable=SC2086
kc "$D" $URLS >/dev/null
t=$((($(date +%s%N) - t0) / 1000000))
[ "$t" -lt 2500 ] && ok keepalive_not_nagle_bound || not_ok keepalive_not_nagle_bound "100 requests took ${t}ms"

# --- metrics ---
kc "$D" "$API/namespaces/default/secrets" >/dev/null
kc "$D" "$API_URL/metrics" >"$T/metrics"
IDH="sha256:$(printf '%s' "$ID" | sha256sum | cut -d' ' -f1)"
H1="sha256:$(sha256sum "$CFG" | cut -d' ' -f1)"
expect_grep metrics_last_config_info "^apiserver_encryption_config_controller_last_config_info\{apiserver_id_hash=\"$IDH\",hash=\"$H1\"\} 1" "$T/metrics"
expect_grep metrics_duration_buckets '^apiserver_request_duration_seconds_bucket\{.*resource="secrets".*verb="LIST".*le="0.005"\}' "$T/metrics"
expect_grep metrics_request_total '^apiserver_request_total\{code="200",.*resource="secrets".*verb="LIST"' "$T/metrics"
expect_grep metrics_inflight '^apiserver_current_inflight_requests\{request_kind="mutating"\} 0' "$T/metrics"

# --- automatic reload: a new valid config is swapped in, a broken one counted as failure ---
sbx_write_config "$CFG" aescbc k2 "$K2" k1 "$K1"
H2="sha256:$(sha256sum "$CFG" | cut -d' ' -f1)"
reloaded() { kc "$D" "$API_URL/metrics" | grep -q "last_config_info{apiserver_id_hash=\"$IDH\",hash=\"$H2\"} 1"; }
sbx_wait_for "reload" 15 reloaded && ok automatic_reload_swaps || not_ok automatic_reload_swaps "hash $H2 never reported"
kc "$D" "$API_URL/metrics" | grep -q "automatic_reloads_total{apiserver_id_hash=\"$IDH\",status=\"success\"} 1" &&
	ok reload_success_counted || not_ok reload_success_counted "no success count"
kc "$D" -X POST -H "$JSON" -d '{"metadata":{"name":"after-reload"},"data":{"k":"eA=="}}' "$API/namespaces/default/secrets" >/dev/null
etcd_value /registry/secrets/default/after-reload "$T/v" && expect_grep reload_writes_new_key '^k8s:enc:aescbc:v1:k2:' "$T/v"
printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys:\n            - name: k3\n              secret: bm90LWEta2V5\n' >"$CFG"
failed() { kc "$D" "$API_URL/metrics" | grep -q "automatic_reloads_total{apiserver_id_hash=\"$IDH\",status=\"failure\"}"; }
sbx_wait_for "reload failure" 15 failed && ok reload_failure_counted || not_ok reload_failure_counted "no failure count"
kc "$D" "$API_URL/metrics" | grep -q "hash=\"$H2\"} 1" && ok bad_config_keeps_old || not_ok bad_config_keeps_old "hash changed"
sbx_write_config "$CFG" aescbc k2 "$K2" k1 "$K1"

# --- faults: 5xx with Retry-After, latency, 429 throttle, in-flight limit; all clear again ---
F=$D/nodes/cp-1/faults.json
fault() { printf '%s' "$1" >"$F.tmp" && mv "$F.tmp" "$F"; }
status_is() { [ "$(kc "$D" -o /dev/null -w '%{http_code}' "$API/secrets")" = "$1" ]; }
fault '{"errorRatio": 1.0, "errorCode": 503, "retryAfterSeconds": 2}'
sbx_wait_for "503 fault" 5 status_is 503 && ok fault_503 || not_ok fault_503 "no 503"
kc "$D" -D "$T/hdr" -o "$T/body" "$API/secrets"
grep -qi '^Retry-After: 2' "$T/hdr" && grep -q '"retryAfterSeconds":2' "$T/body" && ok fault_503_retry_after || not_ok fault_503_retry_after "$(cat "$T/hdr" "$T/body")"
[ "$(kc "$D" "$API_URL/readyz")" = ok ] && ok faults_spare_health || not_ok faults_spare_health "readyz failed"
fault '{"throttleRatio": 1.0, "retryAfterSeconds": 3}'
sbx_wait_for "429 fault" 5 status_is 429 && ok fault_429 || not_ok fault_429 "no 429"
kc "$D" -D "$T/hdr" -o "$T/body" "$API/secrets"
grep -qi '^Retry-After: 3' "$T/hdr" && grep -q '"reason":"TooManyRequests"' "$T/body" && ok fault_429_retry_after || not_ok fault_429_retry_after "$(cat "$T/hdr")"
fault '{"latencyMs": 400}'
sbx_wait_for "latency fault" 5 status_is 200
t=$(kc "$D" -o /dev/null -w '%{time_total}' "$API/secrets")
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.4 else 1)' "$t" && ok fault_latency || not_ok fault_latency "took ${t}s"
fault '{"jitterMs": 400}'
jitter_seen() {
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.05 else 1)' "$(kc "$D" -o /dev/null -w '%{time_total}' "$API/secrets")"
}
sbx_wait_for "jitter" 10 jitter_seen && ok fault_jitter || not_ok fault_jitter "no request slowed by up to 400 ms jitter"
fault '{"maxInflight": 1, "latencyMs": 700, "retryAfterSeconds": 1}'
slow_seen() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.6 else 1)' "$(kc "$D" -o /dev/null -w '%{time_total}' "$API/secrets")"; }
sbx_wait_for "in-flight fault" 10 slow_seen
pids=""
for n in 1 2 3; do
	kc "$D" -o /dev/null -w '%{http_code}\n' "$API/secrets" >"$T/par$n" &
	pids="$pids $!"
done
for pid in $pids; do wait "$pid"; done
cat "$T/par1" "$T/par2" "$T/par3" >"$T/par"
grep -q 429 "$T/par" && grep -q 200 "$T/par" && ok fault_max_inflight_429 || not_ok fault_max_inflight_429 "codes $(tr '\n' ' ' <"$T/par")"
rm -f "$F"
sbx_wait_for "faults cleared" 5 status_is 200 && ok faults_clear || not_ok faults_clear "still failing"
t=$(kc "$D" -o /dev/null -w '%{time_total}' "$API/secrets")
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 0.4 else 1)' "$t" && ok latency_cleared || not_ok latency_cleared "took ${t}s"

# --- kubectl: get -A -o json, apply -f, replace -f - (--validate=false: the sandbox serves no OpenAPI) ---
if command -v kubectl >/dev/null 2>&1; then
	K="kubectl --server $API_URL --certificate-authority $D/pki/ca.crt --client-certificate $D/pki/admin.crt --client-key $D/pki/admin.key"
	printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied\n  namespace: default\nstringData:\n  user: alice\n' >"$T/apply.yaml"
	$K apply --validate=false -f "$T/apply.yaml" >"$T/out" 2>&1 && grep -q 'secret/applied created' "$T/out" && ok kubectl_apply_create || not_ok kubectl_apply_create "$(cat "$T/out")"
	sed 's/alice/bob/' "$T/apply.yaml" >"$T/apply2.yaml"
	$K apply --validate=false -f "$T/apply2.yaml" >"$T/out" 2>&1 && grep -q 'secret/applied configured' "$T/out" && ok kubectl_apply_patch || not_ok kubectl_apply_patch "$(cat "$T/out")"
	kc "$D" "$API/namespaces/default/secrets/applied" >"$T/applied"
	[ "$(json_field "$T/applied" 'd["data"]["user"]')" = "$(printf bob | base64)" ] && ok kubectl_apply_result || not_ok kubectl_apply_result "$(head -c 300 "$T/applied")"
	$K get secrets -A -o json >"$T/all.json" 2>"$T/err" && ok kubectl_get_all || not_ok kubectl_get_all "$(cat "$T/err")"
	N=$(json_field "$T/all.json" 'len(d["items"])')
	# kubectl replace rewrites the last-applied annotation of applied objects (a real change); every other
	# object comes back unchanged and must keep its resourceVersion (the no-op rule).
	plain_rvs='" ".join(i["metadata"]["resourceVersion"] for i in d["items"] if "kubectl.kubernetes.io/last-applied-configuration" not in i["metadata"].get("annotations", {}))'
	RVS=$(json_field "$T/all.json" "$plain_rvs")
	$K replace --validate=false -f - <"$T/all.json" >"$T/out" 2>&1 && [ "$(grep -c replaced "$T/out")" = "$N" ] &&
		ok kubectl_replace || not_ok kubectl_replace "$(head -c 300 "$T/out")"
	$K get secrets -A -o json >"$T/all2.json"
	[ -n "$RVS" ] && [ "$(json_field "$T/all2.json" "$plain_rvs")" = "$RVS" ] &&
		ok kubectl_replace_unchanged_noop || not_ok kubectl_replace_unchanged_noop "resourceVersions changed"
else
	skip kubectl "no kubectl on this machine"
fi
sbx_stop_apiserver "$API_PID" && ok clean_shutdown || not_ok clean_shutdown "exit $?"

# --- start-up failures: failStart, a config that does not validate, bad flags ---
fault '{"failStart": true}'
expect_exit fail_start_exits_1 1 "$SANDBOX" apiserver --dir "$D" --node cp-1 --port 0 --etcd "$ETCD_URL" --encryption-provider-config "$CFG"
rm -f "$F"
printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys:\n            - name: k3\n              secret: bm90LWEta2V5\n' >"$T/bad.yaml"
expect_exit bad_config_exits_1 1 "$SANDBOX" apiserver --dir "$D" --node cp-2 --port 0 --etcd "$ETCD_URL" --encryption-provider-config "$T/bad.yaml"
expect_grep bad_config_message 'bad.yaml' "$E2E_TMP/err"
[ ! -e "$D/nodes/cp-2/apiserver.pid" ] && ok bad_config_not_listening || not_ok bad_config_not_listening "pid file written"
expect_exit bad_flag_exits_2 2 "$SANDBOX" apiserver --dir "$D" --node cp-1 --bogus
expect_exit missing_flags_exit_2 2 "$SANDBOX" apiserver --dir "$D"
e2e_done
