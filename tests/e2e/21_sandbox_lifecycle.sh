#!/bin/sh
# 21_sandbox_lifecycle.sh: rekey-sandbox's lifecycle half end to end: bad arguments; `up` with 3
# apiservers and a few hundred seeded secrets (processes, file modes, what etcd holds, kubectl through
# the kubeconfig); the kubelet emulation (an annotation edit restarts exactly that apiserver, a
# whitespace/comment edit does not, a broken config leaves the apiserver down and its mirror pod
# NotReady, a killed apiserver comes back); faults written and cleared; `down` leaves no process.
. tests/e2e/lib.sh
: "${SANDBOX:?SANDBOX must name the rekey-sandbox binary}"
D=$E2E_TMP/sbx
export ETCDCTL_API=3

MAIN_D=$D
sandbox_down() { [ -f "$D/etcd.pid" ] && "$SANDBOX" down --dir "$D" >/dev/null 2>&1; }
# On failure: what the kubelet, etcd and the apiservers said (run.sh shows the tail of the output).
diagnose() {
	[ "$E2E_FAILED" = 1 ] && [ -d "$MAIN_D" ] || return 0
	echo "-- status:"; "$SANDBOX" status --dir "$MAIN_D" 2>&1 | head -8
	echo "-- kubelet.log:"; tail -n 15 "$MAIN_D/kubelet.log" 2>/dev/null
	echo "-- etcd.log:"; tail -n 3 "$MAIN_D/etcd.log" 2>/dev/null | cut -c1-300
	for n in cp-1 cp-2 cp-3; do echo "-- $n apiserver.log:"; tail -n 3 "$MAIN_D/nodes/$n/apiserver.log" 2>/dev/null | cut -c1-300; done
}
trap 'diagnose; sandbox_down; e2e_cleanup' EXIT

# alive PID: the process exists and is not a zombie.
alive() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	[ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]
}
# wait_for SECONDS CMD...: polls CMD every 100 ms until it succeeds; 1 when the deadline passes.
wait_for() {
	deadline=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}
pid_of() { cat "$D/nodes/$1/apiserver.pid" 2>/dev/null; }
etcd_url() { cat "$D/etcd.url"; }
mirror() { etcdctl --endpoints "$(etcd_url)" get "/registry/pods/kube-system/kube-apiserver-$1" --print-value-only | jq -r "$2"; }
mirror_hash() { mirror "$1" '.metadata.annotations["kubernetes.io/config.hash"]'; }
mirror_ready() { mirror "$1" '.status.conditions[] | select(.type == "Ready") | .status'; }
is_ready() { [ "$(mirror_ready "$1")" = True ] && [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/pki/ca.crt" \
	--cert "$D/pki/admin.crt" --key "$D/pki/admin.key" "$(jq -r ".nodes[] | select(.name == \"$1\") | .url" "$D/sandbox.json")/readyz")" = 200 ]; }
not_ready() { [ "$(mirror_ready "$1")" = False ]; }
pid_changed() { p=$(pid_of "$1"); [ -n "$p" ] && [ "$p" != "$2" ] && alive "$p"; }
# seen NODE: the kubelet has processed the manifest's current bytes.
seen() { [ "$(cut -d' ' -f1 "$D/nodes/$1/manifest.seen")" = "sha256:$(sha256sum <"$D/nodes/$1/etc/kubernetes/manifests/kube-apiserver.yaml" | cut -d' ' -f1)" ]; }
one_line_err() { [ "$(wc -l <"$E2E_TMP/err")" = 1 ] && ok "$1" || not_ok "$1" "stderr has $(wc -l <"$E2E_TMP/err") lines"; }

# ---- bad arguments: exit 2, one line, nothing created ----
expect_exit bad_no_subcommand 2 "$SANDBOX"
expect_exit bad_unknown_subcommand 2 "$SANDBOX" frobnicate
one_line_err bad_unknown_subcommand_one_line
expect_exit bad_up_no_dir 2 "$SANDBOX" up --apiservers 3
one_line_err bad_up_no_dir_one_line
expect_exit bad_up_provider 2 "$SANDBOX" up --dir "$D" --provider rot13
expect_grep bad_up_provider_names_value 'provider.*rot13' "$E2E_TMP/err"
expect_exit bad_up_apiservers 2 "$SANDBOX" up --dir "$D" --apiservers 0
expect_exit bad_up_secrets 2 "$SANDBOX" up --dir "$D" --secrets -5
expect_exit bad_up_reload 2 "$SANDBOX" up --dir "$D" --reload sometimes
expect_exit bad_up_unknown_flag 2 "$SANDBOX" up --dir "$D" --frobnicate 1
one_line_err bad_up_unknown_flag_one_line
if [ -e "$D" ]; then not_ok bad_args_create_nothing "$D exists"; else ok bad_args_create_nothing; fi
mkdir -p "$E2E_TMP/full" && touch "$E2E_TMP/full/precious"
expect_exit bad_up_dir_not_empty 2 "$SANDBOX" up --dir "$E2E_TMP/full"
[ -f "$E2E_TMP/full/precious" ] && [ "$(ls "$E2E_TMP/full")" = precious ] && ok bad_up_dir_untouched || not_ok bad_up_dir_untouched "dir changed"
expect_exit bad_down_not_sandbox 2 "$SANDBOX" down --dir "$E2E_TMP/full"
expect_exit bad_status_not_sandbox 2 "$SANDBOX" status --dir "$E2E_TMP/full"

if "$SANDBOX" apiserver 2>&1 | grep -q "not built"; then
	skip sandbox_lifecycle "the apiserver half is not built into rekey-sandbox yet"
	e2e_done
fi

# ---- up ----
expect_exit up 0 "$SANDBOX" up --dir "$D" --apiservers 3 --secrets 300 --namespaces 3 --secret-bytes 512 --backoff-max 1
[ "$E2E_FAILED" = 0 ] || { cat "$E2E_TMP/err"; e2e_done; }
expect_grep up_reports_seeding 'seeded 300 secrets' "$E2E_TMP/out"
expect_exit up_again_refused 2 "$SANDBOX" up --dir "$D"

all_alive=1
for f in etcd.pid kubelet.pid nodes/cp-1/apiserver.pid nodes/cp-2/apiserver.pid nodes/cp-3/apiserver.pid; do
	alive "$(cat "$D/$f")" || { all_alive=0; not_ok "up_alive_$f" "pid $(cat "$D/$f") not running"; }
done
[ "$all_alive" = 1 ] && ok up_every_process_alive

modes=$(stat -c '%a' "$D/pki/ca.key" "$D/pki/apiserver.key" "$D/pki/admin.key" "$D/pki/tokens.csv" "$D/kubeconfig" \
	"$D/nodes/cp-1/etc/kubernetes/enc/enc.yaml" | sort -u)
[ "$modes" = 600 ] && ok up_secret_files_0600 || not_ok up_secret_files_0600 "modes: $modes"
openssl verify -CAfile "$D/pki/ca.crt" "$D/pki/apiserver.crt" "$D/pki/admin.crt" >/dev/null 2>&1 &&
	ok pki_chain_verifies || not_ok pki_chain_verifies "openssl verify failed"
openssl x509 -in "$D/pki/admin.crt" -noout -subject | grep -q 'O = system:masters, CN = admin' &&
	ok pki_admin_subject || not_ok pki_admin_subject "$(openssl x509 -in "$D/pki/admin.crt" -noout -subject)"
openssl x509 -in "$D/pki/apiserver.crt" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1, DNS:localhost, DNS:kubernetes' &&
	ok pki_serving_sans || not_ok pki_serving_sans "SANs wrong"

keyname=$(sed -n 's/^ *- name: //p' "$D/nodes/cp-1/etc/kubernetes/enc/enc.yaml")
same=$(cat "$D"/nodes/cp-*/etc/kubernetes/enc/enc.yaml | sha256sum; cat "$D/nodes/cp-1/etc/kubernetes/enc/enc.yaml" "$D/nodes/cp-1/etc/kubernetes/enc/enc.yaml" "$D/nodes/cp-1/etc/kubernetes/enc/enc.yaml" | sha256sum)
[ "$(echo "$same" | sort -u | wc -l)" = 1 ] && ok enc_yaml_same_on_every_node || not_ok enc_yaml_same_on_every_node "differs"
nkeys=$(etcdctl --endpoints "$(etcd_url)" get --prefix /registry/secrets/ --keys-only | grep -c .)
[ "$nkeys" = 300 ] && ok etcd_holds_300_secrets || not_ok etcd_holds_300_secrets "$nkeys keys"
nprefixed=$(etcdctl --endpoints "$(etcd_url)" get --prefix /registry/secrets/ --print-value-only | grep -a -c "^k8s:enc:aescbc:v1:$keyname:")
[ "$nprefixed" = 300 ] && ok etcd_values_under_config_key || not_ok etcd_values_under_config_key "$nprefixed of 300 carry k8s:enc:aescbc:v1:$keyname:"
nns=$(etcdctl --endpoints "$(etcd_url)" get --prefix /registry/namespaces/ns- --keys-only | grep -c .)
[ "$nns" = 3 ] && ok etcd_holds_namespaces || not_ok etcd_holds_namespaces "$nns namespaces"

if command -v kubectl >/dev/null 2>&1; then
	n=$(kubectl --kubeconfig "$D/kubeconfig" get secrets -A --no-headers 2>"$E2E_TMP/err" | wc -l)
	[ "$n" = 300 ] && ok kubectl_lists_seeded_secrets || not_ok kubectl_lists_seeded_secrets "$n rows: $(head -c 200 "$E2E_TMP/err")"
	bytes=$(kubectl --kubeconfig "$D/kubeconfig" --context sandbox-cp-3 get secret -n ns-2 secret-000001 -o jsonpath='{.data.data}' | base64 -d | wc -c)
	[ "$bytes" = 512 ] && ok seeded_secret_decrypts_through_apiserver || not_ok seeded_secret_decrypts_through_apiserver "$bytes bytes"
	n=$(kubectl --kubeconfig "$D/kubeconfig" --context sandbox-token get secrets -n ns-1 --no-headers 2>"$E2E_TMP/err" | wc -l)
	[ "$n" = 100 ] && ok kubeconfig_token_context || not_ok kubeconfig_token_context "$n rows: $(head -c 200 "$E2E_TMP/err")"
else
	skip kubectl_lists_seeded_secrets "no kubectl on this machine"
fi

"$SANDBOX" status --dir "$D" -o json >"$E2E_TMP/status.json"
[ "$(jq '[.nodes[] | select(.alive and .ready and .podReady)] | length' "$E2E_TMP/status.json")" = 3 ] &&
	[ "$(jq -r '.etcd.healthy and .kubelet.alive' "$E2E_TMP/status.json")" = true ] &&
	ok status_json_all_ready || not_ok status_json_all_ready "$(head -c 300 "$E2E_TMP/status.json")"
[ "$(jq -r '[.nodes[].configHash] | unique | length' "$E2E_TMP/status.json")" = 1 ] &&
	[ "$(jq -r '.nodes[0].configHash' "$E2E_TMP/status.json")" = "sha256:$(sha256sum <"$D/nodes/cp-1/etc/kubernetes/enc/enc.yaml" | cut -d' ' -f1)" ] &&
	ok status_config_hash || not_ok status_config_hash "$(jq -c '[.nodes[].configHash]' "$E2E_TMP/status.json")"

# ---- kubelet: whitespace/comment edits do not restart ----
wait_for 10 is_ready cp-2 || not_ok mirror_ready_cp2 "not Ready"
p1=$(pid_of cp-1) p2=$(pid_of cp-2) p3=$(pid_of cp-3) h2=$(mirror_hash cp-2)
m2=$D/nodes/cp-2/etc/kubernetes/manifests/kube-apiserver.yaml
{ echo "# edited by 21_sandbox_lifecycle: a comment"; sed 's/: /:    /; s/$/  # trailing comment/' "$m2"; echo; echo "#"; } >"$m2.new" && mv "$m2.new" "$m2"
if wait_for 10 seen cp-2 && [ "$(cut -d' ' -f3 "$D/nodes/cp-2/manifest.seen")" = ok ] && [ "$(pid_of cp-2)" = "$p2" ] && alive "$p2" && [ "$(mirror_hash cp-2)" = "$h2" ]; then
	ok kubelet_ignores_whitespace_and_comments
else
	not_ok kubelet_ignores_whitespace_and_comments "pid $p2 -> $(pid_of cp-2), hash $h2 -> $(mirror_hash cp-2), seen $(cat "$D/nodes/cp-2/manifest.seen")"
fi
# an invalid manifest is ignored (the running pod stays), as the kubelet does
cp "$m2" "$E2E_TMP/m2.good"
printf 'spec: [unclosed\n' >>"$m2"
if wait_for 10 seen cp-2 && [ "$(cut -d' ' -f3 "$D/nodes/cp-2/manifest.seen")" = invalid ] && [ "$(pid_of cp-2)" = "$p2" ] && alive "$p2"; then
	ok kubelet_keeps_pod_on_invalid_manifest
else
	not_ok kubelet_keeps_pod_on_invalid_manifest "pid $p2 -> $(pid_of cp-2), seen $(cat "$D/nodes/cp-2/manifest.seen")"
fi
cp "$E2E_TMP/m2.good" "$m2.new" && mv "$m2.new" "$m2"

# ---- kubelet: an annotation edit restarts exactly that apiserver ----
sed -i 's|^  annotations:|  annotations:\n    rekeyctl.io/config-hash: "e2e-1"|' "$m2"
if wait_for 20 pid_changed cp-2 "$p2" && wait_for 20 is_ready cp-2; then ok kubelet_restarts_on_annotation; else
	not_ok kubelet_restarts_on_annotation "pid still $(pid_of cp-2)"; fi
[ "$(mirror_hash cp-2)" != "$h2" ] && [ "$(mirror cp-2 '.metadata.annotations["rekeyctl.io/config-hash"]')" = e2e-1 ] &&
	ok mirror_pod_hash_changes || not_ok mirror_pod_hash_changes "hash $h2 -> $(mirror_hash cp-2)"
[ "$(pid_of cp-1)" = "$p1" ] && [ "$(pid_of cp-3)" = "$p3" ] && alive "$p1" && alive "$p3" &&
	ok kubelet_restarts_only_that_node || not_ok kubelet_restarts_only_that_node "cp-1 $p1 -> $(pid_of cp-1), cp-3 $p3 -> $(pid_of cp-3)"

# ---- kubelet: a broken config leaves the apiserver down, mirror pod NotReady ----
m3=$D/nodes/cp-3/etc/kubernetes/manifests/kube-apiserver.yaml
sed 's/secret: .*/secret: not-base64!!/' "$D/nodes/cp-3/etc/kubernetes/enc/enc.yaml" >"$D/nodes/cp-3/etc/kubernetes/enc/broken.yaml"
cp "$m3" "$E2E_TMP/m3.good"
sed -i 's|enc/enc.yaml|enc/broken.yaml|' "$m3"
if wait_for 20 not_ready cp-3 && wait_for 20 sh -c "[ \$(jq -r '.nodes[2].restarts' <<EOF2
\$($SANDBOX status --dir $D -o json)
EOF2
) -ge 1 ]"; then ok broken_config_leaves_apiserver_down; else not_ok broken_config_leaves_apiserver_down "ready=$(mirror_ready cp-3)"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" \
	"$(jq -r '.nodes[2].url' "$D/sandbox.json")/readyz")
[ "$code" != 200 ] && ok broken_config_no_readyz || not_ok broken_config_no_readyz "readyz $code"
crashloop() { [ "$(mirror cp-3 '.status.containerStatuses[0].state.waiting.reason')" = CrashLoopBackOff ]; }
wait_for 10 crashloop && ok broken_config_crashloop || not_ok broken_config_crashloop "$(mirror cp-3 '.status.containerStatuses[0].state')"
grep -q "broken.yaml" "$D/nodes/cp-3/apiserver.log" && ok broken_config_logged || not_ok broken_config_logged "no error in apiserver.log"
cp "$E2E_TMP/m3.good" "$m3.new" && mv "$m3.new" "$m3"
wait_for 20 is_ready cp-3 && ok fixed_config_recovers || not_ok fixed_config_recovers "cp-3 not Ready"

# ---- faults ----
expect_exit fault_bad_node 2 "$SANDBOX" fault --dir "$D" --node cp-9 --latency-ms 5
expect_exit fault_bad_ratio 2 "$SANDBOX" fault --dir "$D" --node cp-1 --error-ratio 2
expect_exit fault_clear_with_flags 2 "$SANDBOX" fault --dir "$D" --node cp-1 --clear --latency-ms 3
expect_exit fault_set 0 "$SANDBOX" fault --dir "$D" --node cp-1 --error-ratio 1 --error-code 503 --retry-after 2
[ "$(jq -c '[.errorRatio, .errorCode, .retryAfterSeconds, .failStart]' "$D/nodes/cp-1/faults.json")" = '[1,503,2,false]' ] &&
	ok fault_file_written || not_ok fault_file_written "$(cat "$D/nodes/cp-1/faults.json")"
api_code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" \
	"$(jq -r '.nodes[0].url' "$D/sandbox.json")/api/v1/namespaces"; }
wait_for 5 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert $D/pki/ca.crt --cert $D/pki/admin.crt --key $D/pki/admin.key $(jq -r '.nodes[0].url' "$D/sandbox.json")/api/v1/namespaces)\" = 503 ]" &&
	ok fault_takes_effect || not_ok fault_takes_effect "got $(api_code)"
expect_exit fault_clear 0 "$SANDBOX" fault --dir "$D" --node cp-1 --clear
wait_for 5 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert $D/pki/ca.crt --cert $D/pki/admin.crt --key $D/pki/admin.key $(jq -r '.nodes[0].url' "$D/sandbox.json")/api/v1/namespaces)\" = 200 ]" &&
	ok fault_clears || not_ok fault_clears "got $(api_code)"

# ---- kill: the kubelet restarts it like a crashed container ----
p1=$(pid_of cp-1)
expect_exit fault_kill 0 "$SANDBOX" fault --dir "$D" --kill cp-1
if wait_for 20 pid_changed cp-1 "$p1" && wait_for 20 is_ready cp-1; then ok killed_apiserver_restarted; else
	not_ok killed_apiserver_restarted "pid $p1 -> $(pid_of cp-1)"; fi
[ "$(mirror cp-1 '.status.containerStatuses[0].restartCount')" -ge 1 ] && ok killed_apiserver_restart_counted ||
	not_ok killed_apiserver_restart_counted "restartCount $(mirror cp-1 '.status.containerStatuses[0].restartCount')"

# ---- failStart: a restart that fails keeps the node down until cleared ----
p2=$(pid_of cp-2)
expect_exit fault_fail_start 0 "$SANDBOX" fault --dir "$D" --node cp-2 --fail-start
"$SANDBOX" fault --dir "$D" --kill cp-2 >/dev/null
if wait_for 20 not_ready cp-2 && ! alive "$p2"; then ok fail_start_keeps_node_down; else
	not_ok fail_start_keeps_node_down "ready=$(mirror_ready cp-2) pid $p2"; fi
"$SANDBOX" fault --dir "$D" --node cp-2 --clear >/dev/null
wait_for 20 is_ready cp-2 && ok fail_start_cleared_recovers || not_ok fail_start_cleared_recovers "cp-2 not Ready"

# ---- down ----
pids="$(cat "$D/etcd.pid" "$D/kubelet.pid") $(pid_of cp-1) $(pid_of cp-2) $(pid_of cp-3)"
expect_exit down 0 "$SANDBOX" down --dir "$D"
left=""
for p in $pids; do alive "$p" && left="$left $p"; done
[ -z "$left" ] && ok down_leaves_no_process || not_ok down_leaves_no_process "still running:$left"
expect_exit down_again_idempotent 0 "$SANDBOX" down --dir "$D"
"$SANDBOX" status --dir "$D" -o json >"$E2E_TMP/status.json"
[ "$(jq '[.nodes[] | select(.alive)] | length' "$E2E_TMP/status.json")" = 0 ] && [ "$(jq -r '.etcd.alive' "$E2E_TMP/status.json")" = false ] &&
	ok status_after_down || not_ok status_after_down "$(head -c 300 "$E2E_TMP/status.json")"
# ---- every provider: seeded values carry its prefix and the apiserver reads them ----
for provider in aesgcm secretbox identity; do
	D=$E2E_TMP/sbx-$provider
	if ! "$SANDBOX" up --dir "$D" --apiservers 1 --secrets 20 --namespaces 2 --reload automatic --reload-period 1 \
		--provider "$provider" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; then
		not_ok "seed_$provider" "up failed: $(head -c 300 "$E2E_TMP/err")"
		continue
	fi
	case $provider in identity) want='^\{"apiVersion":"v1"' ;; *) want="^k8s:enc:$provider:v1:$provider-" ;; esac
	n=$(etcdctl --endpoints "$(etcd_url)" get --prefix /registry/secrets/ --print-value-only | grep -a -c -E "$want")
	[ "$n" = 20 ] && ok "seed_${provider}_prefix" || not_ok "seed_${provider}_prefix" "$n of 20 match $want"
	grep -q -- '--encryption-provider-config-automatic-reload=true' "$D/nodes/cp-1/etc/kubernetes/manifests/kube-apiserver.yaml" &&
		grep -q 'automatic reload' "$D/nodes/cp-1/apiserver.log" && ok "reload_automatic_$provider" ||
		not_ok "reload_automatic_$provider" "apiserver not started in automatic mode"
	if command -v kubectl >/dev/null 2>&1; then
		bytes=$(kubectl --kubeconfig "$D/kubeconfig" get secret -n ns-2 secret-000003 -o jsonpath='{.data.data}' | base64 -d | wc -c)
		[ "$bytes" = 1024 ] && ok "seed_${provider}_reads_back" || not_ok "seed_${provider}_reads_back" "$bytes bytes"
	fi
	if [ "$provider" = identity ]; then
		# a second kubelet refuses; a kubelet whose pid file is gone (sandbox deleted) stops its pods and exits
		expect_exit kubelet_second_refused 1 "$SANDBOX" kubelet --dir "$D"
		kp=$(cat "$D/kubelet.pid") ap=$(pid_of cp-1)
		rm -f "$D/kubelet.pid"
		gone() { ! alive "$kp" && ! alive "$ap"; }
		wait_for 20 gone && ok kubelet_exits_without_pid_file || not_ok kubelet_exits_without_pid_file "kubelet $kp or apiserver $ap still running"
	fi
	"$SANDBOX" down --dir "$D" >/dev/null
done
e2e_done
