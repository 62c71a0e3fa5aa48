#!/bin/sh
# 52_rewrite_retry.sh: a run that ends with failed objects and orphans can be finished once they are
# fixed (issue 11 item 10). On the sandbox (3 apiservers, automatic config reload):
#   rewrite   a new aescbc write key on every node; the PUTs of one namespace fail (an injected 400,
#             not retried) and two secrets are orphaned (their namespaces deleted through the API):
#             `rewrite` exits 1; `--resume` before the fix retries them and still exits 1; after the
#             fix (fault cleared, one namespace created again, the other orphan deleted in etcd)
#             `--resume` exits 0, no failure or orphan is left and every secret is under the new key
#   rotation  the same with `rotate` (exit 4: pruning refused; the fault on every node, as its rewrite
#             spreads over them) and `resume`: an orphan that is still
#             orphaned stays recorded and keeps blocking the prune; once it is deleted, `resume`
#             finishes the rotation (every secret under the new key, the old key gone)
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh
for tool in etcdctl kubectl curl jq sqlite3; do
	if ! command -v $tool >/dev/null 2>&1; then
		skip 52_rewrite_retry "$tool not installed"
		exit 0
	fi
done

sbx_up retry --apiservers 3 --secrets 300 --namespaces 3 --reload automatic --reload-period 1 ||
	{ not_ok sandbox_up "see log"; e2e_done; }
T=$E2E_TMP
KC=$D/kubeconfig
ETCD=$(etcd_url)
N=300 # seeded secrets: ns-1..ns-3, 100 each
NODES="cp-1 cp-2 cp-3"
kc() { kubectl --kubeconfig "$KC" "$@"; }
rewrite() { "$REKEYCTL" rewrite --kubeconfig "$KC" --state "$T/state" --cluster rw "$@"; }
status() { "$REKEYCTL" status --state "$T/state" --cluster rw -o json; }

# loaded NODE: the node's apiserver reports its current config file as loaded (last_config_info).
loaded() {
	h=$("$REKEYCTL" config hash "$(node_config "$1")" | awk '{print $1}')
	curl -sf --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" \
		"$(cat "$D/nodes/$1/apiserver.url")/metrics" | grep -q "last_config_info{.*hash=\"$h\""
}
all_loaded() {
	deadline=$(($(date +%s) + 90))
	for n in $NODES; do
		until loaded "$n"; do
			[ "$(date +%s)" -ge "$deadline" ] && return 1
			sleep 0.2
		done
	done
}
# new_write_key NAME: NAME as a read key everywhere, loaded, then promoted everywhere, loaded.
new_write_key() {
	"$REKEYCTL" keygen --provider aescbc --out "$T/$1.key" >/dev/null || return 1
	for n in $NODES; do
		"$REKEYCTL" config add-key "$(node_config "$n")" --provider aescbc --key-file "$T/$1.key" --key "$1" \
			>/dev/null || return 1
	done
	all_loaded || return 1
	for n in $NODES; do "$REKEYCTL" config promote "$(node_config "$n")" --key "$1" >/dev/null || return 1; done
	all_loaded
}
# make_orphan NS: a secret NS/lost whose namespace is deleted through the API; a GET still returns it.
make_orphan() {
	printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"}}' "$1" >"$T/ns.json"
	printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"lost","namespace":"%s"},"data":{"a":"YQ=="}}' \
		"$1" >"$T/lost.json"
	kc create -f "$T/ns.json" --validate=false >/dev/null && kc create -f "$T/lost.json" --validate=false >/dev/null &&
		kc delete namespace "$1" --wait=false >/dev/null && kc get secret lost -n "$1" >/dev/null
}
# fail_puts_in NS [NODE...]: PUTs of NS answered 400 (not retried) on the nodes (default cp-1, the
# kubeconfig's server); clear_faults NODE...: every fault off.
fail_puts_in() {
	ns=$1
	shift
	for n in ${*:-cp-1}; do
		"$SANDBOX" fault --dir "$D" --node "$n" --error-ratio 1 --error-code 400 --error-verb PUT \
			--error-path "/api/v1/namespaces/$ns/" >/dev/null || return 1
	done
}
clear_faults() { for n in "$@"; do "$SANDBOX" fault --dir "$D" --node "$n" --clear >/dev/null; done; }
counts() { status | jq -c '[.counts.failed, .orphans, .state]'; }

# ---- rewrite: fail, resume before the fix (still failing), fix, resume: done ----
if new_write_key k2; then ok new_write_key_k2; else not_ok new_write_key_k2 "keys did not load"; fi
make_orphan orphan-a && make_orphan orphan-b && ok orphans_made || not_ok orphans_made "kubectl failed"
fail_puts_in ns-2 && ok put_fault_on || not_ok put_fault_on "rekey-sandbox fault failed"
expect_exit rewrite_with_failures 1 rewrite -o json
expect_grep rewrite_failures_named '"event":"rewrite.failed".*ns-2/secret-[0-9]+: .*400' "$T/err"
[ "$(counts)" = '[100,2,"failed"]' ] && ok rewrite_failures_recorded || not_ok rewrite_failures_recorded "$(counts)"
n=$(sqlite3 "$T/state/state.db" "SELECT count(*) FROM rewrite_failures WHERE namespace = 'ns-2'")
[ "$n" = 100 ] && ok rewrite_failures_by_identity || not_ok rewrite_failures_by_identity "$n rows"
expect_exit resume_before_fix 1 rewrite --resume -o json
expect_grep resume_before_fix_retried '"event":"rewrite.retry".*trying 102 object' "$T/err"
[ "$(counts)" = '[100,2,"failed"]' ] && ok resume_before_fix_unchanged || not_ok resume_before_fix_unchanged "$(counts)"
clear_faults cp-1
printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"orphan-a"}}' >"$T/ns.json"
kc create -f "$T/ns.json" --validate=false >/dev/null || not_ok orphan_a_repaired "kubectl failed"
etcdctl --endpoints "$ETCD" del /registry/secrets/orphan-b/lost >/dev/null || not_ok orphan_b_deleted "etcdctl"
expect_exit resume_after_fix 0 rewrite --resume -o json
cp "$T/out" "$T/resumed.json"
[ "$(counts)" = '[0,0,"done"]' ] && ok resume_after_fix_clean || not_ok resume_after_fix_clean "$(counts)"
got=$(jq -c '[.counts.rewritten + .counts.current + .counts.conflict, .counts.gone]' "$T/resumed.json")
[ "$got" = "[$((N + 1)),1]" ] && ok resume_counts_every_object_once || not_ok resume_counts_every_object_once "$got"
n=$(sqlite3 "$T/state/state.db" "SELECT (SELECT count(*) FROM rewrite_failures) + (SELECT count(*) FROM orphans)")
[ "$n" = 0 ] && ok resume_rows_settled || not_ok resume_rows_settled "$n rows left"
expect_exit rewrite_all_under_k2 0 "$REKEYCTL" verify --etcd "$ETCD" --resource secrets --expect k2
expect_exit rewrite_nothing_to_resume 2 rewrite --resume

# ---- rotation: fail, resume with one orphan left (refused), delete it, resume: done ----
old=$(write_key_of cp-1)
before=$(data_sum)
make_orphan orphan-c && ok orphan_c_made || not_ok orphan_c_made "kubectl failed"
fail_puts_in ns-3 $NODES # a rotation's rewrite spreads over every node's apiserver
expect_exit rotate_with_failures 4 "$REKEYCTL" rotate -f "$PLAN" --state "$STATE"
expect_grep rotate_failures_message 'rewrite finished with 100 failed objects and 1 orphans' "$T/err"
clear_faults $NODES
expect_exit resume_orphan_left 4 "$REKEYCTL" resume -f "$PLAN" --state "$STATE"
expect_grep resume_orphan_left_message 'rewrite finished with 0 failed objects and 1 orphans' "$T/err"
grep -q "name: $old\$" "$(node_config cp-1)" && ok old_key_kept_while_orphaned || not_ok old_key_kept_while_orphaned "pruned"
etcdctl --endpoints "$ETCD" del /registry/secrets/orphan-c/lost >/dev/null || not_ok orphan_c_deleted "etcdctl"
expect_exit resume_rotation_done 0 "$REKEYCTL" resume -f "$PLAN" --state "$STATE"
check_rotated retried "$old" "$before"
e2e_done
