#!/bin/sh
# rewrite.sh: benchmarks of `rekeyctl rewrite` on a 3-apiserver sandbox with 1 KiB secrets, appended with
# the machine to tests/bench/RESULTS.md (called from tests/bench/run.sh, or alone):
#   throughput  rekeyctl rewrite (throttle off) vs `kubectl get secrets -A -o json | kubectl replace
#               --validate=false -f -` on the same data vs the sandbox's raw PUT ceiling (bench-put),
#               with no added latency and with 10 ms added per request
#   memory      peak RSS (/usr/bin/time -v) of rekeyctl at SMALL and LARGE secrets (and of kubectl at SMALL)
#   rate        achieved rate with --qps 200 over RATE_SECONDS
#   budget      300 ms latency injected mid-run with a 200 ms p99 budget: time until the first slowdown,
#               and the p99 the budget reports after it settles
#   real        the throughput rows again on 3 real kube-apiservers (`up --real`, `make realcp`) with every
#               object stale (a new write key is rolled out, automatic reload, before each run, so every
#               PUT is a real etcd write), with 0 and 10 ms added between the apiservers and etcd (the
#               sandbox's etcd proxy); the ceiling is bench-put through the same endpoint (cp-1)
# Environment: REKEYCTL, SANDBOX (binaries, default build/rel/bin/...), SMALL (10000), LARGE (100000,
# 0 = skip), RATE_SECONDS (45: under SMALL / 200), CONCURRENCY (16), RESULTS (output file), REAL (1 =
# run the real section, 0 = skip; only = only it), REAL_N (secrets on the real control plane, 10000).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
REKEYCTL=${REKEYCTL:-$top/build/rel/bin/rekeyctl}
SANDBOX=${SANDBOX:-$top/build/rel/bin/rekey-sandbox}
SMALL=${SMALL:-10000}
LARGE=${LARGE:-100000}
RATE_SECONDS=${RATE_SECONDS:-45}
CONCURRENCY=${CONCURRENCY:-16}
RESULTS=${RESULTS:-$top/tests/bench/RESULTS.md}
REALCP_BIN=${REALCP_BIN:-$top/build/realcp/bin}
# kubectl: the v1.34 one `make realcp` builds, else the one on PATH
if [ -z "${KUBECTL:-}" ]; then
	KUBECTL=kubectl
	[ -x "$REALCP_BIN/kubectl" ] && KUBECTL=$REALCP_BIN/kubectl
fi
for tool in jq "$KUBECTL" /usr/bin/time; do
	command -v $tool >/dev/null || { echo "rewrite.sh: $tool is required" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/rekey-bench-rw-XXXXXX")
cleanup() {
	for d in "$work"/sbx-*; do [ -f "$d/etcd.pid" ] && "$SANDBOX" down --dir "$d" >/dev/null 2>&1; done
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
rate() { printf '%.0f' "$(echo "$1 / $2" | bc -l)"; }
rss_mb() { awk '/Maximum resident set size/ {printf "%.1f", $NF / 1024}' "$1"; }
faults() { # faults DIR ARGS...: on every node
	d=$1
	shift
	for node in $(jq -r '.nodes[].name' "$d/sandbox.json"); do "$SANDBOX" fault --dir "$d" --node "$node" "$@" >/dev/null; done
}
rewrite() { # rewrite DIR CLUSTER ARGS...: timed, RSS recorded in $work/CLUSTER.time
	d=$1 c=$2
	shift 2
	/usr/bin/time -v -o "$work/$c.time" "$REKEYCTL" rewrite --kubeconfig "$d/kubeconfig" --state "$work/state" \
		--cluster "$c" -o json "$@" >"$work/$c.out" 2>"$work/$c.err"
}
kubectl_pipeline() { # DIR NAME [NAMESPACE]: get | replace, timed, RSS of each side
	d=$1 n=$2
	scope="-A"
	[ $# -ge 3 ] && scope="-n $3"
	/usr/bin/time -v -o "$work/$n.get.time" "$KUBECTL" --kubeconfig "$d/kubeconfig" get secrets $scope -o json >"$work/$n.json"
	/usr/bin/time -v -o "$work/$n.replace.time" "$KUBECTL" --kubeconfig "$d/kubeconfig" replace --validate=false \
		-f "$work/$n.json" >/dev/null
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
load=$(cut -d' ' -f1-3 /proc/loadavg)
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)

# ---- real control plane (REAL=1 or only) ----
REAL=${REAL:-1}
REAL_N=${REAL_N:-10000}
# config_hash URL DIR: the hash label of the apiserver's last_config_info.
config_hash() {
	curl -sS --cacert "$2/pki/ca.crt" --cert "$2/pki/admin.crt" --key "$2/pki/admin.key" "$1/metrics" |
		sed -n 's/^apiserver_encryption_config_controller_last_config_info{.*hash="\(sha256:[0-9a-f]*\)".*} 1$/\1/p'
}
# new_write_key DIR: a fresh aescbc key first in every node's config; returns once every apiserver
# reports the new file's hash in last_config_info (automatic reload), so every stored secret is stale.
new_write_key() {
	d=$1
	f=$d/nodes/cp-1/etc/kubernetes/enc/enc.yaml
	key="      - aescbc: {keys: [{name: bench-$(date +%s%N), secret: $(head -c 32 /dev/urandom | base64 -w0)}]}"
	awk -v b="$key" '{print} /^    providers:/ && !done {print b; done=1}' "$f" >"$work/enc.yaml"
	chmod 600 "$work/enc.yaml"
	want="sha256:$(sha256sum "$work/enc.yaml" | cut -d' ' -f1)"
	for node in $(jq -r '.nodes[].name' "$d/sandbox.json"); do
		cp "$work/enc.yaml" "$d/nodes/$node/etc/kubernetes/enc/enc.yaml.new"
		mv "$d/nodes/$node/etc/kubernetes/enc/enc.yaml.new" "$d/nodes/$node/etc/kubernetes/enc/enc.yaml"
	done
	for url in $(jq -r '.nodes[].url' "$d/sandbox.json"); do
		n=0
		until [ "$(config_hash "$url" "$d")" = "$want" ]; do
			n=$((n + 1))
			[ "$n" -gt 600 ] && { echo "rewrite.sh: $url did not load $want" >&2; exit 1; }
			sleep 0.1
		done
	done
}
real_section() {
	R=$work/sbx-real
	"$SANDBOX" up --dir "$R" --real --apiservers 3 --secrets "$REAL_N" --secret-bytes 1024 --namespaces 10 \
		--reload automatic --reload-period 1 >/dev/null
	new_write_key "$R"
	t0=$(now)
	rewrite "$R" real0 --concurrency "$CONCURRENCY" --batch-size 500
	t1=$(now)
	r_rk_s=$(elapsed "$t0" "$t1")
	r_rk_written=$(jq -r '.counts.rewritten' "$work/real0.out")
	new_write_key "$R"
	t0=$(now)
	kubectl_pipeline "$R" rkc
	t1=$(now)
	r_kc_s=$(elapsed "$t0" "$t1")
	"$SANDBOX" bench-put --dir "$R" --node cp-1 --connections "$CONCURRENCY" --secrets "$REAL_N" --namespaces 10 \
		--duration 10 -o json >"$work/rceil0.json"
	r_ceil0=$(jq -r '.putsPerSecond' "$work/rceil0.json")
	"$SANDBOX" fault --dir "$R" --etcd-latency-ms 10 >/dev/null
	new_write_key "$R"
	t0=$(now)
	rewrite "$R" real10 --concurrency "$CONCURRENCY" --batch-size 500 --namespace ns-1
	t1=$(now)
	r_rk10_s=$(elapsed "$t0" "$t1")
	r_ns1=$(jq -r '.counts.rewritten' "$work/real10.out")
	new_write_key "$R"
	t0=$(now)
	kubectl_pipeline "$R" rkc10 ns-1
	t1=$(now)
	r_kc10_s=$(elapsed "$t0" "$t1")
	"$SANDBOX" bench-put --dir "$R" --node cp-1 --connections "$CONCURRENCY" --secrets "$REAL_N" --namespaces 10 \
		--duration 10 -o json >"$work/rceil10.json"
	r_ceil10=$(jq -r '.putsPerSecond' "$work/rceil10.json")
	"$SANDBOX" down --dir "$R" >/dev/null
	r_rk=$(rate "$r_rk_written" "$r_rk_s") r_kc=$(rate "$REAL_N" "$r_kc_s")
	r_rk10=$(rate "$r_ns1" "$r_rk10_s") r_kc10=$(rate "$r_ns1" "$r_kc10_s")
	{
		echo
		echo "## rewrite on the real control plane, $when, $(nproc) CPUs ($cpu), load $load, rev $rev"
		echo
		echo "3 kube-apiservers v1.34.4 over etcd v3.6.16 (\`up --real\`), 1 KiB secrets, every object stale"
		echo "(a new aescbc write key rolled out before each run), everything through cp-1; kubectl $("$KUBECTL" version --client 2>/dev/null | sed -n 's/^Client Version: //p')."
		echo
		echo "| measure | value | ratio |"
		echo "|---|---|---|"
		echo "| rekeyctl rewrite, $REAL_N stale secrets ($r_rk_written rewritten), concurrency $CONCURRENCY | $r_rk objects/s ($(printf '%.1f' "$r_rk_s") s) | $(printf '%.2f' "$(echo "$r_rk / $r_ceil0" | bc -l)") of ceiling, $(printf '%.1f' "$(echo "$r_rk / $r_kc" | bc -l)")x kubectl |"
		echo "| kubectl get -A -o json \\| replace --validate=false, $REAL_N stale secrets | $r_kc objects/s ($(printf '%.1f' "$r_kc_s") s) | |"
		echo "| raw PUT ceiling (bench-put), $CONCURRENCY connections to cp-1 | $r_ceil0 PUT/s | |"
		echo "| +10 ms apiserver-etcd: rekeyctl rewrite, $r_ns1 stale secrets | $r_rk10 objects/s | $(printf '%.2f' "$(echo "$r_rk10 / $r_ceil10" | bc -l)") of ceiling, $(printf '%.1f' "$(echo "$r_rk10 / $r_kc10" | bc -l)")x kubectl |"
		echo "| +10 ms apiserver-etcd: kubectl pipeline, $r_ns1 stale secrets | $r_kc10 objects/s | |"
		echo "| +10 ms apiserver-etcd: raw PUT ceiling | $r_ceil10 PUT/s | |"
	} | tee -a "$RESULTS"
}
if [ "$REAL" = only ]; then
	real_section
	exit 0
fi

# ---- throughput and memory at SMALL ----
S=$work/sbx-small
"$SANDBOX" up --dir "$S" --apiservers 3 --secrets "$SMALL" --secret-bytes 1024 --namespaces 10 >/dev/null
t0=$(now)
rewrite "$S" tput --concurrency "$CONCURRENCY" --batch-size 500
t1=$(now)
rk_s=$(elapsed "$t0" "$t1")
rk_rss_small=$(rss_mb "$work/tput.time")
t0=$(now)
kubectl_pipeline "$S" kc
t1=$(now)
kc_s=$(elapsed "$t0" "$t1")
kc_rss=$(rss_mb "$work/kc.get.time")
"$SANDBOX" bench-put --dir "$S" --connections "$CONCURRENCY" --secrets "$SMALL" --namespaces 10 --duration 10 -o json >"$work/ceil0.json"
ceil0=$(jq -r '.putsPerSecond' "$work/ceil0.json")

# ---- the same with 10 ms added per request (one namespace: a tenth of the data) ----
faults "$S" --latency-ms 10
t0=$(now)
rewrite "$S" tput10 --concurrency "$CONCURRENCY" --batch-size 500 --namespace ns-1
t1=$(now)
rk10_s=$(elapsed "$t0" "$t1")
ns1=$(jq -r '.counts | .rewritten + .current + .conflict' "$work/tput10.out")
t0=$(now)
kubectl_pipeline "$S" kc10 ns-1
t1=$(now)
kc10_s=$(elapsed "$t0" "$t1")
"$SANDBOX" bench-put --dir "$S" --connections "$CONCURRENCY" --secrets "$SMALL" --namespaces 10 --duration 10 -o json >"$work/ceil10.json"
ceil10=$(jq -r '.putsPerSecond' "$work/ceil10.json")
faults "$S" --clear

# ---- rate accuracy: --qps 200 ----
t0=$(now)
timeout -s INT "$RATE_SECONDS" "$REKEYCTL" rewrite --kubeconfig "$S/kubeconfig" --state "$work/state" --cluster rate \
	--qps 200 --burst 20 --concurrency "$CONCURRENCY" -o json >"$work/rate.out" 2>"$work/rate.err" || true
t1=$(now)
rate_n=$(jq -r '.counts | .rewritten + .current + .conflict + .gone + .failed' "$work/rate.out")
rate_s=$(elapsed "$t0" "$t1")

# ---- budget reaction: 300 ms injected mid-run, 200 ms p99 budget ----
"$REKEYCTL" rewrite --kubeconfig "$S/kubeconfig" --state "$work/state" --cluster budget --qps 100 \
	--concurrency "$CONCURRENCY" --budget-p99 200ms --budget-window 10s --soak 10s -o json \
	>"$work/budget.out" 2>"$work/budget.err" &
bpid=$!
sleep 5 # let the run settle at its rate before the latency arrives (part of the experiment, not a sync)
faults "$S" --latency-ms 300
t_fault=$(date -u +%s.%N)
sleep 25
faults "$S" --clear
kill -INT $bpid 2>/dev/null || true
wait $bpid || true
t_slow=$(jq -rR 'fromjson? | select(.event == "rewrite.budget") | .time' "$work/budget.err" 2>/dev/null | head -n 1)
react="n/a"
if [ -n "$t_slow" ]; then
	t_slow_s=$(date -u -d "$t_slow" +%s.%N)
	react=$(printf '%.1f s' "$(elapsed "$t_fault" "$t_slow_s")")
fi
settled=$(jq -rR 'fromjson? | select(.event == "rewrite.progress") | "\(.p99_ms) \(.qps_limit)"' "$work/budget.err" | tail -n 1)
"$SANDBOX" down --dir "$S" >/dev/null

# ---- memory at LARGE ----
rk_rss_large="skipped" large_rate="-"
if [ "$LARGE" -gt 0 ]; then
	L=$work/sbx-large
	"$SANDBOX" up --dir "$L" --apiservers 3 --secrets "$LARGE" --secret-bytes 1024 --namespaces 10 >/dev/null
	t0=$(now)
	rewrite "$L" large --concurrency "$CONCURRENCY" --batch-size 500
	t1=$(now)
	rk_rss_large=$(rss_mb "$work/large.time")
	large_rate=$(rate "$LARGE" "$(elapsed "$t0" "$t1")")
	"$SANDBOX" down --dir "$L" >/dev/null
fi

{
	echo
	echo "## rewrite, $when, $(nproc) CPUs ($cpu), load $load, rev $rev"
	echo
	echo "| measure | value |"
	echo "|---|---|"
	echo "| rekeyctl rewrite, $SMALL secrets, throttle off, concurrency $CONCURRENCY | $(rate "$SMALL" "$rk_s") objects/s ($(printf '%.1f' "$rk_s") s) |"
	echo "| kubectl get -A -o json \\| replace --validate=false, $SMALL secrets | $(rate "$SMALL" "$kc_s") objects/s ($(printf '%.1f' "$kc_s") s) |"
	echo "| sandbox raw PUT ceiling, $CONCURRENCY connections | $ceil0 PUT/s |"
	echo "| +10 ms per request: rekeyctl rewrite, $ns1 secrets | $(rate "$ns1" "$rk10_s") objects/s |"
	echo "| +10 ms per request: kubectl pipeline, $ns1 secrets | $(rate "$ns1" "$kc10_s") objects/s |"
	echo "| +10 ms per request: raw PUT ceiling | $ceil10 PUT/s |"
	echo "| peak RSS rekeyctl, $SMALL secrets | $rk_rss_small MB |"
	[ "$LARGE" -gt 0 ] && echo "| peak RSS rekeyctl, $LARGE secrets | $rk_rss_large MB ($large_rate objects/s) |"
	echo "| peak RSS kubectl get, $SMALL secrets | $kc_rss MB |"
	echo "| --qps 200 achieved over $(printf '%.0f' "$rate_s") s | $(printf '%.1f' "$(echo "$rate_n / $rate_s" | bc -l)") objects/s |"
	echo "| budget: 300 ms injected, 200 ms p99 budget: first slowdown after | $react |"
	echo "| budget: p99 (ms) and rate limit (objects/s) at the end | $settled |"
} | tee -a "$RESULTS"
[ "$REAL" = 1 ] && real_section
exit 0
