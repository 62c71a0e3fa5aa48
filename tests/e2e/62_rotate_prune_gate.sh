#!/bin/sh
# 62_rotate_prune_gate.sh: with etcd in the plan, the rotation reads what etcd actually stores before
# pruning: a value under the old key planted straight into etcd (as a missed object, or a restored
# backup, would leave it) makes it refuse to prune (exit 4) and name the object; once the value is
# gone, resume prunes.
# control-planes: sandbox real
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

# On the real control plane with automatic reload (a second per node instead of a restart): the gate
# is reload-agnostic, and real rotations with restarts run in 60 and 61.
reload=""
is_real && reload="--reload automatic --reload-period 1"
# shellcheck disable=SC2086
sbx_up gate --apiservers 3 --secrets 200 $reload || { not_ok sandbox_up "see log"; e2e_done; }
old=$(write_key_of cp-1)
before=$(data_sum)
REKEY_TEST_CRASH_AT=verify::intent "$REKEYCTL" rotate -f "$PLAN" --state "$STATE" >/dev/null 2>&1
[ $? = 137 ] && ok stopped_before_verify || not_ok stopped_before_verify "no crash at verify::intent"
planted=/registry/secrets/default/planted-under-old-key
"$ETCDCTL" --endpoints "$(etcd_url)" put "$planted" "k8s:enc:aescbc:v1:$old:$(head -c 48 /dev/urandom | base64 -w0)" >/dev/null
expect_exit prune_refused 4 "$REKEYCTL" resume -f "$PLAN" --state "$STATE"
expect_grep prune_refusal_names_object "$planted" "$E2E_TMP/err"
kept=1
for n in cp-1 cp-2 cp-3; do grep -q "name: $old\$" "$(node_config "$n")" || kept=0; done
[ "$kept" = 1 ] && ok old_key_kept_everywhere || not_ok old_key_kept_everywhere "old key pruned somewhere"
"$ETCDCTL" --endpoints "$(etcd_url)" del "$planted" >/dev/null
expect_exit resume_prunes 0 "$REKEYCTL" resume -f "$PLAN" --state "$STATE"
check_rotated gate "$old" "$before"
e2e_done
