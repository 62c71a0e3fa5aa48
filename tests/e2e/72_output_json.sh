#!/bin/sh
# 72_output_json.sh: `-o json` of plan, rotate, resume, abort, rollback, history and status on one sandbox,
# each parsed (jq, python) and checked against what happened: the preview's nodes and object count, a
# rotation killed mid-rewrite and resumed, nothing left to resume (exit 2, still one JSON object), a
# canary that does not come back (exit 3, the failed gate in the run), its rollback, an abort. fleet and
# due are parsed by 70, status --watch by 71.
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

sbx_up js --apiservers 2 --secrets 40 --namespaces 2 || { not_ok sandbox_up "see log"; e2e_done; }
expect_exit plan_json 0 "$REKEYCTL" plan -f "$PLAN" --state "$STATE" -o json
jq_ok plan_json_fields '.cluster == "sandbox" and (.nodes | map(.name)) == ["cp-1", "cp-2"] and .canary == "cp-1" and
	.objects.secrets >= 40 and .total >= 40 and .window_open == true and (.write_key | startswith("aescbc-")) and
	(.config_hash | startswith("sha256:")) and .stages[0] == "preflight" and .gates.ready_timeout_ms > 0'
# the per-rule preview: the sandbox's one rule ([secrets]) selected, its stored secrets counted
jq_ok plan_json_rules '(.rules | length) == 1 and .rules[0].selected == true and .rules[0].resources == ["secrets"] and
	.rules[0].write_key == .write_key and .rules[0].provider == "aescbc" and
	.rules[0].stored == [{"name": "secrets", "version": "v1", "objects": .objects.secrets}] and
	.rules[0].objects == .total and .total_is_lower_bound == false and .discovery_error == null'
expect_exit plan_bad_output 2 "$REKEYCTL" plan -f "$PLAN" --state "$STATE" -o yaml
expect_grep plan_bad_output_message 'plan: -o "yaml": must be json or table' "$E2E_TMP/err"

old=$(write_key_of cp-1)
REKEY_TEST_CRASH_AT=rewrite::intent "$REKEYCTL" rotate -f "$PLAN" --state "$STATE" -o json >"$E2E_TMP/out" 2>"$E2E_TMP/err"
[ $? = 137 ] && ok rotate_killed_at_rewrite || not_ok rotate_killed_at_rewrite "$(tail -n 2 "$E2E_TMP/err")"
expect_exit status_json_killed 0 "$REKEYCTL" status -f "$PLAN" --state "$STATE" -o json
jq_ok status_json_at_rewrite '.kind == "rotate" and .state == "running" and .stage.name == "rewrite" and .stage.status == "intent"'
run=$(jq -r .run "$E2E_TMP/out")

expect_exit resume_json 0 "$REKEYCTL" resume -f "$PLAN" --state "$STATE" -o json
jq_ok resume_json_fields ".command == \"resume\" and .exit_code == 0 and .error == null and .run.run == $run and
	.run.state == \"done\" and .run.rewrite.done >= 40 and (.run.nodes | all(.prune == \"done\")) and .run.old_key == \"$old\""
new=$(jq -r .run.new_key "$E2E_TMP/out")
[ "$(write_key_of cp-2)" = "$new" ] && ok resume_json_new_key_is_written || not_ok resume_json_new_key_is_written "$new"
expect_exit resume_nothing_json 2 "$REKEYCTL" resume -f "$PLAN" --state "$STATE" -o json
jq_ok resume_nothing_json_fields '.command == "resume" and .exit_code == 2 and (.error | test("no unfinished rotation"))'
expect_grep resume_nothing_stderr 'no unfinished rotation' "$E2E_TMP/err"

expect_exit history_json 0 "$REKEYCTL" history --cluster sandbox --state "$STATE" -o json
if python3 - "$E2E_TMP/out" "$new" "$old" <<'PY'; then ok history_json_parsed; else not_ok history_json_parsed "$(head -c 300 "$E2E_TMP/out")"; fi
import json, sys
doc = json.load(open(sys.argv[1]))
new, old = sys.argv[2], sys.argv[3]
events = {(k["key"], k["event"]) for k in doc["keys"]}
assert any(key == new for key, _ in events), events
assert any(key == old for key, _ in events), events
assert all(len(k["fingerprint"]) >= 16 for k in doc["keys"] if k["key"] == new), doc["keys"]
assert all(k["key_id"] is None for k in doc["keys"]), doc["keys"]  # local keys: no KMS key_id
assert any(a["action"] == "rotate" or a["action"].startswith("stage") for a in doc["audit"]), doc["audit"]
PY

# ---- a canary that does not come back: exit 3 and the failed gate in the JSON ----
sed -i "s/readyTimeout: $READY_TIMEOUT/readyTimeout: 8s/" "$PLAN"
"$SANDBOX" fault --dir "$D" --node cp-1 --fail-start >/dev/null
expect_exit rotate_json_stopped 3 "$REKEYCTL" rotate -f "$PLAN" --state "$STATE" -o json
jq_ok rotate_json_stopped_fields '.command == "rotate" and .exit_code == 3 and (.error | test("did not come back")) and
	.run.state == "stopped" and .run.stage.name == "read" and .run.stage.node == "cp-1" and .run.stage.status == "failed" and
	.run.nodes == [{"name": "cp-1", "read": "failed", "promote": "", "prune": "", "rollback": ""}]' # cp-2 never touched
stopped_run=$(jq -r .run.run "$E2E_TMP/out")
"$SANDBOX" fault --dir "$D" --node cp-1 --clear >/dev/null
sed -i "s/readyTimeout: 8s/readyTimeout: $READY_TIMEOUT/" "$PLAN"
wait_ready cp-1
expect_exit rollback_json 0 "$REKEYCTL" rollback -f "$PLAN" --state "$STATE" -o json
jq_ok rollback_json_fields ".command == \"rollback\" and .exit_code == 0 and .error == null and .run.run == $stopped_run and
	(.run.stages | map(select(.name == \"rollback\")) | length) > 0"
[ "$(write_key_of cp-1)" = "$new" ] && ok rollback_json_write_key_restored || not_ok rollback_json_write_key_restored "$(write_key_of cp-1)"

# ---- SIGTERM while the canary's gate waits: a safe point, and the message says it was the signal ----
"$SANDBOX" fault --dir "$D" --node cp-1 --fail-start >/dev/null
"$REKEYCTL" rotate -f "$PLAN" --state "$STATE" >"$E2E_TMP/sig.out" 2>"$E2E_TMP/sig.err" &
sig=$!
at_canary_gate() {
	"$REKEYCTL" status -f "$PLAN" --state "$STATE" -o json 2>/dev/null |
		jq -e '.state == "running" and .stage.name == "read" and .stage.node == "cp-1" and .stage.status == "intent"' >/dev/null
}
deadline=$(($(date +%s) + 8))
until at_canary_gate || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
at_canary_gate && ok waits_at_canary_gate || not_ok waits_at_canary_gate "$(tail -n 2 "$E2E_TMP/sig.err")"
kill -TERM "$sig"
wait "$sig"
[ $? = 3 ] && ok gate_signal_exit_3 || not_ok gate_signal_exit_3 "$(tail -n 2 "$E2E_TMP/sig.err")"
expect_grep gate_signal_named 'gate on node cp-1 stopped by a signal at a safe point' "$E2E_TMP/sig.err"
"$SANDBOX" fault --dir "$D" --node cp-1 --clear >/dev/null
wait_ready cp-1
expect_exit rollback_after_signal 0 "$REKEYCTL" rollback -f "$PLAN" --state "$STATE"

# ---- abort: a rotation killed after the canary's promotion ----
REKEY_TEST_CRASH_AT=promote:cp-1:done "$REKEYCTL" rotate -f "$PLAN" --state "$STATE" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
[ $? = 137 ] && ok rotate_killed_after_promote || not_ok rotate_killed_after_promote "$(tail -n 2 "$E2E_TMP/err")"
expect_exit abort_json 0 "$REKEYCTL" abort -f "$PLAN" --state "$STATE" -o json
jq_ok abort_json_fields '.command == "abort" and .exit_code == 0 and .error == null and .run.state == "aborted" and
	.run.nodes[0].promote == "done"'
expect_exit abort_nothing_json 2 "$REKEYCTL" abort -f "$PLAN" --state "$STATE" -o json
jq_ok abort_nothing_json_fields '.exit_code == 2 and (.error | test("no unfinished rotation")) and .run.state == "aborted"'
e2e_done
