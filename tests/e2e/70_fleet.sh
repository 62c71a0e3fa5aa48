#!/bin/sh
# 70_fleet.sh: a fleet of three sandboxes (three control planes, one state db). First a clean fleet
# rotation: the canary cluster alone, a soak, then two clusters at once; every cluster ends rotated,
# `due` finds none due. Then a second fleet whose second wave's cluster fails its canary stage (its
# canary apiserver refuses to start): that cluster stops at a resumable point, the fleet stops (exit 3),
# the third cluster is never started (its configs untouched), `fleet status` and `due` say so; after the
# repair `fleet resume` resumes the stopped cluster and rotates the third. Last, the same failure while
# the third cluster runs in the same wave: it is stopped at a safe point (keys cross-readable), and
# resume completes both. First, bad input: exit 2 with one line naming the file and line, no state.
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

# ---- bad input: exit 2, one line naming the file (and line), nothing written ----
mkdir -p "$E2E_TMP/bad"
printf 'apiVersion: rekeyctl/v1\nkind: FleetPlan\nname: bad\nclusters:\n  - plan: nope.yaml\ncanary: c1\n' >"$E2E_TMP/bad/missing.yaml"
printf 'apiVersion: rekeyctl/v1\nkind: FleetPlan\nname: bad\nclusters: [\n' >"$E2E_TMP/bad/broken.yaml"
bad_input() { # NAME PATTERN ARGS...: exit 2, PATTERN on the one line of stderr, no state dir created
	name=$1 pattern=$2
	shift 2
	expect_exit "$name" 2 "$REKEYCTL" "$@"
	[ "$(wc -l <"$E2E_TMP/err")" = 1 ] && grep -Eq -- "$pattern" "$E2E_TMP/err" && [ ! -e "$E2E_TMP/bad/state" ] &&
		ok "${name}_message" || not_ok "${name}_message" "$(head -c 300 "$E2E_TMP/err")"
}
B=$E2E_TMP/bad
bad_input due_needs_file 'due: a plan or fleet plan is required' due --state "$B/state"
bad_input due_missing_plan 'missing.yaml:5:11: .*nope.yaml: No such file' due -f "$B/missing.yaml" --state "$B/state"
bad_input due_broken_yaml 'broken.yaml:5:1: invalid YAML' due -f "$B/broken.yaml" --state "$B/state"
bad_input due_bad_max_age '--max-age "banana": must be a positive duration' due -f "$B/missing.yaml" --max-age banana
bad_input due_zero_max_age '--max-age "0s"' due -f "$B/missing.yaml" --max-age 0s
bad_input due_bad_output '-o "yaml": must be json or table' due -f "$B/missing.yaml" -o yaml
bad_input due_no_such_file 'nonexistent.yaml: No such file' due -f "$B/nonexistent.yaml" --state "$B/state"
bad_input fleet_unknown_sub 'unknown subcommand "frob"' fleet frob
bad_input fleet_rotate_needs_file 'fleet rotate: a fleet plan is required' fleet rotate --state "$B/state"
bad_input fleet_status_needs_fleet 'fleet status: -f FLEET, --fleet NAME or --run ID' fleet status --state "$B/state"
bad_input fleet_rotate_missing_plan 'missing.yaml:5:11' fleet rotate -f "$B/missing.yaml" --state "$B/state"
bad_input fleet_resume_broken 'broken.yaml:5:1: invalid YAML' fleet resume -f "$B/broken.yaml" --state "$B/state"

for i in 1 2 3; do
	sbx_up "c$i" --apiservers 2 --secrets 60 --namespaces 2 || { not_ok "sandbox_up_$i" "see log"; e2e_done; }
	eval "D$i=\$D"
	sed -e "s/^cluster: sandbox/cluster: c$i/" "$PLAN" >"$E2E_TMP/plan$i.yaml"
done
ok sandboxes_up
STATE=$E2E_TMP/state
node_cfg() { echo "$1/nodes/$2/etc/kubernetes/enc/enc.yaml"; }
wkey() { "$REKEYCTL" config show "$(node_cfg "$1" "$2")" | sed -n 's/.*write key: \([^ ]*\).*/\1/p' | head -n 1; }

cat >"$E2E_TMP/fleet-a.yaml" <<EOT
apiVersion: rekeyctl/v1
kind: FleetPlan
name: fleet-a
clusters:
  - plan: plan1.yaml
  - plan: plan2.yaml
  - plan: plan3.yaml
canary: c1
parallelism: 2
soak: 2s
EOT

# ---- before any rotation: due reads each key's time from its name ----
expect_exit due_none_before 0 "$REKEYCTL" due -f "$E2E_TMP/fleet-a.yaml" --state "$STATE" -o json
[ "$(jq -r '[.clusters[] | .source] | unique | join(",")' "$E2E_TMP/out")" = name ] && ok due_source_name ||
	not_ok due_source_name "$(cat "$E2E_TMP/out")"
for i in 1 2 3; do eval "old$i=\$(wkey \"\$D$i\" cp-1)"; done

# ---- a clean fleet rotation ----
mkdir -p "$E2E_TMP/prom"
expect_exit fleet_a_rotates 0 "$REKEYCTL" fleet rotate -f "$E2E_TMP/fleet-a.yaml" --state "$STATE" -o json --metrics-dir "$E2E_TMP/prom"
cp "$E2E_TMP/out" "$E2E_TMP/fleet-a.json"
for i in 1 2 3; do # every cluster's rotation wrote its textfile: done, and when
	f=$E2E_TMP/prom/rekeyctl-c$i.prom
	if grep -q "^rekeyctl_rotation_stage{cluster=\"c$i\",stage=\"done\",node=\"\",status=\"done\"} 1$" "$f" &&
		grep -q "^rekeyctl_rotation_last_success_timestamp_seconds{cluster=\"c$i\"} [0-9]" "$f"; then
		ok "fleet_a_c${i}_metrics"
	else
		not_ok "fleet_a_c${i}_metrics" "$(grep -v '^#' "$f" 2>&1 | head -c 300)"
	fi
done
show_logs() { for f in "$STATE"/fleet/"$1"/*.log; do echo "# $f:"; tail -n 6 "$f" | cut -c1-400 | sed 's/^/#   /'; done; }
[ "$(jq -r .state "$E2E_TMP/fleet-a.json")" = done ] || show_logs fleet-a-1
[ "$(jq -r '.state + " " + (.counts.done|tostring)' "$E2E_TMP/fleet-a.json")" = "done 3" ] && ok fleet_a_all_done ||
	not_ok fleet_a_all_done "$(head -c 300 "$E2E_TMP/fleet-a.json")"
[ "$(jq -r '[.clusters[] | .cluster + ":" + (.wave|tostring)] | join(" ")' "$E2E_TMP/fleet-a.json")" = "c1:0 c2:1 c3:1" ] &&
	ok fleet_a_waves || not_ok fleet_a_waves "$(jq -c '[.clusters[] | [.cluster, .wave]]' "$E2E_TMP/fleet-a.json")"
# Times: wave 1 started at least the soak (2 s) after the canary cluster finished, and its two
# clusters ran at the same time (each started before the other finished).
secs() { jq -r "$1" "$E2E_TMP/fleet-a.json" | sed 's/Z$//' | xargs -I{} date -u -d {} +%s.%N; }
c1_end=$(secs '.clusters[0].finished_at')
c2_start=$(secs '.clusters[1].started_at') c2_end=$(secs '.clusters[1].finished_at')
c3_start=$(secs '.clusters[2].started_at') c3_end=$(secs '.clusters[2].finished_at')
awk -v a="$c1_end" -v b="$c2_start" -v c="$c3_start" 'BEGIN { exit !(b - a >= 2 && c - a >= 2) }' &&
	ok fleet_a_soak_between_waves || not_ok fleet_a_soak_between_waves "c1 ended $c1_end, c2 started $c2_start, c3 $c3_start"
awk -v s2="$c2_start" -v e2="$c2_end" -v s3="$c3_start" -v e3="$c3_end" 'BEGIN { exit !(s2 < e3 && s3 < e2) }' &&
	ok fleet_a_parallel_in_wave || not_ok fleet_a_parallel_in_wave "c2 $c2_start-$c2_end, c3 $c3_start-$c3_end"
for i in 1 2 3; do
	eval "d=\$D$i old=\$old$i"
	new=$(wkey "$d" cp-1)
	if [ "$new" != "$old" ] && [ "$(wkey "$d" cp-2)" = "$new" ] && ! grep -q "name: $old\$" "$(node_cfg "$d" cp-1)"; then
		ok "fleet_a_c${i}_rotated"
	else
		not_ok "fleet_a_c${i}_rotated" "write key $new (was $old)"
	fi
	expect_exit "fleet_a_c${i}_etcd_under_new_key" 0 "$REKEYCTL" verify --etcd "$(cat "$d/etcd.url")" --resource secrets --expect "$new"
done
[ "$(jq -r '[.clusters[] | .run] | unique | length' "$E2E_TMP/fleet-a.json")" = 3 ] && ok fleet_a_links_three_runs ||
	not_ok fleet_a_links_three_runs "$(jq -c '[.clusters[] | .run]' "$E2E_TMP/fleet-a.json")"
expect_exit fleet_a_nothing_to_resume 2 "$REKEYCTL" fleet resume -f "$E2E_TMP/fleet-a.yaml" --state "$STATE"
expect_grep fleet_a_nothing_to_resume_message "no unfinished run" "$E2E_TMP/err"
expect_exit due_none_after 0 "$REKEYCTL" due -f "$E2E_TMP/fleet-a.yaml" --state "$STATE" --max-age 1h -o json
[ "$(jq -r '[.clusters[] | .source] | unique | join(",")' "$E2E_TMP/out")" = history ] && ok due_source_history ||
	not_ok due_source_history "$(cat "$E2E_TMP/out")"
expect_exit due_all_with_tiny_policy 1 "$REKEYCTL" due -f "$E2E_TMP/fleet-a.yaml" --state "$STATE" --max-age 1ms -o json
[ "$(jq -r .clusters_due "$E2E_TMP/out")" = 3 ] && ok due_counts_three || not_ok due_counts_three "$(cat "$E2E_TMP/out")"
expect_exit due_one_plan 1 "$REKEYCTL" due -f "$E2E_TMP/plan2.yaml" --state "$STATE" --max-age 1ms
expect_grep due_one_plan_table '^c2 +yes' "$E2E_TMP/out"

# ---- a fleet whose second cluster fails its canary stage ----
cat >"$E2E_TMP/fleet-b.yaml" <<EOT
apiVersion: rekeyctl/v1
kind: FleetPlan
name: fleet-b
clusters:
  - plan: plan1.yaml
  - plan: plan2.yaml
  - plan: plan3.yaml
canary: c1
waves:
  - count: 1
stop: {maxFailures: 0}
EOT
sed -i 's/readyTimeout: 30s/readyTimeout: 8s/' "$E2E_TMP/plan2.yaml"
for n in cp-1 cp-2; do cp "$(node_cfg "$D2" $n)" "$E2E_TMP/c2-$n.yaml"; cp "$(node_cfg "$D3" $n)" "$E2E_TMP/c3-$n.yaml"; done
"$SANDBOX" fault --dir "$D2" --node cp-1 --fail-start >/dev/null
expect_exit fleet_b_stops 3 "$REKEYCTL" fleet rotate -f "$E2E_TMP/fleet-b.yaml" --state "$STATE" -o json
cp "$E2E_TMP/out" "$E2E_TMP/fleet-b.json"
expect_grep fleet_b_names_cluster 'cluster c2 exited 3' "$E2E_TMP/err"
[ "$(jq -r '[.clusters[] | .state] | join(" ")' "$E2E_TMP/fleet-b.json")" = "done stopped pending" ] && ok fleet_b_states ||
	not_ok fleet_b_states "$(jq -c '[.clusters[] | .state]' "$E2E_TMP/fleet-b.json")"
[ "$(jq -r '.clusters[1].stage.name + ":" + .clusters[1].stage.node + " " + .clusters[1].stage.status' "$E2E_TMP/fleet-b.json")" = "read:cp-1 failed" ] &&
	ok fleet_b_c2_stopped_at_canary_gate || not_ok fleet_b_c2_stopped_at_canary_gate "$(jq -c '.clusters[1]' "$E2E_TMP/fleet-b.json")"
cmp -s "$(node_cfg "$D2" cp-2)" "$E2E_TMP/c2-cp-2.yaml" && ok fleet_b_c2_other_node_untouched || not_ok fleet_b_c2_other_node_untouched "changed"
if cmp -s "$(node_cfg "$D3" cp-1)" "$E2E_TMP/c3-cp-1.yaml" && cmp -s "$(node_cfg "$D3" cp-2)" "$E2E_TMP/c3-cp-2.yaml" &&
	[ ! -e "$STATE/fleet/fleet-b-2/c3.log" ]; then ok fleet_b_c3_never_started; else not_ok fleet_b_c3_never_started "c3 was touched"; fi
expect_exit fleet_b_status 0 "$REKEYCTL" fleet status -f "$E2E_TMP/fleet-b.yaml" --state "$STATE"
expect_grep fleet_b_status_table '^1 +c2 +stopped' "$E2E_TMP/out"
expect_exit fleet_b_due 1 "$REKEYCTL" due -f "$E2E_TMP/fleet-b.yaml" --state "$STATE" -o json
[ "$(jq -r '.clusters[] | select(.cluster == "c2") | .reason' "$E2E_TMP/out" | grep -c unfinished)" = 1 ] && ok due_names_unfinished ||
	not_ok due_names_unfinished "$(cat "$E2E_TMP/out")"
expect_exit fleet_b_rotate_again_refused 4 "$REKEYCTL" fleet rotate -f "$E2E_TMP/fleet-b.yaml" --state "$STATE"
expect_exit fleet_a_refused_while_c2_unfinished 4 "$REKEYCTL" fleet rotate -f "$E2E_TMP/fleet-a.yaml" --state "$STATE"
expect_grep fleet_a_refusal_names_c2 'cluster c2 has an unfinished rotation' "$E2E_TMP/err"

# ---- repair, then resume ----
repair_c2() {
	"$SANDBOX" fault --dir "$D2" --node cp-1 --clear >/dev/null
	wait_ready cp-1 "$D2"
}
repair_c2
expect_exit fleet_b_resumes 0 "$REKEYCTL" fleet resume -f "$E2E_TMP/fleet-b.yaml" --state "$STATE" -o json
[ "$(jq -r '[.clusters[] | .state] | join(" ")' "$E2E_TMP/out")" = "done done done" ] && ok fleet_b_all_done ||
	not_ok fleet_b_all_done "$(jq -c '[.clusters[] | .state]' "$E2E_TMP/out")"
[ "$(jq -r '.clusters[1].run' "$E2E_TMP/out")" = "$(jq -r '.clusters[1].run' "$E2E_TMP/fleet-b.json")" ] &&
	ok fleet_b_c2_same_run_resumed || not_ok fleet_b_c2_same_run_resumed "run changed"
for i in 2 3; do
	eval "d=\$D$i"
	new=$(wkey "$d" cp-1)
	expect_exit "fleet_b_c${i}_etcd_under_new_key" 0 "$REKEYCTL" verify --etcd "$(cat "$d/etcd.url")" --resource secrets --expect "$new"
done

# ---- a failure while another cluster of the same wave runs: that one is stopped at a safe point ----
# c3's rewrite is slowed (5 objects/s) so it is still running when c2's canary gate fails.
sed -i 's/qps: [0-9]*, burst: [0-9]*/qps: 5, burst: 5/' "$E2E_TMP/plan3.yaml"
sed -e 's/^name: fleet-b/name: fleet-c/' -e '/^waves:/,/count: 1/d' -e 's/^stop:/parallelism: 2\nstop:/' \
	"$E2E_TMP/fleet-b.yaml" >"$E2E_TMP/fleet-c.yaml"
"$SANDBOX" fault --dir "$D2" --node cp-1 --fail-start >/dev/null
expect_exit fleet_c_stops 3 "$REKEYCTL" fleet rotate -f "$E2E_TMP/fleet-c.yaml" --state "$STATE" -o json
cp "$E2E_TMP/out" "$E2E_TMP/fleet-c.json"
show_logs fleet-c-3
[ "$(jq -r '[.clusters[] | .state] | join(" ")' "$E2E_TMP/fleet-c.json")" = "done stopped stopped" ] && ok fleet_c_states ||
	not_ok fleet_c_states "$(jq -c '[.clusters[] | [.cluster, .state, .stage.name, .detail]]' "$E2E_TMP/fleet-c.json")"
expect_grep fleet_c_c3_stopped_by_signal 'stopped (by a signal|.*at a safe point)' "$STATE/fleet/fleet-c-3/c3.log"
[ "$(jq -r '.clusters[2].run_state' "$E2E_TMP/fleet-c.json")" = stopped ] && ok fleet_c_c3_run_resumable ||
	not_ok fleet_c_c3_run_resumable "$(jq -c '.clusters[2]' "$E2E_TMP/fleet-c.json")"
w1=$(wkey "$D3" cp-1) w2=$(wkey "$D3" cp-2)
if grep -q "name: $w1\$" "$(node_cfg "$D3" cp-2)" && grep -q "name: $w2\$" "$(node_cfg "$D3" cp-1)"; then
	ok fleet_c_c3_keys_cross_readable
else
	not_ok fleet_c_c3_keys_cross_readable "cp-1 writes $w1, cp-2 $w2"
fi
repair_c2
expect_exit fleet_c_resumes 0 "$REKEYCTL" fleet resume -f "$E2E_TMP/fleet-c.yaml" --state "$STATE" -o json
[ "$(jq -r '.state + " " + (.counts.done|tostring)' "$E2E_TMP/out")" = "done 3" ] && ok fleet_c_all_done ||
	not_ok fleet_c_all_done "$(jq -c '[.clusters[] | .state]' "$E2E_TMP/out")"
e2e_done
