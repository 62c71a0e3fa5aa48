#!/bin/sh
# 74_rotate_kms.sh: KMS v2 end to end on 3 real kube-apiservers and the KMS v2 test plugin
# (rekey-sandbox up --real --kms): aescbc -> kms v2 through the usual stages ends with every secret
# stored as kms v2 under the plugin's key_id (rekeyctl verify and etcdctl), the old aescbc key archived;
# a KEK rotation (kms.kek: true) after the plugin rotated ends with every secret under the new keyID;
# then plugin outages in the middle of KEK rewrites (killed halfway, the plugin stopped: every
# apiserver still writes with its cached seed, then refuses writes once its KMS v2 clock is moved past
# the seed's 3 minutes): a resume pauses the rewrite (each refused PUT tried once per apiserver) and
# finishes once the plugin is back; with the plugin down past kms.outageTimeout it stops with exit 3,
# nothing lost, and a resume once it is back finishes; finally kms -> aescbc. Bad kms
# plans exit 2 with file:line. KMS needs the real apiserver: the sandbox's own has none.
# control-planes: real
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

KP=$REALCP_BIN/kmsplugin
kp() { "$KP" "$@" --state "$D/kms/state.json"; }

# ---- bad kms plans: exit 2, file:line, nothing changed (no control plane needed) ----
bad_plan() { # NAME LINE-PREFIX PATTERN: the plan in $E2E_TMP/bad.yaml is refused with that position
	expect_exit "bad_$1" 2 "$REKEYCTL" plan -f "$E2E_TMP/bad.yaml" --state "$E2E_TMP/bad-state"
	expect_grep "bad_$1_message" "$2.*$3" "$E2E_TMP/err"
}
bad_head='apiVersion: rekeyctl/v1
kind: RotationPlan
cluster: c
provider: kms
controlPlane:
  configPath: /e.yaml
  nodes: [{name: a, apiserver: "https://127.0.0.1:1"}]'
printf '%s\n' "$bad_head" >"$E2E_TMP/bad.yaml"
bad_plan no_kms_section "bad.yaml:4:11" 'kms needs a "kms" section'
printf '%s\nkms: {apiVersion: v1, name: k, endpoint: "unix:///s"}\n' "$bad_head" >"$E2E_TMP/bad.yaml"
bad_plan kms_v1 "bad.yaml:8:19" 'kms.apiVersion: "v1" is not supported'
printf '%s\nkms: {apiVersion: v2, name: k, endpoint: "unix:///s", cachesize: 10}\n' "$bad_head" >"$E2E_TMP/bad.yaml"
bad_plan cachesize "bad.yaml:8:" 'cachesize: not supported in v2'
printf '%s\nkms: {apiVersion: v2, name: "a:b", endpoint: "unix:///s"}\n' "$bad_head" >"$E2E_TMP/bad.yaml"
bad_plan name_colon "bad.yaml:8:29" 'not a usable KMS provider name'
printf '%s\nkms: {apiVersion: v2, name: k, endpoint: "tcp://h:1"}\n' "$bad_head" >"$E2E_TMP/bad.yaml"
bad_plan endpoint_tcp "bad.yaml:8:42" 'not a unix socket URL'
printf '%s\nkms: {apiVersion: v2, name: k, endpoint: "unix:///s", kek: true}\n' "$bad_head" >"$E2E_TMP/bad.yaml"
bad_plan kek_without_etcd "bad.yaml:8:" "needs the plan's etcd section"
[ -e "$E2E_TMP/bad-state" ] && not_ok bad_plans_change_nothing "state dir created" || ok bad_plans_change_nothing

# ---- bad uses of up --kms: exit 2, nothing created ----
expect_exit up_kms_needs_real 2 "$SANDBOX" up --dir "$E2E_TMP/x" --kms
expect_grep up_kms_needs_real_message '--kms needs --real' "$E2E_TMP/err"
# shellcheck disable=SC2086 # CP_FLAGS is a list of flags
expect_exit up_kmsplugin_needs_kms 2 "$SANDBOX" up --dir "$E2E_TMP/x" $CP_FLAGS --kmsplugin "$KP"
# shellcheck disable=SC2086
expect_exit up_kms_missing_plugin 2 "$SANDBOX" up --dir "$E2E_TMP/x" $CP_FLAGS --kms --kmsplugin "$E2E_TMP/none"
expect_grep up_kms_missing_plugin_message "$E2E_TMP/none: No such file" "$E2E_TMP/err"
[ -e "$E2E_TMP/x" ] && not_ok up_kms_bad_nothing_created "$E2E_TMP/x exists" || ok up_kms_bad_nothing_created

# every secret in etcd (etcdctl, keys and values) carries provider $1 and keyID $2 (rotate_lib.sh)
etcdctl_all_under() { kms_all_under "$D/kms/state.json" "$1" "$2"; }

sbx_up kms --apiservers 3 --kms --secrets 200 --namespaces 3 || { not_ok sandbox_up "see log"; e2e_done; }
[ -S "$D/kms/kms.sock" ] && ok plugin_socket || not_ok plugin_socket "no $D/kms/kms.sock"
[ "$(stat -c %a "$D/kms/state.json")" = 600 ] && ok plugin_state_0600 || not_ok plugin_state_0600 "mode"
expect_grep plan_targets_kms '^provider: kms$' "$PLAN"

# ---- aescbc -> kms v2 ----
old=$(write_key_of cp-1)
before=$(data_sum)
key1=$(kp keyid)
expect_exit to_kms_plan 0 "$REKEYCTL" plan -f "$PLAN" --state "$STATE"
expect_grep to_kms_plan_stages 'stage-key: add kms v2 provider sandbox-kms \(unix://.*kms.sock\)' "$E2E_TMP/out"
expect_exit to_kms_plan_json 0 "$REKEYCTL" plan -f "$PLAN" --state "$STATE" -o json
jq -e '.provider == "kms" and .kms.name == "sandbox-kms" and (.kms.endpoint | test("^unix://.*kms.sock$")) and .kms.kek == false and .stages[1] == "stage-key"' "$E2E_TMP/out" >/dev/null &&
	ok to_kms_plan_json_names_provider || not_ok to_kms_plan_json_names_provider "$(head -c 300 "$E2E_TMP/out")"
expect_exit to_kms_rotate 0 "$REKEYCTL" rotate -f "$PLAN" --state "$STATE"
expect_exit to_kms_verify 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms --expect-key-id "$key1"
expect_exit to_kms_verify_other_keyid_fails 1 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms --expect-key-id kek-0-none
etcdctl_all_under sandbox-kms "$key1" && ok "to_kms_etcdctl_all_kms_v2 ($total)" || not_ok to_kms_etcdctl_all_kms_v2 "$bad of $total not under sandbox-kms $key1"
for n in cp-1 cp-2 cp-3; do
	grep -q "name: $old\$" "$(node_config "$n")" && not_ok "to_kms_${n}_aescbc_pruned" "still there" || ok "to_kms_${n}_aescbc_pruned"
done
ls "$STATE/archive/sandbox/$old.aescbc."*.key >/dev/null 2>&1 && ok to_kms_aescbc_archived || not_ok to_kms_aescbc_archived "no archive entry"
[ "$(data_sum)" = "$before" ] && ok to_kms_data_unchanged || not_ok to_kms_data_unchanged "checksum differs"

# ---- KEK rotation ----
sed -e 's/^  timeout: 3s$/  timeout: 3s\n  kek: true\n  outageTimeout: 180s/' "$PLAN" >"$D/plan-kek.yaml"
KEK=$D/plan-kek.yaml
expect_exit kek_plan_json 0 "$REKEYCTL" plan -f "$KEK" --state "$STATE" -o json
jq -e '.kms.kek == true and .stages == ["preflight", "kek-target", "kek-pickup", "rewrite", "verify", "done"]' "$E2E_TMP/out" >/dev/null &&
	ok kek_plan_json_stages || not_ok kek_plan_json_stages "$(head -c 300 "$E2E_TMP/out")"
key2=$(kp rotate)
[ "$key2" != "$key1" ] && ok "kek_rotated_in_plugin ($key1 -> $key2)" || not_ok kek_rotated_in_plugin "same key_id"
expect_exit kek_rotate 0 "$REKEYCTL" rotate -f "$KEK" --state "$STATE"
expect_grep kek_all_apiservers_picked_up 'every apiserver \(3\) writes under key_id' "$E2E_TMP/err"
expect_exit kek_verify 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms --expect-key-id "$key2"
etcdctl_all_under sandbox-kms "$key2" && ok "kek_etcdctl_all_new_keyid ($total)" || not_ok kek_etcdctl_all_new_keyid "$bad of $total not under $key2"
expect_exit kek_rollback_refused 2 "$REKEYCTL" rollback -f "$KEK" --state "$STATE"
# history: the KEK rotation's key events carry the plugin's new key_id (no fingerprint, no key material)
"$REKEYCTL" history --cluster sandbox --state "$STATE" -o json >"$E2E_TMP/history.json" 2>"$E2E_TMP/err"
for ev in promoted rewrite-done; do
	got=$(jq -r --arg ev "$ev" '[.keys[] | select(.key == "sandbox-kms" and .event == $ev) | .key_id] | last' "$E2E_TMP/history.json")
	[ "$got" = "$key2" ] && ok "kek_history_${ev}_new_keyid" || not_ok "kek_history_${ev}_new_keyid" "got $got, want $key2"
done
[ "$(data_sum)" = "$before" ] && ok kek_data_unchanged || not_ok kek_data_unchanged "checksum differs"

# ---- plugin outages in the middle of a KEK rewrite (killed halfway, the plugin stopped) ----
# write_refused NODE I: a create through NODE's apiserver is refused for an expired DEK seed (a create
# that succeeds is deleted again)
write_refused() {
	if KUBECONFIG=$D/kubeconfig kubectl --context "sandbox-$1" create secret generic "outage-$1-$2" \
		--from-literal=a=b >"$E2E_TMP/w" 2>&1; then
		KUBECONFIG=$D/kubeconfig kubectl --context "sandbox-$1" delete secret "outage-$1-$2" >/dev/null 2>&1
		return 1
	fi
	grep -q 'expired at' "$E2E_TMP/w"
}
# expire_seeds SKEW PREFIX: moves the apiservers' KMS v2 clock SKEW forward (D/kms/clock-skew,
# tests/realcp/README.md), as upstream's integration test does, instead of waiting out the 3 minutes a
# seed stays writable after its last good Status (docs/kms.md section 7); then every apiserver refuses
# writes ("PREFIX_NODE_refuses_writes"). The deadline is well under the natural 3 minutes, so a skew that
# did nothing fails here.
expire_seeds() {
	echo "$1" >"$D/kms/clock-skew.new" && mv "$D/kms/clock-skew.new" "$D/kms/clock-skew"
	i=0
	for n in cp-1 cp-2 cp-3; do
		deadline=$(($(date +%s) + 60))
		until write_refused "$n" "$i" || [ "$(date +%s)" -ge "$deadline" ]; do
			i=$((i + 1))
			sleep 1
		done
		expect_grep "$2_${n}_refuses_writes" 'expired at' "$E2E_TMP/w"
	done
}
secret_keys() { "$ETCDCTL" --endpoints "$(etcd_url)" get --prefix /registry/secrets/ --keys-only | grep -c .; }

# (1) the plugin comes back while the rewrite waits (kms.outageTimeout 180s, a ceiling: the apiservers'
# gRPC clients reconnect with a backoff that grows with the outage, docs/kms.md section 12): a resume
# started with the plugin down pauses, and the same resume finishes once it is back.
key3=$(kp rotate)
REKEY_TEST_CRASH_AT=rewrite::midway "$REKEYCTL" rotate -f "$KEK" --state "$STATE" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
[ $? = 137 ] && ok outage_killed_midway || not_ok outage_killed_midway "$(tail -n 2 "$E2E_TMP/err")"
kp stop >/dev/null && ok outage_plugin_stopped || not_ok outage_plugin_stopped "kmsplugin stop failed"
# right after the stop each apiserver still writes with its cached seed
for n in cp-1 cp-2 cp-3; do
	expect_exit "outage_${n}_coasts_on_cached_seed" 0 env KUBECONFIG="$D/kubeconfig" kubectl \
		--context "sandbox-$n" create secret generic "outage-$n-coast" --from-literal=a=b
	KUBECONFIG=$D/kubeconfig kubectl --context "sandbox-$n" delete secret "outage-$n-coast" >/dev/null 2>&1
done
expire_seeds 5m outage
before=$(data_sum)
t0=$(date +%s)
"$REKEYCTL" resume -f "$KEK" --state "$STATE" >"$E2E_TMP/resume.out" 2>"$E2E_TMP/resume.err" &
resume=$!
deadline=$(($(date +%s) + 120))
until grep -q '"kms.paused"' "$E2E_TMP/resume.err" || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.5; done
expect_grep outage_second_resume_pauses '"kms.paused"' "$E2E_TMP/resume.err"
echo "# the resume with the plugin down paused after $(($(date +%s) - t0))s"
# the refused PUT was tried once per apiserver, not for the client's whole retry budget (~25 s)
expect_grep outage_refused_put_tried_per_apiserver 'KMS failed the write (.*; 3 attempts)' "$E2E_TMP/resume.err"
kp start >/dev/null && ok outage_plugin_back || not_ok outage_plugin_back "kmsplugin start failed"
t0=$(date +%s)
wait "$resume"
rc=$?
[ "$rc" = 0 ] && ok outage_resume_finishes || not_ok outage_resume_finishes "exit $rc: $(grep -v progress "$E2E_TMP/resume.err" | tail -n 3)"
echo "# the resume finished $(($(date +%s) - t0))s after the plugin was back"
expect_grep outage_recovered_logged '"kms.recovered"' "$E2E_TMP/resume.err"
expect_exit outage_verify_new_keyid 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms --expect-key-id "$key3"
etcdctl_all_under sandbox-kms "$key3" && ok "outage_etcdctl_all_new_keyid ($total)" || not_ok outage_etcdctl_all_new_keyid "$bad of $total not under $key3"
[ "$(data_sum)" = "$before" ] && ok outage_data_unchanged || not_ok outage_data_unchanged "checksum differs"

# (2) the plugin stays down longer than kms.outageTimeout (20s here): the resume stops with exit 3, nothing
# lost; a resume once it is back finishes.
sed -e 's/^  outageTimeout: 180s$/  outageTimeout: 20s/' "$KEK" >"$D/plan-kek-short.yaml"
SHORT=$D/plan-kek-short.yaml
key4=$(kp rotate)
REKEY_TEST_CRASH_AT=rewrite::midway "$REKEYCTL" rotate -f "$SHORT" --state "$STATE" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
[ $? = 137 ] && ok giveup_killed_midway || not_ok giveup_killed_midway "$(tail -n 2 "$E2E_TMP/err")"
kp stop >/dev/null && ok giveup_plugin_stopped || not_ok giveup_plugin_stopped "kmsplugin stop failed"
# the pickup's Status calls renewed every seed a moment ago: 5 more minutes expire them again
expire_seeds 10m giveup
before=$(data_sum)
secret_keys >"$E2E_TMP/count-before"
t0=$(date +%s)
expect_exit outage_resume_stops 3 "$REKEYCTL" resume -f "$SHORT" --state "$STATE"
elapsed=$(($(date +%s) - t0))
expect_grep outage_paused_on_kms 'rewrite.kms-unavailable' "$E2E_TMP/err"
expect_grep outage_gave_up_message 'the KMS stayed unhealthy for 20s.*nothing was lost.*rekeyctl resume' "$E2E_TMP/err"
expect_no_grep outage_nothing_failed '"rewrite.failed"' "$E2E_TMP/err"
echo "# the resume with the plugin down ended after ${elapsed}s (outageTimeout 20s)"
secret_keys >"$E2E_TMP/count-after"
cmp -s "$E2E_TMP/count-before" "$E2E_TMP/count-after" && ok "outage_no_key_lost ($(cat "$E2E_TMP/count-after"))" || not_ok outage_no_key_lost "keys $(cat "$E2E_TMP/count-before") -> $(cat "$E2E_TMP/count-after")"
[ "$(data_sum)" = "$before" ] && ok outage_data_readable_unchanged || not_ok outage_data_readable_unchanged "checksum differs"
expect_exit outage_values_well_formed 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms
kp start >/dev/null && ok giveup_plugin_back || not_ok giveup_plugin_back "kmsplugin start failed"
# every apiserver's /readyz (kms-providers included) passes again, at most 180 s (the reconnect backoff)
t0=$(date +%s)
for n in cp-1 cp-2 cp-3; do
	until "$REKEYCTL" kube --kubeconfig "$D/kubeconfig" --context "sandbox-$n" readyz >/dev/null 2>&1 ||
		[ "$(date +%s)" -ge "$((t0 + 180))" ]; do sleep 1; done
done
expect_exit giveup_kms_healthy_again 0 "$REKEYCTL" kube --kubeconfig "$D/kubeconfig" --context sandbox-cp-3 readyz
echo "# every apiserver was ready $(($(date +%s) - t0))s after the plugin was back"
expect_exit giveup_resume_finishes 0 "$REKEYCTL" resume -f "$SHORT" --state "$STATE"
expect_exit giveup_verify_new_keyid 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms --expect-key-id "$key4"
etcdctl_all_under sandbox-kms "$key4" && ok "giveup_etcdctl_all_new_keyid ($total)" || not_ok giveup_etcdctl_all_new_keyid "$bad of $total not under $key4"
[ "$(data_sum)" = "$before" ] && ok giveup_data_unchanged || not_ok giveup_data_unchanged "checksum differs"
"$REKEYCTL" history --cluster sandbox --state "$STATE" >"$E2E_TMP/history" 2>&1
expect_grep outage_audited 'kms-pause.*gave-up' "$E2E_TMP/history"
expect_grep outage_recovery_audited 'kms-pause.*recovered' "$E2E_TMP/history"

# ---- kms -> aescbc ----
sed -e 's/^provider: kms$/provider: aescbc/' -e '/^kms:$/,/^  timeout: 3s$/d' "$PLAN" >"$D/plan-back.yaml"
before=$(data_sum)
expect_exit back_to_aescbc 0 "$REKEYCTL" rotate -f "$D/plan-back.yaml" --state "$STATE"
new=$(write_key_of cp-1)
case $new in aescbc-*) ok "back_write_key ($new)" ;; *) not_ok back_write_key "$new" ;; esac
expect_exit back_verify 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect "$new"
for n in cp-1 cp-2 cp-3; do
	grep -q 'sandbox-kms' "$(node_config "$n")" && not_ok "back_${n}_kms_pruned" "still there" || ok "back_${n}_kms_pruned"
done
[ "$(data_sum)" = "$before" ] && ok back_data_unchanged || not_ok back_data_unchanged "checksum differs"
e2e_done
