#!/bin/sh
# 50_rewrite.sh: `rekeyctl rewrite` and `rekeyctl status` on the sandbox (3 apiservers, a thousand
# secrets: REWRITE_SECRETS; basic, kill -9, writer and compaction on one sandbox while orphan, SIGINT
# and budget run on a second one at the same time). Each part promotes a new aescbc key on every node (rekeyctl config add-key/promote, then a
# manifest annotation bump so the kubelet emulation restarts each apiserver, waiting until every node
# serves the new config hash) and then rewrites:
#   basic      every value in etcd under the new key (etcdctl, by prefix), data unchanged (kubectl), counts
#   kill -9    at seeded random points (by objects done, from the state db), then --resume: same end state,
#              every object counted exactly once, each kill repeating at most batch + window PUTs
#              (REWRITE_KILL_POINTS, default 20 as the issue asks)
#   writer     a concurrent writer changing 10% of the secrets loses none of its writes
#   orphan     a secret whose namespace was deleted through the API is reported and fails the run (exit 1);
#              429 storms and 5xx injected on the apiserver are survived
#   SIGINT     in-flight writes finish, checkpoint, exit 3, --resume finishes; a second concurrent
#              rewrite of the same cluster is refused (exit 4)
#   budget     300 ms injected with a 100 ms p99 budget: abort (exit 3, resumable); slowdown recorded
#              and logged with its numbers; the apiserver's in-flight requests from /metrics (scrape)
#              abort a run; the Prometheus metrics file
#   compaction etcd compacted mid-run (the list's continue token expires): nothing lost
# plus bad input (exit 2, nothing changed).
. tests/e2e/lib.sh
: "${SANDBOX:?SANDBOX must name the rekey-sandbox binary}"
for tool in etcd etcdctl kubectl python3 awk curl jq; do
	if ! command -v $tool >/dev/null 2>&1; then
		skip 50_rewrite "$tool not installed"
		exit 0
	fi
done
T=$E2E_TMP
D=$T/sbx
N=${REWRITE_SECRETS:-1000}
KILL_POINTS=${REWRITE_KILL_POINTS:-20}
SEED=${REWRITE_SEED:-50}
CHECK="python3 tests/e2e/tools/rewrite_check.py"
export ETCDCTL_API=3

# 4 namespaces: ns-1 and ns-2 hold 250 secrets each, as with 2000 in 8 (the budget runs below are
# scoped to one and must last past their soak and a scrape)
SBX_ARGS="--apiservers 3 --secrets $N --namespaces 4"
# cluster_vars: the names the parts below use for the sandbox in $D and the state db in $T
cluster_vars() {
	KC=$D/kubeconfig
	ETCD=$(cat "$D/etcd.url")
	NODES=$(ls "$D/nodes")
	API=$(sed -n 's/^ *server: //p' "$KC" | head -n 1)
	# for background runs: $! must be rekeyctl itself (kill -9 of a shell function's subshell would orphan it)
	RW="$REKEYCTL rewrite --kubeconfig $KC --state $T/state"
}
# shellcheck disable=SC2086 # SBX_ARGS is a list of flags
e2e_sandbox_up "$D" $SBX_ARGS
cluster_vars

enc() { echo "$D/nodes/$1/etc/kubernetes/enc/enc.yaml"; }

# Bumps each node's manifest annotation to its config hash and waits until every apiserver is ready with it.
restart_all() {
	for n in $NODES; do
		h=$("$REKEYCTL" config hash "$(enc "$n")" | awk '{print $1}')
		m=$D/nodes/$n/etc/kubernetes/manifests/kube-apiserver.yaml
		sed -i '/rekeyctl.io\/config-hash/d' "$m"
		sed -i "s|^  annotations:\$|  annotations:\n    rekeyctl.io/config-hash: \"$h\"|" "$m"
		eval "want_$(echo "$n" | tr - _)=$h"
	done
	deadline=$(($(date +%s) + 90))
	while :; do
		"$SANDBOX" status --dir "$D" >"$T/status" 2>&1
		ready=0
		for n in $NODES; do
			eval "h=\$want_$(echo "$n" | tr - _)"
			# the kubelet must have processed the edited manifest (it restarts the pod before it
			# records it), else `status` can still show the old process answering with the new file
			m=$D/nodes/$n/etc/kubernetes/manifests/kube-apiserver.yaml
			[ "$(cut -d' ' -f1 "$D/nodes/$n/manifest.seen" 2>/dev/null)" = "sha256:$(sha256sum <"$m" | cut -d' ' -f1)" ] &&
				awk -v n="$n" -v h="$h" '$1 == n && $3 == "running" && $4 == "yes" && $7 == h {f=1} END {exit !f}' \
					"$T/status" && ready=$((ready + 1))
		done
		[ "$ready" = "$(echo "$NODES" | wc -w)" ] && return 0
		[ "$(date +%s)" -ge $deadline ] && return 1
		sleep 0.2
	done
}

# Adds KEYNAME as a read key everywhere, restarts, promotes it everywhere, restarts.
rotate_to() {
	"$REKEYCTL" keygen --provider aescbc --out "$T/$1.key" >/dev/null 2>"$T/keygen.err" || return 1
	for n in $NODES; do
		"$REKEYCTL" config add-key "$(enc "$n")" --provider aescbc --key-file "$T/$1.key" --key "$1" \
			>/dev/null 2>>"$T/rotate.err" || return 1
	done
	restart_all || return 1
	for n in $NODES; do
		"$REKEYCTL" config promote "$(enc "$n")" --key "$1" >/dev/null 2>>"$T/rotate.err" || return 1
	done
	restart_all
}

data_snapshot() { kubectl --kubeconfig "$KC" get secrets -A -o json | $CHECK data >"$1"; }
prefix_count() { etcdctl --endpoints "$ETCD" get --prefix /registry/secrets/ -w json | $CHECK prefix "$1" 2>"$T/others"; }
json_field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1" "$2"; }

# PUTs on secrets the cluster endpoint's apiserver has answered since it started (its /metrics).
put_count() {
	curl -sf --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" "$API/metrics" |
		awk '/^apiserver_request_total\{/ && /verb="PUT"/ && /resource="secrets"/ {s += $NF} END {print s + 0}'
}
rewrite() { "$REKEYCTL" rewrite --kubeconfig "$KC" --state "$T/state" "$@"; }
# objects done by cluster $1's run, -1 when there is none (polled every 50 ms: jq, not python, reads it)
status_done() {
	done_now=$("$REKEYCTL" status --state "$T/state" --cluster "$1" -o json 2>/dev/null | jq -r '.done // empty' 2>/dev/null)
	echo "${done_now:--1}"
}

# ---- bad input: exit 2, nothing changed ----
expect_exit bad_qps 2 rewrite --cluster bad --qps abc
expect_grep bad_qps_message 'qps "abc": not a number' "$E2E_TMP/err"
expect_exit bad_on_breach 2 rewrite --cluster bad --on-breach sometimes
expect_exit bad_duration 2 rewrite --cluster bad --budget-p99 500
expect_grep bad_duration_message 'needs a unit' "$E2E_TMP/err"
expect_exit bad_flag 2 rewrite --cluster bad --frobnicate 1
expect_exit resume_nothing 2 rewrite --cluster bad --resume
expect_grep resume_nothing_message 'nothing to resume' "$E2E_TMP/err"
expect_exit unknown_resource 2 rewrite --cluster bad --resource nosuchthings
expect_exit status_no_cluster 2 "$REKEYCTL" status --state "$T/state"
expect_exit status_unknown_cluster 2 "$REKEYCTL" status --state "$T/state" --cluster nobody
expect_exit bad_kubeconfig 2 "$REKEYCTL" rewrite --kubeconfig "$T/nope" --state "$T/state" --cluster bad

# The parts from here on (orphan and faults, SIGINT, budget) run on a second sandbox of their
# own while the first one's basic, kill and writer parts run: most of their time is spent waiting
# (Retry-After, injected latency, the budget's soak), not computing.
faults_part() {
	T=$E2E_TMP
	D=$T/sbx
	trap '"$SANDBOX" down --dir "$D" >/dev/null 2>&1' EXIT
	# shellcheck disable=SC2086 # SBX_ARGS is a list of flags
	if ! "$SANDBOX" up --dir "$D" $SBX_ARGS >"$T/up.log" 2>&1; then
		not_ok sandbox_up_faults "$(tail -n 5 "$T/up.log")"
		return
	fi
	ok sandbox_up_faults
	cluster_vars
	# ---- an orphan, with 429 storms and 5xx on the apiserver ----
	printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"orphanage"}}' >"$T/ns.json"
	printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"lost","namespace":"orphanage"},"data":{"a":"YQ=="}}' \
		>"$T/lost.json"
	kubectl --kubeconfig "$KC" create -f "$T/ns.json" --validate=false >/dev/null 2>"$T/k.err" &&
		kubectl --kubeconfig "$KC" create -f "$T/lost.json" --validate=false >/dev/null 2>>"$T/k.err" &&
		kubectl --kubeconfig "$KC" delete namespace orphanage --wait=false >/dev/null 2>>"$T/k.err"
	if kubectl --kubeconfig "$KC" get secret lost -n orphanage >/dev/null 2>&1; then
		ok orphan_made
	else
		not_ok orphan_made "$(cat "$T/k.err")"
	fi
	if rotate_to k5; then ok rotate_k5; else not_ok rotate_k5 "$(tail -n 3 "$T/rotate.err")"; fi
	first=$(echo "$NODES" | head -n 1)
	"$SANDBOX" fault --dir "$D" --node "$first" --throttle-ratio 0.2 --retry-after 1 --error-ratio 0.05 --error-code 503 \
		>/dev/null 2>&1 && ok faults_on || not_ok faults_on "fault failed"
	expect_exit orphan_fails_run 1 rewrite --cluster orphan -o json --concurrency 16
	cp "$E2E_TMP/out" "$T/orphan.json"
	"$SANDBOX" fault --dir "$D" --node "$first" --clear >/dev/null 2>&1
	expect_grep orphan_named 'orphanage/lost.*orphan' "$E2E_TMP/err"
	got=$(json_field "$T/orphan.json" '(d["counts"]["rewritten"], d["counts"]["orphan"], d["counts"]["failed"], d["orphans"])')
	[ "$got" = "($N, 1, 0, 1)" ] && ok orphan_counted_faults_survived || not_ok orphan_counted_faults_survived "$got"
	got=$(prefix_count k5)
	[ "$got" = "total $((N + 1)) under $N other 1" ] && ok orphan_left_under_old_key ||
		not_ok orphan_left_under_old_key "$got: $(cat "$T/others")"
	"$REKEYCTL" status --state "$T/state" --cluster orphan -o json >"$T/st.json" 2>&1
	got=$(json_field "$T/st.json" '(d["state"], d["orphans"])')
	[ "$got" = "('failed', 1)" ] && ok orphan_status || not_ok orphan_status "$got"
	kubectl --kubeconfig "$KC" create -f "$T/ns.json" --validate=false >/dev/null 2>&1 # let the orphan be rewritten again later

	# ---- SIGINT: in-flight writes finish, checkpoint, exit 3; --resume finishes ----
	M=$((N + 1)) # the orphan's namespace exists again: its secret is an ordinary object now
	$RW --cluster sigint --qps 200 --batch-size 50 >"$T/sigint.out" 2>"$T/sigint.err" &
	pid=$!
	deadline=$(($(date +%s) + 60))
	while kill -0 $pid 2>/dev/null && [ "$(status_done sigint)" -lt 300 ] && [ "$(date +%s)" -lt $deadline ]; do
		sleep 0.05
	done
	expect_exit second_rewrite_refused 4 rewrite --cluster sigint --resume
	expect_grep second_rewrite_message 'another rekeyctl is rewriting cluster "sigint"' "$E2E_TMP/err"
	kill -INT $pid
	wait $pid
	rc=$?
	[ "$rc" = 3 ] && ok sigint_exit3 || not_ok sigint_exit3 "exit $rc: $(tail -n 2 "$T/sigint.err")"
	expect_grep sigint_message 'interrupted: in-flight writes finished, checkpoint saved' "$T/sigint.err"
	"$REKEYCTL" status --state "$T/state" --cluster sigint -o json >"$T/st.json" 2>&1
	got=$(json_field "$T/st.json" 'd["state"]')
	[ "$got" = stopped ] && ok sigint_status_stopped || not_ok sigint_status_stopped "$got"
	expect_exit sigint_resume 0 rewrite --cluster sigint --resume
	"$REKEYCTL" status --state "$T/state" --cluster sigint -o json >"$T/st.json" 2>&1
	got=$(json_field "$T/st.json" '(d["state"], sum(d["counts"][k] for k in ("rewritten","current","conflict")))')
	[ "$got" = "('done', $M)" ] && ok sigint_resumed_all || not_ok sigint_resumed_all "$got, want $M objects"

	# ---- budget: abort under injected latency (exit 3, resumable); slowdown recorded; metrics file ----
	"$SANDBOX" fault --dir "$D" --node "$first" --latency-ms 300 >/dev/null 2>&1
	expect_exit budget_abort_exit3 3 rewrite --cluster budget --budget-p99 100ms --on-breach abort --concurrency 4
	expect_grep budget_abort_message 'stopped by the budget' "$E2E_TMP/err"
	expect_grep budget_abort_logged '"event":"rewrite.budget".*abort.*p99' "$E2E_TMP/err"
	"$REKEYCTL" status --state "$T/state" --cluster budget -o json >"$T/st.json" 2>&1
	got=$(json_field "$T/st.json" '(d["state"], d["budget"])')
	[ "$got" = "('stopped', 'abort')" ] && ok budget_abort_status || not_ok budget_abort_status "$got"
	"$SANDBOX" fault --dir "$D" --node "$first" --latency-ms 150 >/dev/null 2>&1
	NS1=$(kubectl --kubeconfig "$KC" get secrets -n ns-1 -o name | grep -c .)
	expect_exit budget_slowdown_run 0 rewrite --cluster slow --namespace ns-1 --qps 100 --budget-p99 100ms \
		--soak 2s --metrics-file "$T/metrics.prom"
	expect_grep budget_slowdown_logged '"event":"rewrite.budget".*slowdown.*rate 100.0/s -> 50.0/s' "$E2E_TMP/err"
	"$REKEYCTL" status --state "$T/state" --cluster slow -o json >"$T/st.json" 2>&1
	got=$(json_field "$T/st.json" 'd["budget_decisions"] >= 1')
	[ "$got" = True ] && ok budget_slowdown_stored || not_ok budget_slowdown_stored "$(cat "$T/st.json")"
	expect_grep metrics_file "rekeyctl_rewrite_objects_total\\{cluster=\"slow\",outcome=\"current\"\\} $NS1\$" "$T/metrics.prom"
	expect_exit budget_server_inflight 3 rewrite --cluster inflight --namespace ns-2 --concurrency 16 \
		--budget-inflight 4 --scrape-interval 1s --on-breach abort
	expect_grep budget_server_inflight_reason 'abort: apiserver inflight [0-9]+ > budget 4' "$E2E_TMP/err"
	expect_exit budget_inflight_needs_scrape 2 rewrite --cluster inflight2 --budget-inflight 4
	"$SANDBOX" fault --dir "$D" --node "$first" --clear >/dev/null 2>&1
	expect_exit budget_resume_after_clear 0 rewrite --cluster budget --resume
}

e2e_part faults faults_part

# ---- basic ----
data_snapshot "$T/data.before"
[ "$(wc -l <"$T/data.before")" = "$N" ] && ok data_listed || not_ok data_listed "$(wc -l <"$T/data.before") secrets"
if rotate_to k2; then ok rotate_k2; else not_ok rotate_k2 "$(tail -n 3 "$T/rotate.err" "$T/status")"; fi
expect_exit basic_rewrite 0 rewrite --cluster basic -o json --batch-size 100
cp "$E2E_TMP/out" "$T/basic.json"
got=$(json_field "$T/basic.json" 'd["counts"]["rewritten"]')
[ "$got" = "$N" ] && ok basic_counts || not_ok basic_counts "rewritten $got, want $N: $(cat "$T/basic.json")"
got=$(prefix_count k2)
[ "$got" = "total $N under $N other 0" ] && ok basic_all_under_k2 || not_ok basic_all_under_k2 "$got"
data_snapshot "$T/data.after"
cmp -s "$T/data.before" "$T/data.after" && ok basic_data_unchanged || not_ok basic_data_unchanged "data differs"
got=$(json_field "$T/basic.json" '(d["timing"]["window"], d["timing"]["repeat_bound"], d["timing"]["put_attempts"] >= d["counts"]["rewritten"])')
[ "$got" = "(100, 200, True)" ] && ok basic_states_window_and_bound || not_ok basic_states_window_and_bound "$got"
expect_grep basic_timing_logged '"event":"rewrite.timing".*waiting on list .* checkpoints' "$E2E_TMP/err"
expect_grep basic_progress_lines '"event":"rewrite.progress".*"final":true' "$E2E_TMP/err"
"$REKEYCTL" status --state "$T/state" --cluster basic -o json >"$T/st.json" 2>&1
got=$(json_field "$T/st.json" '(d["state"], d["done"], d["total"], d["scopes_done"])')
[ "$got" = "('done', $N, $N, 1)" ] && ok basic_status || not_ok basic_status "$got"
"$REKEYCTL" status --state "$T/state" --cluster basic >"$T/st.txt" 2>&1
expect_grep basic_status_table "progress  $N/$N objects" "$T/st.txt"
expect_exit basic_again 0 rewrite --cluster basic -o json
got=$(json_field "$E2E_TMP/out" '(d["counts"]["current"], d["counts"]["rewritten"])')
[ "$got" = "($N, 0)" ] && ok basic_again_all_current || not_ok basic_again_all_current "$got"

# ---- kill -9 at seeded random points, then --resume ----
if rotate_to k3; then ok rotate_k3; else not_ok rotate_k3 "$(tail -n 3 "$T/rotate.err")"; fi
points=$(awk -v seed="$SEED" -v n="$N" -v k="$KILL_POINTS" \
	'BEGIN { srand(seed); for (i = 0; i < k; i++) print 1 + int(rand() * n * 0.9) }' | sort -n)
puts_before=$(put_count)
# the kill runs' batch: 40 checkpoints over the secrets so the 20 kills land at distinct points, at 200/s
# (a kill point every ~0.2 s of rewriting, as with 2000 secrets at 400/s)
KB=25
killed=0 moved=0
for target in $points; do
	flag=
	before=$(status_done kill)
	[ "$before" != -1 ] && flag=--resume
	$RW --cluster kill --batch-size $KB --concurrency 4 --qps 200 --burst 20 $flag >"$T/kill.out" 2>"$T/kill.err" &
	pid=$!
	deadline=$(($(date +%s) + 60))
	while kill -0 $pid 2>/dev/null && [ "$(status_done kill)" -lt "$target" ] && [ "$(date +%s)" -lt $deadline ]; do
		sleep 0.05
	done
	kill -9 $pid 2>/dev/null && killed=$((killed + 1))
	wait $pid 2>/dev/null
	[ "$(status_done kill)" -gt "$before" ] && moved=$((moved + 1))
done
echo "# $moved of $killed kills came after their run had checkpointed progress"
[ "$killed" = "$KILL_POINTS" ] && ok kill_points_hit || not_ok kill_points_hit "$killed of $KILL_POINTS runs killed"
"$REKEYCTL" status --state "$T/state" --cluster kill -o json >"$T/st.json" 2>&1
if [ "$(json_field "$T/st.json" 'd["state"]')" = done ]; then
	not_ok kill_resume_finishes "a run finished before its kill point"
else
	expect_exit kill_resume_finishes 0 rewrite --cluster kill --resume -o json
fi
"$REKEYCTL" status --state "$T/state" --cluster kill -o json >"$T/st.json" 2>&1
got=$(json_field "$T/st.json" 'sum(d["counts"][k] for k in ("rewritten","current","conflict"))')
[ "$got" = "$N" ] && ok kill_each_object_once || not_ok kill_each_object_once "$got objects counted, want $N"
got=$(json_field "$T/st.json" '(d["counts"]["gone"], d["counts"]["orphan"], d["counts"]["failed"], d["state"])')
[ "$got" = "(0, 0, 0, 'done')" ] && ok kill_no_failures || not_ok kill_no_failures "$got"
puts=$(($(put_count) - puts_before))
# each kill repeats at most what was PUT past the last checkpoint: the batch (KB) plus the window
# (max(batch, 4 x concurrency 4) = KB), the bound rekeyctl states (timing.repeat_bound): N + kills x 2 KB
[ "$puts" -ge "$N" ] && [ "$puts" -le $((N + killed * (KB + KB))) ] && ok kill_repeats_at_most_batch_plus_window ||
	not_ok kill_repeats_at_most_batch_plus_window "$puts PUTs for $N objects and $killed kills"
got=$(prefix_count k3)
[ "$got" = "total $N under $N other 0" ] && ok kill_all_under_k3 || not_ok kill_all_under_k3 "$got"
data_snapshot "$T/data.kill"
cmp -s "$T/data.before" "$T/data.kill" && ok kill_data_unchanged || not_ok kill_data_unchanged "data differs"
expect_exit kill_nothing_left_to_resume 2 rewrite --cluster kill --resume

# ---- a concurrent writer changing 10% of the secrets ----
if rotate_to k4; then ok rotate_k4; else not_ok rotate_k4 "$(tail -n 3 "$T/rotate.err")"; fi
awk 'NR % 10 == 0 {print $1}' "$T/data.before" >"$T/writer.names"
$RW --cluster writer --qps 300 --batch-size 100 -o json >"$T/writer.rw.json" 2>"$T/writer.rw.err" &
rw_pid=$!
$CHECK writer "$API" "$D/pki/ca.crt" "$D/pki/admin.crt" "$D/pki/admin.key" "$T/writer.names" marker-1 \
	>"$T/writer.out" 2>&1
writer_rc=$?
wait $rw_pid
rw_rc=$?
[ "$writer_rc" = 0 ] && ok writer_ran || not_ok writer_ran "$(tail -n 3 "$T/writer.out")"
[ "$rw_rc" = 0 ] && ok writer_rewrite_exit0 || not_ok writer_rewrite_exit0 "exit $rw_rc: $(tail -n 3 "$T/writer.rw.err")"
got=$($CHECK expect "$API" "$D/pki/ca.crt" "$D/pki/admin.crt" "$D/pki/admin.key" "$T/writer.names" marker-1)
want=$(wc -l <"$T/writer.names")
[ "$got" = "match $want of $want" ] && ok writer_lost_nothing || not_ok writer_lost_nothing "$got"
got=$(prefix_count k4)
[ "$got" = "total $N under $N other 0" ] && ok writer_all_under_k4 || not_ok writer_all_under_k4 "$got"
got=$(json_field "$T/writer.rw.json" 'sum(d["counts"][k] for k in ("rewritten","current","conflict"))')
[ "$got" = "$N" ] && ok writer_counts || not_ok writer_counts "$got"
data_snapshot "$T/data.writer"
grep -v -F -f "$T/writer.names" "$T/data.before" >"$T/untouched.before"
grep -v -F -f "$T/writer.names" "$T/data.writer" >"$T/untouched.after"
cmp -s "$T/untouched.before" "$T/untouched.after" && ok writer_others_unchanged || not_ok writer_others_unchanged "differ"

# ---- an expired continue token (etcd compacted mid-list; 20 pages, as 2000 secrets had at 100) ----
if rotate_to k6; then ok rotate_k6; else not_ok rotate_k6 "$(tail -n 3 "$T/rotate.err")"; fi
$RW --cluster compact --page-size 50 --batch-size 50 --qps 200 -o json >"$T/compact.json" 2>"$T/compact.err" &
pid=$!
deadline=$(($(date +%s) + 60))
while kill -0 $pid 2>/dev/null && [ "$(status_done compact)" -lt $((N / 3)) ] && [ "$(date +%s)" -lt $deadline ]; do
	sleep 0.05
done
rev=$(etcdctl --endpoints "$ETCD" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
etcdctl --endpoints "$ETCD" compaction "$rev" >/dev/null 2>&1 && ok compacted || not_ok compacted "rev $rev"
wait $pid
rc=$?
[ "$rc" = 0 ] && ok compact_rewrite_exit0 || not_ok compact_rewrite_exit0 "exit $rc: $(tail -n 3 "$T/compact.err")"
expect_grep compact_token_expired 'inconsistent' "$T/compact.err"
got=$(json_field "$T/compact.json" 'sum(d["counts"][k] for k in ("rewritten","current","conflict"))')
[ "$got" = "$N" ] && ok compact_nothing_lost || not_ok compact_nothing_lost "$got objects, want $N"
got=$(prefix_count k6)
[ "$got" = "total $N under $N other 0" ] && ok compact_all_under_k6 ||
	not_ok compact_all_under_k6 "$got: $(cat "$T/others")"

e2e_part_wait faults
e2e_done
