#!/bin/sh
# 67_rotate_budget.sh: budgets from the apiservers' own signals (docs/budget.md, "Preflight trend and
# node gates"). With the kubeconfig's apiserver answering 429 to every request, the cluster lock's tries
# run out and `rotate` stops with exit 3 ("try again later"), nothing written (configs, etcd, state db);
# the same when only the preflight's permission reviews are throttled.
# With latency injected into one apiserver, then 5xx, then 429, `rotate` refuses in its
# preflight trend (exit 3, the figures in the message) with nothing changed: every node config
# byte-identical, no lock or probe Lease left, no run to resume; `plan` prints the same figures per
# apiserver and says rotate would refuse. Then a rotation stopped (kill -9) just before node cp-2 is
# touched is resumed with latency injected into cp-2, then with 5xx: each time cp-2's gate fails on its own
# figures over the soak (exit 3) and cp-3 is never touched. Then the rotation's rewrite (which reads every
# apiserver's /metrics by default) runs while another client's configmap writes through cp-2 are answered
# 503 and rekeyctl's own secret PUTs are served: cp-2 is slowed down on its own 5xx ratio, the decisions
# are stored with their signal, and `status` names it; once the fault is gone `resume` finishes.
# e2e: alone (its latency budgets and timeouts are the subject: tests/run.sh runs it by itself)
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

sbx_up budget --apiservers 3 --secrets 60 --namespaces 2 || { not_ok sandbox_up "see log"; e2e_done; }
old=$(write_key_of cp-1)
before=$(data_sum)
# a 3 s trend and soak judged on 10 requests, 500 ms / 1% budgets (the rotation plan's own defaults)
sed -e 's/^budget: .*/budget: {writeP99: 500ms, errorRatio: 0.01, window: 10s, soak: 3s, onBreach: slowdown,/' \
	-e 's/^ *preflightWindow: .*/         preflightWindow: 3s, minRequests: 10, scrapeInterval: 1s}/' \
	-e 's/^rewrite: .*/rewrite: {qps: 6, burst: 6, concurrency: 4, pageSize: 500, batchSize: 20}/' \
	"$D/plan.yaml" >"$D/plan-budget.yaml"
sed -i 's/^controlPlane:/controlPlane:\n  readyTimeout: 30s/' "$D/plan-budget.yaml"
P=$D/plan-budget.yaml
export KUBECONFIG=$D/kubeconfig
for n in cp-1 cp-2 cp-3; do cp "$(node_config "$n")" "$E2E_TMP/base-$n.yaml"; done

# message: the error line rekeyctl ended with (the log lines before it name every apiserver).
message() { grep '^rekeyctl [a-z]*: ' "$E2E_TMP/err" >"$E2E_TMP/msg"; }

# nothing_changed NAME: every node config byte-identical, no Lease of ours, no run left to resume.
nothing_changed() {
	same=1
	for n in cp-1 cp-2 cp-3; do cmp -s "$(node_config "$n")" "$E2E_TMP/base-$n.yaml" || same=0; done
	[ "$same" = 1 ] && ok "$1_configs_identical" || not_ok "$1_configs_identical" "a node config changed"
	leases=$(kubectl get leases -n kube-system -o name 2>&1)
	case "$leases" in
	*rekeyctl-rotation-lock* | *rekeyctl-budget-probe*) not_ok "$1_no_lease_left" "$leases" ;;
	*) ok "$1_no_lease_left" ;;
	esac
	expect_exit "$1_nothing_to_resume" 2 "$REKEYCTL" resume -f "$P" --state "$STATE"
}

# ---- cluster lock: the kubeconfig's apiserver (cp-1) answers 429 to every request: the lock's tries run
# out and rotate stops safely (exit 3, "try again later"), not a failure (exit 1); nothing written: node
# configs, etcd's stored bytes, the state db's history ----
etcd_bytes() { "$ETCDCTL" --endpoints "$(etcd_url)" get /registry/secrets --prefix | sha256sum | cut -d' ' -f1; }
stored_before=$(etcd_bytes)
# throttled_wrote_nothing NAME: etcd's stored secrets, the state db's history and the node configs are as
# they were before the throttled rotations
throttled_wrote_nothing() {
	[ "$(etcd_bytes)" = "$stored_before" ] && ok "$1_etcd_unchanged" || not_ok "$1_etcd_unchanged" "stored secrets changed"
	"$REKEYCTL" history --state "$STATE" -o json >"$E2E_TMP/history-after.json" 2>&1
	cmp -s "$E2E_TMP/history-before.json" "$E2E_TMP/history-after.json" && ok "$1_state_unchanged" ||
		not_ok "$1_state_unchanged" "$(diff "$E2E_TMP/history-before.json" "$E2E_TMP/history-after.json" | head -n 5)"
	nothing_changed "$1"
}
"$REKEYCTL" history --state "$STATE" -o json >"$E2E_TMP/history-before.json" 2>&1
"$SANDBOX" fault --dir "$D" --node cp-1 --throttle-ratio 1 --retry-after 0 >/dev/null
expect_exit lock_throttled_stops 3 "$REKEYCTL" rotate -f "$P" --state "$STATE"
message
expect_grep lock_throttled_message '^rekeyctl rotate: cluster lock: the apiserver kept throttling \(429\) for 6 tries: nothing was changed; try again later \(GET https://[^ ]*/leases/rekeyctl-rotation-lock: gave up after 6 attempts .*429' "$E2E_TMP/msg"
"$SANDBOX" fault --dir "$D" --node cp-1 --clear >/dev/null
throttled_wrote_nothing lock_throttled
# the same in the preflight: the lock is taken, then every permission review (SelfSubjectAccessReview)
# is answered 429: exit 3 naming the preflight, the lock released, nothing written
"$SANDBOX" fault --dir "$D" --node cp-1 --error-ratio 1 --error-code 429 --error-path /apis/authorization.k8s.io/ --retry-after 0 >/dev/null
expect_exit preflight_throttled_stops 3 "$REKEYCTL" rotate -f "$P" --state "$STATE"
message
expect_grep preflight_throttled_message '^rekeyctl rotate: preflight: the apiserver kept throttling \(429\) for 6 tries: nothing was changed; try again later \(POST https://[^ ]*/selfsubjectaccessreviews: gave up after 6 attempts .*429' "$E2E_TMP/msg"
"$SANDBOX" fault --dir "$D" --node cp-1 --clear >/dev/null
throttled_wrote_nothing preflight_throttled

# ---- preflight: latency on cp-2 ----
"$SANDBOX" fault --dir "$D" --node cp-2 --latency-ms 1200 >/dev/null
expect_exit latency_refused 3 "$REKEYCTL" rotate -f "$P" --state "$STATE"
message
expect_grep latency_message_names_cp2 '^rekeyctl rotate: preflight: the control plane is over budget over the last 3s, nothing was changed: cp-2: apiserver [0-9]+ writes.*p99 1[0-9]{3}\.[0-9] ms' "$E2E_TMP/msg"
expect_grep latency_message_client_too 'cp-2: .*; client [0-9]+ probes.*> 500 ms' "$E2E_TMP/msg"
expect_no_grep latency_cp1_not_blamed 'cp-1: apiserver' "$E2E_TMP/msg"
nothing_changed latency
expect_exit plan_reports 0 "$REKEYCTL" plan -f "$P" --state "$STATE"
expect_grep plan_trend_header 'budget trend over 3s \(p99 <= 500 ms, 5xx <= 1.00%, 429 <= 1.00%, judged on >= 10 requests\)' "$E2E_TMP/out"
expect_grep plan_cp1_ok '^  ok cp-1: apiserver [0-9]+ writes' "$E2E_TMP/out"
expect_grep plan_cp2_over '^  OVER BUDGET \((client-latency,)?server-p99\) cp-2: apiserver' "$E2E_TMP/out"
expect_grep plan_would_refuse 'rotate would refuse now: over budget' "$E2E_TMP/out"
# the same figures in plan -o json (budget_trend)
expect_exit plan_json 0 "$REKEYCTL" plan -f "$P" --state "$STATE" -o json
jq -e '.budget_trend.window_ms == 3000 and .budget_trend.limits.p99_ms == 500 and .budget_trend.over_budget' "$E2E_TMP/out" >/dev/null &&
	ok plan_json_trend || not_ok plan_json_trend "$(cat "$E2E_TMP/out")"
jq -e '.budget_trend.nodes[] | select(.node == "cp-2") | .over_budget and (.signals | index("server-p99")) and .server.writes > 0' "$E2E_TMP/out" >/dev/null &&
	ok plan_json_cp2_over || not_ok plan_json_cp2_over "$(cat "$E2E_TMP/out")"
jq -e '.budget_trend.nodes[] | select(.node == "cp-1") | (.over_budget | not) and .signals == [] and .client.probes > 0' "$E2E_TMP/out" >/dev/null &&
	ok plan_json_cp1_ok || not_ok plan_json_cp1_ok "$(cat "$E2E_TMP/out")"
"$SANDBOX" fault --dir "$D" --node cp-2 --clear >/dev/null

# ---- preflight: 5xx on cp-3 (the budget is 1%) ----
"$SANDBOX" fault --dir "$D" --node cp-3 --error-ratio 0.6 --error-code 503 --retry-after 0 >/dev/null
expect_exit errors_refused 3 "$REKEYCTL" rotate -f "$P" --state "$STATE"
message
expect_grep errors_message_names_cp3 'over budget .*cp-3: apiserver [0-9]+ writes.*5xx [0-9.]+% > 1\.00%' "$E2E_TMP/msg"
expect_no_grep errors_cp2_not_blamed 'cp-2: apiserver' "$E2E_TMP/msg"
nothing_changed errors
"$SANDBOX" fault --dir "$D" --node cp-3 --clear >/dev/null

# ---- preflight: 429 on cp-2 (throttledRatio defaults to errorRatio; 60% so that ten writes miss it
# with a chance of 0.4^10, where 30% left 3% of runs without one 429). Not cp-1: the kubeconfig's
# apiserver also serves the cluster lock, whose six tries all got 429 in one run of ~20 (exit 1 before
# the preflight had judged anything) ----
"$SANDBOX" fault --dir "$D" --node cp-2 --throttle-ratio 0.6 --retry-after 0 >/dev/null
expect_exit throttled_refused 3 "$REKEYCTL" rotate -f "$P" --state "$STATE"
message
expect_grep throttled_message_names_cp2 'over budget .*cp-2: apiserver [0-9]+ writes.*429 [0-9.]+% > 1\.00%' "$E2E_TMP/msg"
nothing_changed throttled
"$SANDBOX" fault --dir "$D" --node cp-2 --clear >/dev/null

# ---- node gate: latency on cp-2 during its soak ----
REKEY_TEST_CRASH_AT=read:cp-2:intent "$REKEYCTL" rotate -f "$P" --state "$STATE" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
rc=$?
[ "$rc" = 137 ] && ok stopped_before_cp2 || not_ok stopped_before_cp2 "exit $rc: $(tail -n 2 "$E2E_TMP/err")"
expect_grep healthy_preflight_passed '"event":"preflight.passed".*within budget' "$E2E_TMP/err"
"$SANDBOX" fault --dir "$D" --node cp-2 --latency-ms 1200 >/dev/null
expect_exit gate_fails 3 "$REKEYCTL" resume -f "$P" --state "$STATE"
message
expect_grep gate_message '^rekeyctl resume: gate: node cp-2 broke the budget while soaking for 3s: cp-2: apiserver [0-9]+ writes.*p99 1[0-9]{3}\.[0-9] ms( > 500 ms|.*> 1\.00%).*no further node was touched' "$E2E_TMP/msg"
expect_grep gate_logged '"event":"gate.soak".*cp-2: apiserver' "$E2E_TMP/err"
cmp -s "$(node_config cp-3)" "$E2E_TMP/base-cp-3.yaml" && ok gate_left_cp3_alone || not_ok gate_left_cp3_alone "cp-3 config changed"
cmp -s "$(node_config cp-2)" "$E2E_TMP/base-cp-2.yaml" && not_ok gate_cp2_was_written "cp-2 untouched" || ok gate_cp2_was_written
cross_readable && ok gate_invariant || not_ok gate_invariant "a write key is unreadable somewhere"

# ---- node gate: 5xx on cp-2 during its soak ----
"$SANDBOX" fault --dir "$D" --node cp-2 --error-ratio 0.4 --error-code 503 --retry-after 0 >/dev/null
expect_exit gate_fails_on_5xx 3 "$REKEYCTL" resume -f "$P" --state "$STATE"
message
expect_grep gate_5xx_message '^rekeyctl resume: gate: node cp-2 broke the budget while soaking for 3s: cp-2: apiserver [0-9]+ writes.*5xx [0-9.]+% > 1\.00%.*no further node was touched' "$E2E_TMP/msg"
cmp -s "$(node_config cp-3)" "$E2E_TMP/base-cp-3.yaml" && ok gate_5xx_left_cp3_alone || not_ok gate_5xx_left_cp3_alone "cp-3 config changed"
"$SANDBOX" fault --dir "$D" --node cp-2 --clear >/dev/null

# ---- the rotation's rewrite: another client's writes through cp-2 fail (5xx), ours are served ----
REKEY_TEST_CRASH_AT=rewrite::intent "$REKEYCTL" resume -f "$P" --state "$STATE" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
rc=$?
[ "$rc" = 137 ] && ok stopped_before_rewrite || not_ok stopped_before_rewrite "exit $rc: $(tail -n 2 "$E2E_TMP/err")"
"$SANDBOX" fault --dir "$D" --node cp-2 --error-path /api/v1/namespaces/default/configmaps --error-ratio 1 --error-code 503 --retry-after 0 >/dev/null
# other_client: creates configmaps through cp-2 until told to stop (a load, paced; not a wait).
other_client() {
	url=$(cat "$D/nodes/cp-2/apiserver.url")
	i=0
	while [ ! -e "$E2E_TMP/stop-other" ]; do
		i=$((i + 1))
		curl -s -o /dev/null -w '%{http_code}\n' --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" \
			--key "$D/pki/admin.key" -H 'Content-Type: application/json' -X POST \
			-d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"other-$i\"}}" \
			"$url/api/v1/namespaces/default/configmaps" >>"$E2E_TMP/other-codes"
		sleep 0.1
	done
}
other_client &
other=$!
# stopped (kill -9 at verify's intent) once the rewrite is done: the prune gates that follow judge the
# nodes again, and cp-2 would rightly fail its gate on the other client's 5xx
REKEY_TEST_CRASH_AT=verify::intent "$REKEYCTL" resume -f "$P" --state "$STATE" >"$E2E_TMP/out" 2>"$E2E_TMP/rw-err"
rc=$?
touch "$E2E_TMP/stop-other"
wait "$other"
[ "$rc" = 137 ] && ok rewrite_done_under_5xx || not_ok rewrite_done_under_5xx "exit $rc: $(tail -n 2 "$E2E_TMP/rw-err")"
grep -q '^503$' "$E2E_TMP/other-codes" && ok other_client_failed || not_ok other_client_failed "$(sort "$E2E_TMP/other-codes" | uniq -c)"
expect_grep rewrite_slowed_cp2_on_5xx '"event":"rewrite.budget".*cp-2: slowdown: apiserver 5xx [0-9.]+% of [0-9]+ writes( \([0-9.]+% padded to 10\))? > budget 1\.00%' "$E2E_TMP/rw-err"
sqlite3 "$STATE/state.db" "SELECT decision, signal, reason FROM budget_decisions" >"$E2E_TMP/decisions"
expect_grep decision_signal_stored '^slowdown\|5xx\|cp-2: slowdown: apiserver 5xx' "$E2E_TMP/decisions"
sed "s/^/# decision: /" "$E2E_TMP/decisions"
if grep '|5xx|' "$E2E_TMP/decisions" | grep -qv '|cp-2: '; then
	not_ok only_cp2_blamed "$(cat "$E2E_TMP/decisions")"
else
	ok only_cp2_blamed
fi
"$SANDBOX" fault --dir "$D" --node cp-2 --clear >/dev/null
expect_exit resume_after_fault 0 "$REKEYCTL" resume -f "$P" --state "$STATE"
expect_exit status_text 0 "$REKEYCTL" status --cluster sandbox --state "$STATE"
expect_grep status_names_rotation '^cluster sandbox  rotation run [0-9]+  done' "$E2E_TMP/out"
expect_grep status_names_signal '^  signals   (.*, )?slowdown by 5xx x[0-9]+' "$E2E_TMP/out"
expect_exit status_json 0 "$REKEYCTL" status --cluster sandbox --state "$STATE" -o json
expect_grep status_json_signal '"budget_signals":\[.*\{"decision":"slowdown","signal":"5xx","count":[1-9]' "$E2E_TMP/out"
check_rotated budget "$old" "$before"
leases=$(kubectl get leases -n kube-system -o name 2>&1)
case "$leases" in *rekeyctl-budget-probe*) not_ok probe_lease_gone "$leases" ;; *) ok probe_lease_gone ;; esac
e2e_done
