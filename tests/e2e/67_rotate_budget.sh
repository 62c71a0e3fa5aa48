#!/bin/sh
# 67_rotate_budget.sh: budgets from the apiservers' own signals (docs/budget.md, "Preflight trend and
# node gates"). With latency injected into one apiserver, then 5xx, then 429, `rotate` refuses in its
# preflight trend (exit 3, the figures in the message) with nothing changed: every node config
# byte-identical, no lock or probe Lease left, no run to resume; `plan` prints the same figures per
# apiserver and says rotate would refuse. Then a rotation stopped (kill -9) just before node cp-2 is
# touched is resumed with latency injected into cp-2: cp-2's gate fails on its own figures over the soak
# (exit 3), cp-3 is never touched, and once the fault is gone `resume` finishes the rotation.
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

sbx_up budget --apiservers 3 --secrets 60 --namespaces 2 || { not_ok sandbox_up "see log"; e2e_done; }
old=$(write_key_of cp-1)
before=$(data_sum)
# a 3 s trend and soak judged on 10 requests, 500 ms / 1% budgets (the rotation plan's own defaults)
sed -e 's/^budget: .*/budget: {writeP99: 500ms, errorRatio: 0.01, window: 10s, soak: 3s, onBreach: slowdown,/' \
	-e 's/^ *preflightWindow: .*/         preflightWindow: 3s, minRequests: 10}/' "$D/plan.yaml" >"$D/plan-budget.yaml"
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
"$SANDBOX" fault --dir "$D" --node cp-2 --clear >/dev/null

# ---- preflight: 5xx on cp-3 (the budget is 1%) ----
"$SANDBOX" fault --dir "$D" --node cp-3 --error-ratio 0.4 --error-code 503 --retry-after 0 >/dev/null
expect_exit errors_refused 3 "$REKEYCTL" rotate -f "$P" --state "$STATE"
message
expect_grep errors_message_names_cp3 'over budget .*cp-3: apiserver [0-9]+ writes.*5xx [0-9.]+% > 1\.00%' "$E2E_TMP/msg"
expect_no_grep errors_cp2_not_blamed 'cp-2: apiserver' "$E2E_TMP/msg"
nothing_changed errors
"$SANDBOX" fault --dir "$D" --node cp-3 --clear >/dev/null

# ---- preflight: 429 on cp-1 (throttledRatio defaults to errorRatio) ----
"$SANDBOX" fault --dir "$D" --node cp-1 --throttle-ratio 0.3 --retry-after 0 >/dev/null
expect_exit throttled_refused 3 "$REKEYCTL" rotate -f "$P" --state "$STATE"
message
expect_grep throttled_message_names_cp1 'over budget .*cp-1: apiserver [0-9]+ writes.*429 [0-9.]+% > 1\.00%' "$E2E_TMP/msg"
nothing_changed throttled
"$SANDBOX" fault --dir "$D" --node cp-1 --clear >/dev/null

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
"$SANDBOX" fault --dir "$D" --node cp-2 --clear >/dev/null
expect_exit resume_after_fault 0 "$REKEYCTL" resume -f "$P" --state "$STATE"
check_rotated budget "$old" "$before"
leases=$(kubectl get leases -n kube-system -o name 2>&1)
case "$leases" in *rekeyctl-budget-probe*) not_ok probe_lease_gone "$leases" ;; *) ok probe_lease_gone ;; esac
e2e_done
