#!/bin/sh
# 51_rewrite_spread.sh: `rekeyctl rewrite --endpoint` spreads its PUTs over the sandbox's three apiservers,
# each watched by its own budget. Every stored secret is made stale first (a new write key on every node),
# so each PUT is a real etcd write. Then, with one apiserver slow (500 ms per request) and one failing
# (every API request answered 503):
#   the run completes (exit 0) with every object rewritten once and every value in etcd under the new key;
#   the healthy apiserver takes the largest share, the slow and the failing ones smaller shares (the
#   spread sends few PUTs to a slow apiserver before any budget has to act);
#   the budget decides per apiserver: the failing one is slowed down by name (its error ratio), the healthy
#   one never (the p99 budget is 5 s, so a loaded machine's slow answers from the healthy one are no
#   reason to slow it: the test is about errors judged per apiserver, not about this machine's load);
#   retries of the failing apiserver's PUTs went elsewhere (no object failed).
# Also: a rotation plan's nodes are the endpoints of its rewrite (60_rotate checks the rotation), and bad
# --endpoint values are refused with exit 2.
# e2e: alone (its latency budgets and timeouts are the subject: tests/run.sh runs it by itself)
. tests/e2e/lib.sh
: "${SANDBOX:?SANDBOX must name the rekey-sandbox binary}"
for tool in etcd etcdctl python3 awk; do
	if ! command -v $tool >/dev/null 2>&1; then
		skip 51_rewrite_spread "$tool not installed"
		exit 0
	fi
done
. tests/bench/stale.sh
T=$E2E_TMP
D=$T/sbx
N=${SPREAD_SECRETS:-3000}
CHECK="python3 tests/e2e/tools/rewrite_check.py"
export ETCDCTL_API=3

e2e_sandbox_up "$D" --apiservers 3 --secrets "$N" --namespaces 6
KC=$D/kubeconfig
ETCD=$(cat "$D/etcd.url")
url_of() { python3 -c "import json,sys; print([n['url'] for n in json.load(open(sys.argv[1]))['nodes'] if n['name'] == sys.argv[2]][0])" "$D/sandbox.json" "$1"; }
U1=$(url_of cp-1)
U2=$(url_of cp-2)
U3=$(url_of cp-3)
json_field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1" "$2"; }
rewrite() { "$REKEYCTL" rewrite --kubeconfig "$KC" --state "$T/state" "$@"; }

# ---- bad input: exit 2, nothing changed ----
expect_exit bad_endpoint_scheme 2 rewrite --cluster bad --endpoint ftp://127.0.0.1:1
expect_grep bad_endpoint_scheme_message 'endpoint "ftp://127.0.0.1:1": not an http:// or https:// URL' "$E2E_TMP/err"
expect_exit bad_endpoint_twice 2 rewrite --cluster bad --endpoint "$U1" --endpoint "$U1"
expect_grep bad_endpoint_twice_message 'given twice' "$E2E_TMP/err"
expect_exit bad_endpoint_empty 2 rewrite --cluster bad --endpoint ""
[ ! -e "$T/state/state.db" ] || [ "$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from runs').fetchone()[0])" "$T/state/state.db")" = 0 ] &&
	ok bad_endpoint_nothing_recorded || not_ok bad_endpoint_nothing_recorded "a run was recorded"

# ---- stale objects, one slow and one failing apiserver ----
if sandbox_new_write_key "$D" k2; then ok new_write_key; else not_ok new_write_key "$(cat "$D/stale.status")"; fi
"$SANDBOX" fault --dir "$D" --node cp-2 --latency-ms 500 >/dev/null &&
	"$SANDBOX" fault --dir "$D" --node cp-3 --error-ratio 1 --error-code 503 >/dev/null && ok faults_on ||
	not_ok faults_on "fault failed"
expect_exit spread_completes 0 rewrite --cluster spread -o json --concurrency 12 --endpoint "$U1" --endpoint "$U2" \
	--endpoint "$U3" --budget-p99 5s --budget-errors 0.5 --budget-window 5s --soak 2s
cp "$E2E_TMP/out" "$T/spread.json"
cp "$E2E_TMP/err" "$T/spread.err"
"$SANDBOX" fault --dir "$D" --node cp-2 --clear >/dev/null
"$SANDBOX" fault --dir "$D" --node cp-3 --clear >/dev/null
got=$(json_field "$T/spread.json" '(d["counts"]["rewritten"], d["counts"]["failed"], d["counts"]["conflict"], len(d["endpoints"]))')
[ "$got" = "($N, 0, 0, 3)" ] && ok spread_every_object_once || not_ok spread_every_object_once "$got"
got=$(etcdctl --endpoints "$ETCD" get --prefix /registry/secrets/ -w json | $CHECK prefix k2 2>"$T/others")
[ "$got" = "total $N under $N other 0" ] && ok spread_all_under_new_key || not_ok spread_all_under_new_key "$got"
# shares: attempts per endpoint (the failing one's are all errors, retried elsewhere)
a1=$(json_field "$T/spread.json" 'd["endpoints"][0]["attempts"] - d["endpoints"][0]["errors"]')
a2=$(json_field "$T/spread.json" 'd["endpoints"][1]["attempts"] - d["endpoints"][1]["errors"]')
a3=$(json_field "$T/spread.json" 'd["endpoints"][2]["attempts"]')
e3=$(json_field "$T/spread.json" 'd["endpoints"][2]["errors"]')
echo "# answered: healthy $a1, slow $a2; failing: $a3 attempts, $e3 errors"
[ "$a1" -gt $((a2 * 2)) ] && ok spread_slow_takes_less || not_ok spread_slow_takes_less "healthy $a1, slow $a2"
[ "$a3" = "$e3" ] && [ "$a1" -gt $((a3 * 2)) ] && ok spread_failing_takes_less ||
	not_ok spread_failing_takes_less "healthy $a1, failing $a3 attempts ($e3 errors)"
[ "$((a1 + a2))" = "$N" ] && ok spread_answers_add_up || not_ok spread_answers_add_up "$a1 + $a2 != $N"
# the budget watched each apiserver on its own
expect_grep spread_budget_failing_apiserver "\"event\":\"rewrite.budget\".*$U3: .*error" "$T/spread.err"
expect_no_grep spread_budget_spares_healthy "\"msg\":\"$U1: " "$T/spread.err"
got=$(json_field "$T/spread.json" '(d["endpoints"][0]["decisions"], d["endpoints"][2]["decisions"] > 0, d["endpoints"][2]["min_health"] < 0.5)')
[ "$got" = "(0, True, True)" ] && ok spread_decisions_per_endpoint || not_ok spread_decisions_per_endpoint "$got"
e2e_done
