#!/bin/sh
# 60_rotate.sh: full rotations on 3 apiservers: aescbc -> new aescbc (restart reload); then with automatic
# reload gated on last_config_info: identity -> aescbc (enable), aescbc -> new aescbc (the same plan again
# on a finished state), aescbc -> aesgcm (migrate), -> secretbox and -> identity (decrypt); after each,
# etcd live and an `etcdctl snapshot save` hold only the new key and kubectl reads every secret
# unchanged; the cluster lock refuses a second run; a closed maintenance window refuses; bad plans exit 2.
# control-planes: sandbox real
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

# rotation NAME PROVIDER: runs a rotation to PROVIDER on the current sandbox and checks the result.
rotation() {
	old=$(write_key_of cp-1)
	before=$(data_sum)
	sed -i "s/^provider: .*/provider: $2/" "$PLAN"
	expect_exit "$1_plan" 0 "$REKEYCTL" plan -f "$PLAN" --state "$STATE"
	expect_grep "$1_plan_lists_stages" 'promote: new key first on cp-1' "$E2E_TMP/out"
	expect_exit "$1_rotate" 0 "$REKEYCTL" rotate -f "$PLAN" --state "$STATE"
	# the rewrite read every apiserver's /metrics into its budget (a failed scrape is a warning)
	for n in cp-1 cp-2 cp-3; do
		expect_grep "$1_rewrite_metrics_$n" "\"event\":\"rewrite.scrape\".*\"$n: its /metrics read every 5000ms" "$E2E_TMP/err"
	done
	expect_no_grep "$1_rewrite_metrics_read" '"event":"rewrite.scrape-failed"' "$E2E_TMP/err"
	check_rotated "$1" "$old" "$before"
}

# The last part (migrate, plan paths from $HOME, the window, bad plans) has a sandbox of its own on the
# sandbox control plane, where it runs while the parts below do (mostly waiting on apiserver restarts
# and gates), its lines printed after theirs; on the real one it runs on the automatic-reload sandbox
# below (the migration between the same-plan rotation and secretbox): a real sandbox costs its start,
# and two real clusters at once would slow both. Not indented: the bad plans are multi-line strings.
mig_checks() {
# ---- aescbc -> aesgcm (migrate) ----
mig_old=$(write_key_of cp-1)
rotation migrate aesgcm
mig_new=$(write_key_of cp-1)
# history names each key with its own provider: the pruned key is the aescbc one (it used to carry
# the plan's provider, aesgcm)
expect_exit migrate_history 0 "$REKEYCTL" history --state "$STATE" -o json
got=$(jq -r --arg k "$mig_old" '[.keys[] | select(.key == $k and .event == "pruned") | .provider] | join(",")' "$E2E_TMP/out")
[ "$got" = aescbc ] && ok migrate_history_pruned_aescbc || not_ok migrate_history_pruned_aescbc "pruned $mig_old: provider '$got'"
got=$(jq -r --arg k "$mig_new" '[.keys[] | .key == $k and .provider == "aesgcm"] | any' "$E2E_TMP/out")
[ "$got" = true ] && ok migrate_history_new_aesgcm || not_ok migrate_history_new_aesgcm "$mig_new"
}

plan_checks() {

# ---- `kubeconfig: ~/.kube/config` (as examples/plan.yaml has it) and other plan paths from $HOME ----
mkdir -p "$E2E_TMP/home/.kube"
cp "$D/kubeconfig" "$E2E_TMP/home/.kube/config"
sed -e 's|^kubeconfig: .*|kubeconfig: ~/.kube/config|' -e 's|^keyBackupDir: .*|keyBackupDir: ~/key-backup|' \
	"$PLAN" >"$D/home-plan.yaml"
expect_exit plan_home_paths 0 env HOME="$E2E_TMP/home" "$REKEYCTL" plan -f "$D/home-plan.yaml" --state "$D/state-home"
expect_exit plan_home_unset 2 env -u HOME "$REKEYCTL" plan -f "$D/home-plan.yaml" --state "$D/state-home"
expect_grep plan_home_unset_message 'home-plan.yaml:[0-9]+:[0-9]+: plan.kubeconfig: "~/.kube/config" starts with ~ but HOME is not set' "$E2E_TMP/err"

# ---- a closed maintenance window refuses (exit 3) and changes nothing ----
h=$(( ($(date -u +%H | sed 's/^0//') + 12) % 24 ))
cp "$PLAN" "$D/closed.yaml"
printf 'window:\n  - {start: "%02d:00", end: "%02d:30", timezone: UTC}\n' "$h" "$h" >>"$D/closed.yaml"
sum=$(cat "$(node_config cp-1)" "$(node_config cp-2)" | sha256sum)
expect_exit outside_window_refused 3 "$REKEYCTL" rotate -f "$D/closed.yaml" --state "$D/state3"
expect_grep outside_window_message 'maintenance window' "$E2E_TMP/err"
[ "$(cat "$(node_config cp-1)" "$(node_config cp-2)" | sha256sum)" = "$sum" ] && ok outside_window_nothing_changed ||
	not_ok outside_window_nothing_changed "configs changed"

# ---- bad plans: exit 2 with file:line ----
bad_plan() {
	printf '%s\n' "$2" >"$D/bad.yaml"
	expect_exit "bad_plan_$1" 2 "$REKEYCTL" rotate -f "$D/bad.yaml" --state "$D/state4"
	expect_grep "bad_plan_$1_position" "^rekeyctl rotate: $D/bad.yaml:[0-9]+:[0-9]+: .*$3" "$E2E_TMP/err"
}
head_plan="apiVersion: rekeyctl/v1
kind: RotationPlan
cluster: c
provider: aescbc"
nodes='controlPlane:
  configPath: /x/enc.yaml
  nodes: [{name: cp-1, apiserver: "https://127.0.0.1:1"}]'
bad_plan unknown_field "$head_plan
$nodes
retries: 3" 'unknown field "retries"'
bad_plan missing_node "$head_plan
controlPlane:
  configPath: /x/enc.yaml" 'missing required field "nodes"'
bad_plan canary_not_a_node "$head_plan
$nodes
  canary: cp-9" '"cp-9" is not one of controlPlane.nodes'
bad_plan unknown_resource "$head_plan
resources: [sekrets]
$nodes" 'unknown resource "sekrets"'
bad_plan bad_timezone "$head_plan
$nodes
window: [{start: '01:00', end: '02:00', timezone: Europe/Atlantis}]" 'unknown time zone'
}
mig_part() {
	sbx_up mig --apiservers 3 --secrets 200 --reload automatic --reload-period 1 ||
		{ not_ok sandbox_up_mig "see log"; e2e_done; }
	mig_checks
	plan_checks
}
mig_part_background() {
	trap 'rot_down_all' EXIT # a subshell does not run the scenario's trap
	mig_part
}
is_real || e2e_part mig mig_part_background

# ---- aescbc -> aescbc, restart reload; a second concurrent run is refused by the lock ----
sbx_up rot --apiservers 3 --secrets 300 --namespaces 3 || { not_ok sandbox_up "see log"; e2e_done; }
# The automatic-reload sandbox of the part below starts meanwhile, in a subshell in the background (its
# start, the apiservers initialising, overlaps this part's waits on restarts); $E2E_TMP/auto.up gets
# sbx_up's exit code and directory.
(
	sbx_up auto --apiservers 3 --secrets 200 --provider identity --reload automatic --reload-period 1
	echo "$? $D" >"$E2E_TMP/auto.up"
) >"$E2E_TMP/auto-up.log" 2>&1 &
auto_up=$!
SBX_DIRS="$SBX_DIRS $E2E_TMP/auto-1 $E2E_TMP/auto-2 $E2E_TMP/auto-3"
old=$(write_key_of cp-1)
before=$(data_sum)
"$REKEYCTL" rotate -f "$PLAN" --state "$STATE" >"$E2E_TMP/first.out" 2>"$E2E_TMP/first.err" &
first=$!
# The second run talks to cp-3, the last node the first run restarts: through the canary (the plan's
# context) it may catch cp-1 restarting, which on real apiservers takes seconds (503 "apiserver is
# shutting down", then refused connections) and ends the second run with exit 1, not the lock's 4.
sed 's/^context: sandbox$/context: sandbox-cp-3/' "$PLAN" >"$D/plan-cp3.yaml"
until KUBECONFIG=$D/kubeconfig kubectl --context sandbox-cp-3 get lease -n kube-system rekeyctl-rotation-lock >/dev/null 2>&1; do
	kill -0 "$first" 2>/dev/null || break
	sleep 0.1
done
expect_exit second_rotate_refused 4 "$REKEYCTL" rotate -f "$D/plan-cp3.yaml" --state "$D/state2"
expect_grep second_rotate_names_holder 'held by [a-z]+@' "$E2E_TMP/err"
wait "$first" && ok first_rotate_done || not_ok first_rotate_done "$(tail -n 3 "$E2E_TMP/first.err")"
check_rotated rotate "$old" "$before"
expect_exit history_json 0 "$REKEYCTL" history --state "$STATE" -o json
expect_grep history_records_pruned "\"event\": \"pruned\"" "$E2E_TMP/out"
expect_no_grep history_no_secret "secret:" "$E2E_TMP/out"
"$SANDBOX" down --dir "$D" >/dev/null 2>&1

# ---- identity -> aescbc (enable) with automatic reload, ..., then -> identity (decrypt) ----
wait "$auto_up"
cat "$E2E_TMP/auto-up.log"
read -r auto_rc D <"$E2E_TMP/auto.up" || auto_rc=1
[ "$auto_rc" = 0 ] || { not_ok sandbox_up_auto "see log"; e2e_done; }
PLAN=$D/plan-test.yaml
STATE=$D/state
rotation enable aescbc
# the same plan again on the same state after a finished run: a new run, exit 0 (here, not on the
# restart sandbox above: what it proves does not depend on how the apiservers reload, and a real
# rotation by restarts costs a minute)
expect_exit rotate_again_after_done 0 "$REKEYCTL" rotate -f "$PLAN" --state "$STATE"
is_real && mig_checks
rotation secretbox secretbox
rotation decrypt identity
if is_real; then plan_checks; else e2e_part_wait mig; fi
"$SANDBOX" down --dir "$D" >/dev/null 2>&1
e2e_done
