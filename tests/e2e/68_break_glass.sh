#!/bin/sh
# 68_break_glass.sh: break glass on 3 real kube-apiservers with the KMS v2 test plugin: the cluster is
# migrated onto kms v2; bad break-glass inputs (no breakGlass section, no --reason, a key file that is
# not 0600) exit 2 and change nothing; with the plugin stopped an apiserver restarted without it refuses
# to create a secret (fail closed); `break-glass` writes the plan's
# emergency config (aescbc key first, kms kept for reads) through the canary and gates: secrets can be
# created and read again on every apiserver and etcd stores them under the emergency key; the audit
# log, history and the banner say who, when and why; with the plugin back, `rotate` with the same plan
# goes back to kms: etcd holds every secret as kms v2 under the plugin's key_id, the emergency key is
# archived (0600) and gone from every node. `history` records the kms provider's key events (provider
# kms, no fingerprint, the plugin's key_id) on the way there and on the way back.
# control-planes: real
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh
KMSPLUGIN=$REALCP_BIN/kmsplugin
kc() { KUBECONFIG=$D/kubeconfig kubectl "$@"; }
cfg_sum() { cat "$(node_config cp-1)" "$(node_config cp-2)" "$(node_config cp-3)" | sha256sum; }
stored_prefix() { "$ETCDCTL" --endpoints "$(etcd_url)" get --print-value-only "/registry/secrets/$1" | head -c "$2"; }

# wait_ready SECONDS: every apiserver answers /readyz (all checks) within SECONDS.
wait_ready() {
	end=$(($(date +%s) + $1))
	for n in 1 2 3; do
		until kc --context "sandbox-cp-$n" get --raw /readyz >/dev/null 2>&1; do
			[ "$(date +%s)" -gt "$end" ] && return 1
			sleep 1
		done
	done
}

sbx_up bg --apiservers 3 --secrets 60 --namespaces 2 --kms || { not_ok sandbox_up "see log"; e2e_done; }
KMS_STATE=$D/kms/state.json
t0=$(date +%s)
expect_exit onto_kms 0 "$REKEYCTL" rotate -f "$PLAN" --state "$STATE"
echo "# measure: aescbc -> kms v2 rotation took $(($(date +%s) - t0)) s"
expect_exit onto_kms_etcd 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms
# history records the kms provider's own key events like a local key's: provider kms, no fingerprint,
# the key_id its plugin's Status answered over the plan's socket (docs/kms.md, "History")
keyid0=$("$KMSPLUGIN" keyid --state "$KMS_STATE")
"$REKEYCTL" history --state "$STATE" -o json >"$E2E_TMP/history.json"
got=$(jq -r '[.keys[] | select(.key == "sandbox-kms") | "\(.provider)/\(.fingerprint)/\(.event)/\(.key_id)"] | join(",")' "$E2E_TMP/history.json")
want="kms//read-everywhere/$keyid0,kms//promoted/$keyid0,kms//rewrite-done/$keyid0"
[ "$got" = "$want" ] && ok onto_kms_history_kms_events || not_ok onto_kms_history_kms_events "'$got', want '$want'"
jq -e '[.keys[] | select(.provider == "aescbc" and .event == "pruned") | .fingerprint | test("^[0-9a-f]{16}$")] | length == 1 and all' "$E2E_TMP/history.json" >/dev/null &&
	ok onto_kms_history_aescbc_pruned || not_ok onto_kms_history_aescbc_pruned "$(jq -c '[.keys[] | select(.event == "pruned")]' "$E2E_TMP/history.json")"

# ---- the emergency key and the plan naming it ----
"$REKEYCTL" keygen --provider aescbc --out "$D/emergency.key" >/dev/null || not_ok keygen "failed"
BG=$D/plan-bg.yaml
cp "$PLAN" "$BG"
printf 'breakGlass:\n  keyFile: %s\n  keyName: emergency-1\n' "$D/emergency.key" >>"$BG"
line=$(grep -n '^  keyFile:' "$BG" | cut -d: -f1)

# ---- bad inputs: exit 2, nothing changed ----
sum=$(cfg_sum)
expect_exit no_section_refused 2 "$REKEYCTL" break-glass -f "$PLAN" --state "$STATE" --reason "test"
expect_grep no_section_message 'has no breakGlass section' "$E2E_TMP/err"
expect_exit no_reason_refused 2 "$REKEYCTL" break-glass -f "$BG" --state "$STATE"
expect_grep no_reason_message 'reason TEXT is required' "$E2E_TMP/err"
chmod 0640 "$D/emergency.key"
expect_exit key_mode_refused 2 "$REKEYCTL" break-glass -f "$BG" --state "$STATE" --reason "test"
expect_grep key_mode_position "^rekeyctl break-glass: $BG:$line:[0-9]+: breakGlass.keyFile: " "$E2E_TMP/err"
chmod 0600 "$D/emergency.key"
[ "$(cfg_sum)" = "$sum" ] && ok bad_inputs_nothing_changed || not_ok bad_inputs_nothing_changed "a config changed"
"$REKEYCTL" history --state "$STATE" >"$E2E_TMP/hist"
expect_no_grep bad_inputs_no_audit "break-glass" "$E2E_TMP/hist"

# ---- KMS down: fail closed (cp-2 restarted without its plugin refuses writes), then break glass ----
"$KMSPLUGIN" stop --state "$KMS_STATE" >/dev/null || not_ok plugin_stop "failed"
pid2=$(cat "$D/nodes/cp-2/apiserver.pid")
"$SANDBOX" fault --dir "$D" --kill cp-2 >/dev/null || not_ok kill_cp2 "failed"
end=$(($(date +%s) + 120))
until [ "$(cat "$D/nodes/cp-2/apiserver.pid" 2>/dev/null)" != "$pid2" ] &&
	kc --context sandbox-cp-2 get --raw '/readyz?exclude=kms-providers&exclude=informer-sync' >/dev/null 2>&1; do
	[ "$(date +%s)" -gt "$end" ] && break
	sleep 1
done
expect_exit down_write_refused 1 kc --context sandbox-cp-2 create secret generic before-bg --from-literal=k=v
expect_grep down_write_message 'nil transformer' "$E2E_TMP/err"
t0=$(date +%s)
expect_exit break_glass 0 "$REKEYCTL" break-glass -f "$BG" --state "$STATE" --reason "KMS outage INC-42"
echo "# measure: break-glass took $(($(date +%s) - t0)) s"
cp "$E2E_TMP/err" "$E2E_TMP/bg.err"
expect_grep banner_started '^!!! BREAK GLASS started: cluster sandbox, run [0-9]+, by [^ ]+@[^ ]+ at 20' "$E2E_TMP/bg.err"
expect_grep banner_reason '^!!! reason: KMS outage INC-42$' "$E2E_TMP/bg.err"
expect_grep banner_done '^!!! BREAK GLASS done' "$E2E_TMP/bg.err"
for n in cp-1 cp-2 cp-3; do
	[ "$(write_key_of $n)" = emergency-1 ] && grep -q 'name: sandbox-kms$' "$(node_config $n)" &&
		ok "bg_config_$n" || not_ok "bg_config_$n" "write key $(write_key_of $n), kms kept: $(grep -c sandbox-kms "$(node_config $n)")"
done
expect_exit bg_create 0 kc create secret generic bg-new --from-literal=k=during-outage
for n in 1 2 3; do
	v=$(kc --context "sandbox-cp-$n" get secret bg-new -o jsonpath='{.data.k}' 2>/dev/null | base64 -d)
	[ "$v" = during-outage ] && ok "bg_read_cp-$n" || not_ok "bg_read_cp-$n" "read '$v'"
done
p=$(stored_prefix default/bg-new 30)
[ "$p" = "k8s:enc:aescbc:v1:emergency-1:" ] && ok bg_stored_under_emergency_key || not_ok bg_stored_under_emergency_key "prefix '$p'"
expect_exit bg_verify_counts 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets
expect_grep bg_verify_lists_emergency 'emergency-1' "$E2E_TMP/out"
old=$(kc get secrets -A -o name 2>&1 | head -n 1)
echo "# fact: listing kms v2 secrets with the plugin down after the restart: $old"
"$REKEYCTL" history --state "$STATE" >"$E2E_TMP/hist"
expect_grep audit_break_glass 'break-glass.*done.*reason: KMS outage INC-42' "$E2E_TMP/hist"
expect_grep history_key_archived 'emergency-1.*archived' "$E2E_TMP/hist"
a=$(find "$STATE/archive" -name 'emergency-1.aescbc.*.key' -perm 0600 | wc -l)
[ "$a" = 1 ] && ok bg_key_archived_0600 || not_ok bg_key_archived_0600 "$a archive entries"
sum=$(cfg_sum)
expect_exit bg_again_nothing_to_do 2 "$REKEYCTL" break-glass -f "$BG" --state "$STATE" --reason "again"
expect_grep bg_again_message 'already written with emergency-1' "$E2E_TMP/err"
[ "$(cfg_sum)" = "$sum" ] && ok bg_again_nothing_changed || not_ok bg_again_nothing_changed "a config changed"

# ---- KMS back: the way back is an ordinary rotate with the same plan ----
"$KMSPLUGIN" start --state "$KMS_STATE" >/dev/null || not_ok plugin_start "failed"
t0=$(date +%s)
wait_ready 180 && ok ready_after_plugin_start || not_ok ready_after_plugin_start "an apiserver stayed unready"
echo "# measure: every apiserver ready $(($(date +%s) - t0)) s after the plugin started"
before=$(data_sum)
t0=$(date +%s)
expect_exit back_to_kms 0 "$REKEYCTL" rotate -f "$BG" --state "$STATE"
echo "# measure: the way back (rotate to kms) took $(($(date +%s) - t0)) s"
keyid=$("$KMSPLUGIN" keyid --state "$KMS_STATE")
expect_exit back_etcd_all_kms 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms --expect-key-id "$keyid"
p=$(stored_prefix default/bg-new 23)
[ "$p" = "k8s:enc:kms:v2:sandbox-" ] && ok back_new_secret_kms || not_ok back_new_secret_kms "prefix '$p'"
[ "$(data_sum)" = "$before" ] && ok back_data_unchanged || not_ok back_data_unchanged "checksum differs"
gone=1
for n in cp-1 cp-2 cp-3; do grep -q 'emergency-1' "$(node_config $n)" && gone=0; done
[ "$gone" = 1 ] && ok back_emergency_key_pruned || not_ok back_emergency_key_pruned "still in a node config"
# the way back promoted the kms provider again, under the plugin's key_id; the table shows it too
"$REKEYCTL" history --state "$STATE" -o json >"$E2E_TMP/history.json"
got=$(jq -r '[.keys[] | select(.key == "sandbox-kms" and .event == "promoted") | .key_id] | join(",")' "$E2E_TMP/history.json")
[ "$got" = "$keyid0,$keyid" ] && ok back_history_kms_promoted || not_ok back_history_kms_promoted "promoted key_ids '$got', want '$keyid0,$keyid'"
"$REKEYCTL" history --state "$STATE" >"$E2E_TMP/hist"
grep -F "$keyid" "$E2E_TMP/hist" | grep -Eq 'sandbox-kms +kms +- +promoted +key_id ' &&
	ok back_history_table_kms || not_ok back_history_table_kms "$(grep sandbox-kms "$E2E_TMP/hist" | head -n 3)"
e2e_done
