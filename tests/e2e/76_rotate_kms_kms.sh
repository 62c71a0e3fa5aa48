#!/bin/sh
# 76_rotate_kms_kms.sh: kms -> kms on 3 real kube-apiservers with two instances of the KMS v2 test
# plugin (rekey-sandbox up --real --kms --kms-plugins 2: A on D/kms/kms.sock, B on D/kms2/kms.sock,
# each with its own KEKs). The sandbox goes onto A (sandbox-kms), then a plan naming B (sandbox-kms-b)
# rotates to it through the usual stages: killed right after its verify stage, etcd already holds every
# secret under B's name and B's keyID while every node still lists A (pruned only after verify); the
# resume prunes A. Then the standalone `rekeyctl rewrite` (configmaps, then secrets) during a KMS outage
# (B stopped, the kubeconfig's apiserver restarted without it): it stops at its checkpoint with
# configmaps done, exit 3, nothing failed (the refused list tried twice, not for the client's whole
# retry budget), a message naming the KMS and --resume; once B is back
# `--resume` finishes the secrets without redoing the configmaps. Bad uses of --kms-plugins exit 2.
# control-planes: real
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

KP=$REALCP_BIN/kmsplugin
[ -x "$KP" ] || { not_ok kmsplugin_built "$KP missing (make realcp)"; e2e_done; }
kpa() { "$KP" "$@" --state "$D/kms/state.json"; }
kpb() { "$KP" "$@" --state "$D/kms2/state.json"; }

# ---- bad uses of --kms-plugins: exit 2, nothing created ----
# shellcheck disable=SC2086 # CP_FLAGS is a list of flags
expect_exit up_kms_plugins_needs_kms 2 "$SANDBOX" up --dir "$E2E_TMP/x" $CP_FLAGS --kms-plugins 2
expect_grep up_kms_plugins_needs_kms_message '--kms-plugins needs --kms' "$E2E_TMP/err"
# shellcheck disable=SC2086
expect_exit up_kms_plugins_range 2 "$SANDBOX" up --dir "$E2E_TMP/x" $CP_FLAGS --kms --kms-plugins 3
expect_grep up_kms_plugins_range_message '--kms-plugins' "$E2E_TMP/err"
[ -e "$E2E_TMP/x" ] && not_ok up_bad_nothing_created "$E2E_TMP/x exists" || ok up_bad_nothing_created

# every secret in etcd carries kms provider $1 and keyID $2 (etcdctl, decoded by the plugin's decoder)
etcdctl_all_under() {
	"$ETCDCTL" --endpoints "$(etcd_url)" get --prefix /registry/secrets/ --keys-only | grep -v '^$' >"$E2E_TMP/keys"
	total=$(wc -l <"$E2E_TMP/keys")
	bad=0
	while read -r k; do
		v=$("$ETCDCTL" --endpoints "$(etcd_url)" get --print-value-only "$k" | head -c -1 | kpb decode |
			jq -r '"\(.provider) \(.key_id)"')
		[ "$v" = "$1 $2" ] || bad=$((bad + 1))
	done <"$E2E_TMP/keys"
	[ "$total" -gt 0 ] && [ "$bad" = 0 ]
}
lists_a() { grep -q '^ *name: sandbox-kms$' "$(node_config "$1")"; }

t_start=$(date +%s)
sbx_up kk --apiservers 3 --kms --kms-plugins 2 --secrets 30 --namespaces 2 --configmaps 10 ||
	{ not_ok sandbox_up "see log"; e2e_done; }
[ -S "$D/kms2/kms.sock" ] && ok plugin_b_socket || not_ok plugin_b_socket "no $D/kms2/kms.sock"
[ "$(stat -c %a "$D/kms2/state.json")" = 600 ] && ok plugin_b_state_0600 || not_ok plugin_b_state_0600 "mode"
keya=$(kpa keyid)
keyb=$(kpb keyid)
[ -n "$keyb" ] && [ "$keya" != "$keyb" ] && ok "two_plugins_two_key_ids ($keya, $keyb)" || not_ok two_plugins_two_key_ids "'$keya' '$keyb'"

# ---- onto A (the sandbox's plan) ----
expect_exit onto_a 0 "$REKEYCTL" rotate -f "$PLAN" --state "$STATE"
expect_exit onto_a_verify 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms --expect-key-id "$keya"

# ---- A -> B: killed after verify, A still listed everywhere; the resume prunes it ----
B=$D/plan-b.yaml
sed -e 's/^  name: sandbox-kms$/  name: sandbox-kms-b/' \
	-e 's#^  endpoint: unix://\(.*\)/kms/kms\.sock$#  endpoint: unix://\1/kms2/kms.sock#' "$PLAN" >"$B"
expect_exit to_b_plan 0 "$REKEYCTL" plan -f "$B" --state "$STATE"
expect_grep to_b_plan_adds_b 'stage-key: add kms v2 provider sandbox-kms-b \(unix://.*/kms2/kms.sock\)' "$E2E_TMP/out"
before=$(data_sum)
t0=$(date +%s)
REKEY_TEST_CRASH_AT=verify::done "$REKEYCTL" rotate -f "$B" --state "$STATE" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
[ $? = 137 ] && ok to_b_killed_after_verify || not_ok to_b_killed_after_verify "$(tail -n 2 "$E2E_TMP/err")"
expect_exit to_b_etcd_all_under_b 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms-b --expect-key-id "$keyb"
etcdctl_all_under sandbox-kms-b "$keyb" && ok "to_b_etcdctl_all_under_b ($total)" || not_ok to_b_etcdctl_all_under_b "$bad of $total not under sandbox-kms-b $keyb"
for n in cp-1 cp-2 cp-3; do
	[ "$(write_key_of "$n")" = sandbox-kms-b ] && lists_a "$n" && ok "to_b_${n}_a_kept_until_pruned" ||
		not_ok "to_b_${n}_a_kept_until_pruned" "write key $(write_key_of "$n"), A listed: $(lists_a "$n" && echo yes || echo no)"
done
expect_exit to_b_resume 0 "$REKEYCTL" resume -f "$B" --state "$STATE"
echo "# measure: kms A -> kms B rotation (with the kill and resume) took $(($(date +%s) - t0)) s"
for n in cp-1 cp-2 cp-3; do
	lists_a "$n" && not_ok "to_b_${n}_a_pruned" "still listed" || ok "to_b_${n}_a_pruned"
done
[ "$(data_sum)" = "$before" ] && ok to_b_data_unchanged || not_ok to_b_data_unchanged "checksum differs"

# ---- standalone rewrite during a KMS outage: stops at its checkpoint, exit 3; --resume finishes ----
rw() { "$REKEYCTL" rewrite --kubeconfig "$D/kubeconfig" --state "$D/rw-state" --resource configmaps --resource secrets "$@"; }
before=$(data_sum)
kpb stop >/dev/null && ok outage_plugin_b_stopped || not_ok outage_plugin_b_stopped "kmsplugin stop failed"
pid1=$(cat "$D/nodes/cp-1/apiserver.pid")
"$SANDBOX" fault --dir "$D" --kill cp-1 >/dev/null || not_ok outage_kill_cp1 "failed"
end=$(($(date +%s) + 120))
until [ "$(cat "$D/nodes/cp-1/apiserver.pid" 2>/dev/null)" != "$pid1" ] &&
	KUBECONFIG=$D/kubeconfig kubectl --context sandbox-cp-1 get --raw '/readyz?exclude=kms-providers&exclude=informer-sync' >/dev/null 2>&1; do
	[ "$(date +%s)" -gt "$end" ] && break
	sleep 1
done
t0=$(date +%s)
expect_exit outage_rewrite_stops 3 rw
echo "# measure: the standalone rewrite with the KMS down stopped after $(($(date +%s) - t0)) s"
cp "$E2E_TMP/err" "$E2E_TMP/rw.err"
expect_grep outage_rewrite_paused_on_kms '"rewrite.kms-unavailable"' "$E2E_TMP/rw.err"
expect_grep outage_rewrite_message 'paused: the KMS failed a (list|write).*nil transformer.*checkpoint saved' "$E2E_TMP/rw.err"
expect_grep outage_rewrite_names_resume 'rewrite --resume' "$E2E_TMP/rw.err"
# the refused list was tried twice (the kubeconfig's one apiserver), not for the client's retry budget
expect_grep outage_rewrite_list_tried_twice 'KMS failed a list .*gave up after 2 attempts' "$E2E_TMP/rw.err"
expect_grep outage_rewrite_stopped_nothing_failed 'failed 0$' "$E2E_TMP/out"
expect_grep outage_secrets_reached 'secrets scope [^:]*: starting' "$E2E_TMP/rw.err"
kpb start >/dev/null && ok outage_plugin_b_back || not_ok outage_plugin_b_back "kmsplugin start failed"
end=$(($(date +%s) + 180))
until KUBECONFIG=$D/kubeconfig kubectl --context sandbox-cp-1 get --raw /readyz >/dev/null 2>&1; do
	[ "$(date +%s)" -gt "$end" ] && break
	sleep 1
done
expect_exit outage_rewrite_resume 0 rw --resume
expect_grep outage_resume_configmaps_not_redone 'configmaps scope [^:]*: already finished in this run' "$E2E_TMP/err"
expect_grep outage_resume_secrets_from_checkpoint 'secrets scope [^:]*: (resuming from its checkpoint|starting)' "$E2E_TMP/err"
expect_grep outage_resume_nothing_failed 'failed 0$' "$E2E_TMP/out"
expect_exit outage_etcd_all_under_b 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect sandbox-kms-b --expect-key-id "$keyb"
[ "$(data_sum)" = "$before" ] && ok outage_data_unchanged || not_ok outage_data_unchanged "checksum differs"
echo "# measure: scenario $(($(date +%s) - t_start)) s after the bad-input checks"
e2e_done
