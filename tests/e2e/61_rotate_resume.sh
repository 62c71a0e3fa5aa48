#!/bin/sh
# 61_rotate_resume.sh: kill -9 of rekeyctl inside every stage (at least 3 points each), each followed by
# `resume`; after every kill no node runs a config whose write key another node cannot read, and the
# run ends in the same final state as an uninterrupted one. Then a canary whose apiserver does not come
# back stops the rollout (exit 3) with no other node changed, and `rollback` restores the config.
# On the real control plane every kill point whose resume restarts apiservers costs seconds per
# restart, so it runs one point per stage (12 instead of 30, the ones that leave a node mid-change);
# the canary there is refused by the real kube-apiserver itself (fault --fail-start on a real node gives
# it a config with a 15-byte aescbc key).
# control-planes: sandbox real
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

sbx_up res --apiservers 3 --secrets 300 --namespaces 3 || { not_ok sandbox_up "see log"; e2e_done; }
old=$(write_key_of cp-1)
before=$(data_sum)
points="preflight::intent preflight::ran preflight::done stage-key::intent stage-key::derived stage-key::done
read:cp-1:intent read:cp-2:written read:cp-3:done
promote:cp-1:intent promote:cp-1:written promote:cp-1:done probe::intent probe::ran
promote:cp-2:written promote:cp-3:done
rewrite::intent rewrite::midway rewrite::ran rewrite::done verify::intent verify::ran verify::done
prune:cp-1:intent prune:cp-2:written prune:cp-3:done done::intent done::ran"
is_real && points="preflight::ran stage-key::derived read:cp-1:intent read:cp-2:written
promote:cp-1:written probe::ran promote:cp-3:done rewrite::midway verify::ran
prune:cp-1:intent prune:cp-2:written done::ran"
cmd=rotate
for point in $points; do
	REKEY_TEST_CRASH_AT=$point "$REKEYCTL" "$cmd" -f "$PLAN" --state "$STATE" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	if [ "$rc" = 137 ]; then ok "killed_at_$point"; else not_ok "killed_at_$point" "exit $rc: $(tail -n 2 "$E2E_TMP/err")"; fi
	if cross_readable; then ok "invariant_after_$point"; else not_ok "invariant_after_$point" "a write key is unreadable somewhere"; fi
	cmd=resume
done
expect_exit resume_to_the_end 0 "$REKEYCTL" resume -f "$PLAN" --state "$STATE"
check_rotated resumed "$old" "$before"
expect_exit nothing_left_to_resume 2 "$REKEYCTL" resume -f "$PLAN" --state "$STATE"

# ---- a canary that does not come back: exit 3, no other node touched; rollback restores ----
for n in cp-1 cp-2 cp-3; do cp "$(node_config "$n")" "$E2E_TMP/base-$n.yaml"; done
sed -i "s/readyTimeout: $READY_TIMEOUT/readyTimeout: 8s/" "$PLAN"
"$SANDBOX" fault --dir "$D" --node cp-1 --fail-start >/dev/null
expect_exit canary_failure_stops 3 "$REKEYCTL" rotate -f "$PLAN" --state "$STATE"
expect_grep canary_failure_message 'node cp-1 did not come back' "$E2E_TMP/err"
is_real && expect_grep canary_refused_by_kube_apiserver 'command failed.*secret is not of the expected length' "$D/nodes/cp-1/apiserver.log"
for n in cp-2 cp-3; do
	cmp -s "$(node_config "$n")" "$E2E_TMP/base-$n.yaml" && ok "canary_failure_left_${n}_alone" ||
		not_ok "canary_failure_left_${n}_alone" "config changed"
done
cmp -s "$(node_config cp-1)" "$E2E_TMP/base-cp-1.yaml" && not_ok canary_was_changed "cp-1 untouched?" || ok canary_was_changed
"$SANDBOX" fault --dir "$D" --node cp-1 --clear >/dev/null
# The short timeout only made the canary fail fast: the rollback's own restart of cp-1 gets the usual one
# (a real apiserver under load can take longer than 8 s to come back).
sed -i "s/readyTimeout: 8s/readyTimeout: $READY_TIMEOUT/" "$PLAN"
# The operator fixes the canary first; the kubelet brings it back after its crash-loop backoff.
wait_ready cp-1
expect_exit rollback_restores 0 "$REKEYCTL" rollback -f "$PLAN" --state "$STATE"
cmp -s "$(node_config cp-1)" "$E2E_TMP/base-cp-1.yaml" && ok rollback_canary_config_restored ||
	not_ok rollback_canary_config_restored "cp-1 differs from its config before the rotation"
expect_exit rollback_nothing_left 2 "$REKEYCTL" rollback -f "$PLAN" --state "$STATE"
e2e_done
