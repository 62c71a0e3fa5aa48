#!/bin/sh
# 69_doctor.sh: `rekeyctl doctor` on 3 real kube-apiservers on KMS v2, each node with its own instance
# of the test plugin (tests/realcp/kmsplugin) behind one shared EncryptionConfiguration (endpoint
# unix:///proc/self/cwd/kms.sock: the kubelet emulation starts each real apiserver in its node's root).
# A healthy cluster gives exit 0 with no critical finding; then one fault at a time, each named by
# doctor: plugin slow (and slower than its timeout), plugin errors (also as the apiserver's kms check
# and its KMS error metrics), plugin down (socket gone, or stale), config hash mismatch between
# apiservers, one apiserver down, apiservers disagreeing on key_id; TLS and authentication failures as
# their own findings; bad input exits 2.
# DOCTOR_E2E_KEEP=DIR keeps each doctor output there as NAME.out.
# control-planes: real
# e2e: alone (its latency budgets and timeouts are the subject: tests/run.sh runs it by itself)
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

KP=$REALCP_BIN/kmsplugin
[ -x "$KP" ] || { not_ok kmsplugin_built "$KP missing (make realcp)"; e2e_done; }

# wait_until SECONDS CMD...: runs CMD every 0.5 s until it succeeds; false after SECONDS.
wait_until() {
	_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.5
	done
}
url_of() { echo "https://127.0.0.1:$(cat "$D/nodes/$1/apiserver.port")"; }
kc() { curl -sS --max-time 10 --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" "$@"; }
state_of() { echo "$D/kms-$1.json"; }
kp() { _n=$1; shift; "$KP" "$@" --state "$(state_of "$_n")"; }
sha() { printf 'sha256:%s' "$(printf '%s' "$1" | sha256sum | cut -d ' ' -f 1)"; }
file_hash() { printf 'sha256:%s' "$(sha256sum "$(node_config "$1")" | cut -d ' ' -f 1)"; }
runs_hash() { kc "$(url_of "$1")/metrics" 2>/dev/null | grep -q "^apiserver_encryption_config_controller_last_config_info{.*hash=\"$2\"} 1"; }
uses_key_id() { kc "$(url_of "$1")/readyz/kms-providers" >/dev/null 2>&1; kc "$(url_of "$1")/metrics" 2>/dev/null | grep -q "^apiserver_envelope_encryption_key_id_hash_status_last_timestamp_seconds{.*key_id_hash=\"$2\""; }
kms_check_fails() { [ "$(kc -o /dev/null -w '%{http_code}' "$(url_of "$1")/readyz/kms-providers" 2>/dev/null)" = 500 ]; }
kms_check_ok() { [ "$(kc -o /dev/null -w '%{http_code}' "$(url_of "$1")/readyz/kms-providers" 2>/dev/null)" = 200 ]; }
refuses() { ! curl -sk --max-time 2 -o /dev/null "$(url_of "$1")/readyz"; }

# doctor NAME CODE: rekeyctl doctor on the plan with each node's plugin socket; output in $E2E_TMP/out.
doctor() {
	_name=$1 _code=$2
	shift 2
	_t0=$(date +%s%3N)
	expect_exit "$_name" "$_code" "$REKEYCTL" doctor -f "$PLAN" --kms-socket "cp-1=$D/nodes/cp-1/kms.sock" \
		--kms-socket "cp-2=$D/nodes/cp-2/kms.sock" --kms-socket "cp-3=$D/nodes/cp-3/kms.sock" "$@"
	echo "# doctor $_name: $(($(date +%s%3N) - _t0)) ms"
	[ -z "${DOCTOR_E2E_KEEP:-}" ] || cp "$E2E_TMP/out" "$DOCTOR_E2E_KEEP/$_name.out"
}
# criticals NAME N: the last doctor output counts N critical findings (the fault under test, nothing else).
criticals() {
	expect_grep "$1" "^doctor: plan .*: $2 critical," "$E2E_TMP/out"
}
# criticals_about NAME SUBJECTS: the last doctor output has criticals, every one about SUBJECTS (an ERE
# on "SUBJECT CHECK"). The fault of a plugin may reach its apiserver's own cached kms check (20 s) before
# doctor runs, and then that check is a second critical about the same node; nothing else may be.
criticals_about() {
	if grep -q '^CRITICAL' "$E2E_TMP/out" && ! grep '^CRITICAL' "$E2E_TMP/out" | grep -Evq "^CRITICAL +($2) "; then
		ok "$1"
	else
		not_ok "$1" "$(grep '^CRITICAL' "$E2E_TMP/out" | head -n 4)"
	fi
}
# finding NAME SEVERITY SUBJECT CHECK PATTERN: the last doctor output has that finding.
finding() {
	expect_grep "$1" "^$2 +$3 +$4 +.*$5" "$E2E_TMP/out"
}

sbx_up doc --apiservers 3 --secrets 20 --namespaces 2 --reload automatic --reload-period 1 ||
	{ not_ok sandbox_up "see log"; e2e_done; }
ok sandbox_up

# ---- one plugin per node: cp-1 makes the KEK, cp-2 and cp-3 get copies of its state (same key_id) ----
start_plugin() {
	"$KP" serve --socket "$D/nodes/$1/kms.sock" --state "$(state_of "$1")" 2>>"$D/kmsplugin-$1.log" &
	echo $! >"$D/kmsplugin-$1.pid"
	wait_until 20 sh -c "'$KP' status --state '$(state_of "$1")' 2>/dev/null | grep -q '\"code\": \"OK\"'"
}
stop_plugins() { for n in cp-1 cp-2 cp-3; do [ -f "$D/kmsplugin-$n.pid" ] && kill "$(cat "$D/kmsplugin-$n.pid")" 2>/dev/null; done; }
trap 'stop_plugins; rot_down_all; e2e_cleanup' EXIT
start_plugin cp-1 || { not_ok plugin_cp1 "$(cat "$D/kmsplugin-cp-1.log")"; e2e_done; }
for n in cp-2 cp-3; do
	(umask 077 && cp "$(state_of cp-1)" "$(state_of "$n")")
	start_plugin "$n" || { not_ok "plugin_$n" "$(cat "$D/kmsplugin-$n.log")"; e2e_done; }
done
key1=$(kp cp-1 keyid)
[ "$(kp cp-3 keyid)" = "$key1" ] && ok "plugins_same_key_id ($key1)" || not_ok plugins_same_key_id "$(kp cp-3 keyid)"

# ---- kms v2 first, the sandbox's aescbc key still reads the seeded secrets ----
old=$(node_config cp-1)
python3 - "$old" >"$D/enc-kms.yaml" <<'EOF'
import sys
text = open(sys.argv[1]).read()
kms = ("      - kms:\n          apiVersion: v2\n          name: doctor-kms\n"
       "          endpoint: unix:///proc/self/cwd/kms.sock\n          timeout: 3s\n")
head, sep, tail = text.partition("    providers:\n")
print(head + sep + kms + tail, end="")
EOF
for n in cp-1 cp-2 cp-3; do (umask 077 && cp "$D/enc-kms.yaml" "$(node_config "$n")"); done
h_kms=$(file_hash cp-1)
for n in cp-1 cp-2 cp-3; do
	wait_until 90 runs_hash "$n" "$h_kms" && ok "kms_config_loaded_$n" ||
		not_ok "kms_config_loaded_$n" "$(tail -n 5 "$D/nodes/$n/apiserver.log")"
done
code=$(kc -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST \
	-d '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"doctor-1"},"data":{"k":"dmFsdWU="}}' \
	"$(url_of cp-2)/api/v1/namespaces/default/secrets")
[ "$code" = 201 ] && ok secret_written_through_kms || not_ok secret_written_through_kms "HTTP $code"
"$ETCDCTL" --endpoints "$(etcd_url)" get /registry/secrets/default/doctor-1 --print-value-only | grep -q '^k8s:enc:kms:v2:doctor-kms:' &&
	ok stored_as_kms_v2 || not_ok stored_as_kms_v2 "not k8s:enc:kms:v2:doctor-kms:"
for n in cp-1 cp-2 cp-3; do wait_until 40 uses_key_id "$n" "$(sha "$key1")" || not_ok "key_id_seen_$n" "no key_id metric"; done

# ---- healthy ----
doctor healthy 0
finding healthy_plugin_ok OK 'plugin cp-1' kms-plugin "key_id $key1"
finding healthy_readyz_kms OK cp-2 readyz 'kms-providers ok'
finding healthy_config_hash OK cluster config-hash "3 apiservers run the same EncryptionConfiguration \\($h_kms\\)"
finding healthy_key_id OK cluster key-id "3 apiservers use the same key_id for kms provider doctor-kms \\($(sha "$key1")\\)"
expect_no_grep healthy_no_critical CRITICAL "$E2E_TMP/out"
tail -n 1 "$E2E_TMP/out" | grep -q '^OK' && ok healthy_ends_with_ok || not_ok healthy_ends_with_ok "$(tail -n 1 "$E2E_TMP/out")"
doctor healthy_json 0 -o json
python3 - "$E2E_TMP/out" <<'EOF' && ok healthy_json_parses || not_ok healthy_json_parses "$(head -c 300 "$E2E_TMP/out")"
import json, sys
d = json.load(open(sys.argv[1]))
order = {"critical": 0, "warning": 1, "ok": 2}
sev = [order[f["severity"]] for f in d["findings"]]
assert d["critical"] == 0 and d["apiservers"] == 3 and d["plugins"] == 3 and sev == sorted(sev), d
assert all(set(f) == {"severity", "subject", "check", "message", "action"} for f in d["findings"])
EOF

# ---- plugin slow: cp-3's plugin answers after 1.5 s (below the 3 s timeout: a warning) ----
kp cp-3 latency 1500ms >/dev/null
doctor slow 0
finding slow_named WARNING 'plugin cp-3' kms-plugin-slow 'Status took 1[5-9][0-9]{2} ms \(timeout 3000 ms\)'
expect_grep slow_has_action '^ +next: the plugin or its KMS is slow' "$E2E_TMP/out"
criticals slow_no_critical 0
# slower than the provider's timeout: doctor's call gives up at 3 s, as the apiserver's does
kp cp-3 latency 5s >/dev/null
doctor too_slow 1
finding too_slow_named CRITICAL 'plugin cp-3' kms-plugin 'no answer in time after 3[0-9]{3} ms: .*deadline of 3000 ms exceeded'
kp cp-3 clear >/dev/null

# ---- plugin errors: cp-1's plugin fails every call with UNAVAILABLE ----
kp cp-1 fail 1 unavailable >/dev/null
doctor errors 1
finding errors_named CRITICAL 'plugin cp-1' kms-plugin 'Status failed with UNAVAILABLE'
criticals errors_only 1
head -n 2 "$E2E_TMP/out" | tail -n 1 | grep -q '^CRITICAL' && ok errors_critical_first || not_ok errors_critical_first "$(head -n 3 "$E2E_TMP/out")"
# the apiserver sees it too at its next check (20 s cache): doctor then names its kms check and metrics
wait_until 40 kms_check_fails cp-1 && ok errors_apiserver_check_fails || not_ok errors_apiserver_check_fails "cp-1 kms check still ok"
doctor errors_apiserver 1
finding errors_kms_readyz CRITICAL cp-1 kms-readyz 'kms-providers check failed .*code = Unavailable'
finding errors_kms_metric WARNING cp-1 kms-errors 'doctor-kms Status Unavailable x[0-9]+'
# over a window: the apiserver retries Status every 10 s while unhealthy, so 15 s hold a failed call: now
doctor errors_window 1 --window 15s
finding errors_window_now CRITICAL cp-1 kms-errors '[0-9]+ of [0-9]+ KMS calls failed in the last 15.0 s: doctor-kms Status Unavailable x[0-9]+'
finding errors_window_others OK cp-2 kms-errors 'in the last 15.0 s'
kp cp-1 clear >/dev/null
wait_until 40 kms_check_ok cp-1 || not_ok errors_recovered "cp-1 kms check still failing"

# ---- plugin down: cp-2's plugin stops serving (socket removed) ----
kp cp-2 stop >/dev/null
doctor down 1
finding down_named CRITICAL 'plugin cp-2' kms-plugin "no socket after [0-9]+ ms: $D/nodes/cp-2/kms.sock: No such file or directory"
expect_grep down_action '^ +next: start the KMS plugin on the node' "$E2E_TMP/out"
criticals_about down_only 'plugin cp-2 +kms-plugin|cp-2 +kms-readyz'
# a stale socket: the file stays, nobody listens
kp cp-2 start >/dev/null
kp cp-2 stop --stale >/dev/null
doctor stale 1
finding stale_named CRITICAL 'plugin cp-2' kms-plugin "nobody listens on the socket after [0-9]+ ms: connect $D/nodes/cp-2/kms.sock: Connection refused"
criticals_about stale_only 'plugin cp-2 +kms-plugin|cp-2 +kms-readyz'
kp cp-2 start >/dev/null
wait_until 40 kms_check_ok cp-2 || not_ok down_recovered "cp-2 kms check still failing"

# ---- config hash mismatch: cp-3's file gets a comment (other bytes, same meaning) ----
cp "$(node_config cp-3)" "$D/cp-3.enc.saved"
echo "# doctor e2e: cp-3 differs" >>"$(node_config cp-3)"
h3=$(file_hash cp-3)
wait_until 90 runs_hash cp-3 "$h3" && ok mismatch_loaded || not_ok mismatch_loaded "cp-3 did not load $h3"
doctor mismatch 1
finding mismatch_named CRITICAL cluster config-hash "cp-1, cp-2: $h_kms; cp-3: $h3"
criticals mismatch_only 1
cp "$D/cp-3.enc.saved" "$(node_config cp-3)"
wait_until 90 runs_hash cp-3 "$h_kms" || not_ok mismatch_restored "cp-3 did not load $h_kms again"

# ---- one apiserver down: cp-2's static pod manifest removed ----
mv "$D/nodes/cp-2/etc/kubernetes/manifests/kube-apiserver.yaml" "$D/cp-2.manifest.saved"
wait_until 60 refuses cp-2 && ok apiserver_stopped || not_ok apiserver_stopped "cp-2 still answers"
doctor apiserver_down 1
finding apiserver_down_named CRITICAL cp-2 tcp "TCP connect to 127.0.0.1:[0-9]+ failed: Connection refused"
finding apiserver_down_others_ok OK cp-1 reach 'TCP, TLS and authentication ok'
criticals apiserver_down_only 1
mv "$D/cp-2.manifest.saved" "$D/nodes/cp-2/etc/kubernetes/manifests/kube-apiserver.yaml"
wait_until 120 kms_check_ok cp-2 || not_ok apiserver_back "cp-2 not ready again"

# ---- key_id disagreement: cp-3's plugin rotates its KEK, cp-1 and cp-2 keep theirs ----
key3=$(kp cp-3 rotate)
wait_until 60 uses_key_id cp-3 "$(sha "$key3")" && ok keyid_cp3_picked_up || not_ok keyid_cp3_picked_up "no $key3 on cp-3"
doctor keyid 1
finding keyid_named CRITICAL cluster key-id "doctor-kms: cp-1, cp-2: $(sha "$key1"); cp-3: $(sha "$key3")"
criticals keyid_only 1

# ---- TLS and authentication, each its own finding ----
etcd_port=$(etcd_url | sed 's#.*:##')
sed "s#$(url_of cp-1)#https://127.0.0.1:$etcd_port#" "$PLAN" >"$D/plan-tls.yaml"
expect_exit tls_exit 1 "$REKEYCTL" doctor -f "$D/plan-tls.yaml"
finding tls_named CRITICAL cp-1 tls 'TLS or HTTP exchange failed'
sed 's/^\(.*token: \).*/\1not-the-token/' "$D/kubeconfig" >"$D/kubeconfig-badtoken"
sed -e "s#^kubeconfig: .*#kubeconfig: $D/kubeconfig-badtoken#" -e 's/^context: .*/context: sandbox-token/' "$PLAN" >"$D/plan-auth.yaml"
expect_exit auth_exit 1 "$REKEYCTL" doctor -f "$D/plan-auth.yaml"
finding auth_named CRITICAL cp-1 auth 'user admin-token of context sandbox-token was refused: HTTP 401'

# anonymous, and the plugin socket taken from the configs (no --kms-socket, access local): /readyz is
# public (system:public-info-viewer), /metrics is not (a warning, metric checks skipped); the endpoint
# unix:///proc/self/cwd/kms.sock resolves in doctor's own directory: run from cp-1's it is cp-1's plugin
cp "$D/kubeconfig" "$D/kubeconfig-anon"
cluster=$(kubectl config --kubeconfig "$D/kubeconfig-anon" view -o jsonpath='{.contexts[?(@.name=="sandbox")].context.cluster}')
kubectl config --kubeconfig "$D/kubeconfig-anon" set-credentials anon >/dev/null
kubectl config --kubeconfig "$D/kubeconfig-anon" set-context sandbox-anon --cluster "$cluster" --user anon >/dev/null
sed -e "s#^kubeconfig: .*#kubeconfig: $D/kubeconfig-anon#" -e 's/^context: .*/context: sandbox-anon/' "$PLAN" >"$D/plan-anon.yaml"
rekeyctl_abs=$(cd "$(dirname "$REKEYCTL")" && pwd)/$(basename "$REKEYCTL")
expect_exit anon_exit 0 sh -c "cd '$D/nodes/cp-1' && '$rekeyctl_abs' doctor -f '$D/plan-anon.yaml'"
finding anon_reach OK cp-1 reach 'TCP, TLS and authentication ok'
finding anon_metrics_forbidden WARNING cp-1 auth 'cannot read /metrics, the metric checks were skipped: .*403'
finding config_socket_called OK plugin kms-plugin "/proc/self/cwd/kms.sock: Status took [0-9]+ ms \\(timeout 3000 ms\\): version v2, healthz ok, key_id $key1"
# from elsewhere the same endpoint names no socket
expect_exit config_socket_elsewhere 1 "$REKEYCTL" doctor -f "$D/plan-anon.yaml"
finding config_socket_missing CRITICAL plugin kms-plugin '/proc/self/cwd/kms.sock: no socket'

# ---- bad input: exit 2, one line ----
expect_exit bad_no_plan 2 "$REKEYCTL" doctor
expect_exit bad_output 2 "$REKEYCTL" doctor -f "$PLAN" -o yaml
expect_exit bad_socket_node 2 "$REKEYCTL" doctor -f "$PLAN" --kms-socket nosuch=/tmp/x.sock
expect_grep bad_socket_node_says 'the plan has no node nosuch' "$E2E_TMP/err"
expect_exit bad_timeout 2 "$REKEYCTL" doctor -f "$PLAN" --timeout 0
expect_exit bad_window 2 "$REKEYCTL" doctor -f "$PLAN" --window 11m
printf 'apiVersion: rekeyctl/v1\nkind: Nope\n' >"$D/plan-bad.yaml"
expect_exit bad_plan 2 "$REKEYCTL" doctor -f "$D/plan-bad.yaml"
[ "$(wc -l <"$E2E_TMP/err")" = 1 ] && ok bad_plan_one_line || not_ok bad_plan_one_line "$(cat "$E2E_TMP/err")"
e2e_done
