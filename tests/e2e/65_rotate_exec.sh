#!/bin/sh
# 65_rotate_exec.sh: a full rotation with `access: exec`: the plan's hooks are small shell scripts
# that copy configs out of and into the sandbox's node directories (read, write) and bump the
# static-pod manifest (restart), as a user's scripts would over their own tooling; the rotation ends
# verified in etcd. A hook that hangs is killed at controlPlane.exec.timeout and stops the run (exit 3).
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

sbx_up exec --apiservers 3 --secrets 150 --namespaces 3 || { not_ok sandbox_up "see log"; e2e_done; }
old=$(write_key_of cp-1)
before=$(data_sum)
H=$E2E_TMP/hooks
mkdir -p "$H"
# every hook finds the node's files under the sandbox, by $RK_NODE only
cat >"$H/read.sh" <<HOOK
cp "$D/nodes/\$RK_NODE/etc/kubernetes/enc/enc.yaml" "\$RK_CONFIG_FILE"
echo "\$RK_NODE" >>"$H/reads.log"
HOOK
cat >"$H/write.sh" <<HOOK
set -e
dst=$D/nodes/\$RK_NODE/etc/kubernetes/enc/enc.yaml
cp "\$RK_CONFIG_FILE" "\$dst.hook-tmp" && chmod 600 "\$dst.hook-tmp" && mv "\$dst.hook-tmp" "\$dst"
echo "\$RK_NODE" >>"$H/writes.log"
HOOK
cat >"$H/restart.sh" <<HOOK
set -e
m=$D/nodes/\$RK_NODE/etc/kubernetes/manifests/kube-apiserver.yaml
sed -e '/rekeyctl.io\/config-hash:/d' -e "s|^  annotations:\\\$|  annotations:\\n    rekeyctl.io/config-hash: \"\$RK_CONFIG_HASH\"|" "\$m" >"$H/manifest-\$RK_NODE.tmp"
mv "$H/manifest-\$RK_NODE.tmp" "\$m"
HOOK
sed -e 's/^  access: local/  access: exec/' \
	-e "s|^controlPlane:|controlPlane:\n  exec: {read: 'sh $H/read.sh', write: 'sh $H/write.sh', restart: 'sh $H/restart.sh', timeout: 20s}|" \
	"$PLAN" >"$D/plan-exec.yaml"

expect_exit exec_plan 0 "$REKEYCTL" plan -f "$D/plan-exec.yaml" --state "$STATE"
[ "$(sort -u "$H/reads.log" | tr '\n' ' ')" = "cp-1 cp-2 cp-3 " ] && ok exec_preflight_read_every_node ||
	not_ok exec_preflight_read_every_node "$(cat "$H/reads.log")"
expect_exit exec_rotate 0 "$REKEYCTL" rotate -f "$D/plan-exec.yaml" --state "$STATE"
check_rotated exec "$old" "$before"
# read + promote + prune on every node: three writes each, all through the hook
[ "$(grep -c . "$H/writes.log")" = 9 ] && ok exec_every_write_through_the_hook || not_ok exec_every_write_through_the_hook "$(tr '\n' ' ' <"$H/writes.log")"
for n in cp-1 cp-2 cp-3; do
	[ "$(stat -c %a "$(node_config "$n")")" = 600 ] || not_ok "exec_${n}_config_0600" "$(stat -c %a "$(node_config "$n")")"
done

# ---- a write hook that hangs: killed at the timeout, the run stops (exit 3), nothing else touched ----
for n in cp-1 cp-2 cp-3; do cp "$(node_config "$n")" "$E2E_TMP/base-$n.yaml"; done
sed -e "s|write: 'sh $H/write.sh'|write: 'sleep 300 \\& echo \$! >$H/hang.pid; wait'|" -e 's/timeout: 20s/timeout: 2s/' "$D/plan-exec.yaml" >"$D/plan-hang.yaml"
start=$(date +%s)
expect_exit hanging_hook_stops 3 "$REKEYCTL" rotate -f "$D/plan-hang.yaml" --state "$STATE"
took=$(($(date +%s) - start))
expect_grep hanging_hook_named 'exec write hook for node cp-1 did not finish within 2s' "$E2E_TMP/err"
[ "$took" -lt 20 ] && ok hanging_hook_bounded || not_ok hanging_hook_bounded "took ${took}s"
# the hook's own child (not any `sleep 300` of another user of this machine) is gone or a zombie
hang=$(cat "$H/hang.pid" 2>/dev/null)
state=$(awk '{print $3}' "/proc/$hang/stat" 2>/dev/null)
[ -n "$hang" ] && { [ -z "$state" ] || [ "$state" = Z ]; } && ok hanging_hook_killed || not_ok hanging_hook_killed "pid '$hang' state '$state'"
same=1
for n in cp-1 cp-2 cp-3; do cmp -s "$(node_config "$n")" "$E2E_TMP/base-$n.yaml" || same=0; done
[ "$same" = 1 ] && ok hanging_hook_changed_nothing || not_ok hanging_hook_changed_nothing "a config changed"
expect_exit hanging_run_aborted 0 "$REKEYCTL" abort -f "$D/plan-hang.yaml" --state "$STATE"
e2e_done
