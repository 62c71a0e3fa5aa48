#!/bin/sh
# rewrite.sh: benchmarks of `rekeyctl rewrite` on a 3-apiserver sandbox with 1 KiB secrets, appended with
# the machine to tests/bench/RESULTS.md (called from tests/bench/run.sh, or alone). Every stored secret is
# made stale before each run (a new write key on every apiserver, tests/bench/stale.sh), so every PUT of
# rekeyctl and kubectl is a real etcd write, like bench-put's.
#   throughput  side by side, with no added latency and with 10 ms added per request (sandbox fault):
#               rekeyctl rewrite through the kubeconfig's apiserver vs bench-put's raw PUT ceiling through
#               the same apiserver; rekeyctl spread over the 3 apiservers (--endpoint) vs bench-put over
#               the 3; `kubectl get secrets -A -o json | kubectl replace --validate=false -f -` (at 10 ms on
#               one namespace: a tenth of the data); with BEFORE=path/to/an/older/rekeyctl, that binary too
#   cost        CPU per object (user + sys / objects) and where the time went (rekeyctl's timing counters)
#   memory      peak RSS (/usr/bin/time -v) of rekeyctl at SMALL and LARGE secrets (and of kubectl at SMALL)
#   rate        achieved rate with --qps 200 over RATE_SECONDS
#   budget      300 ms latency injected mid-run with a 200 ms p99 budget: time until the first slowdown,
#               and the p99 the budget reports after it settles
#   real        rekeyctl vs kubectl vs the raw PUT ceiling (bench-put --node cp-1, the same endpoint) on 3
#               real kube-apiservers (`up --real`, `make realcp`), every object stale, with 0 and 10 ms added
#               between the apiservers and etcd (the sandbox's etcd proxy, `fault --etcd-latency-ms`)
# Environment: REKEYCTL, SANDBOX (binaries, default build/rel/bin/...), BEFORE (an older rekeyctl, optional),
# SMALL (10000), LARGE (100000, 0 = skip), RATE_SECONDS (45), CONCURRENCY (16), RESULTS (output file),
# REAL (1 = also the real section, 0 = skip it, only = only it). kubectl: build/realcp/bin's when built.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
REKEYCTL=${REKEYCTL:-$top/build/rel/bin/rekeyctl}
SANDBOX=${SANDBOX:-$top/build/rel/bin/rekey-sandbox}
BEFORE=${BEFORE:-}
SMALL=${SMALL:-10000}
LARGE=${LARGE:-100000}
RATE_SECONDS=${RATE_SECONDS:-45}
CONCURRENCY=${CONCURRENCY:-16}
RESULTS=${RESULTS:-$top/tests/bench/RESULTS.md}
REAL=${REAL:-1}
REALCP_BIN=${REALCP_BIN:-$top/build/realcp/bin}
if [ -x "$REALCP_BIN/kubectl" ]; then # the v1.34 kubectl `make realcp` builds, first on PATH
	kbin=$(mktemp -d "${TMPDIR:-/tmp}/rekey-bench-kubectl-XXXXXX")
	ln -s "$REALCP_BIN/kubectl" "$kbin/kubectl"
	PATH=$kbin:$PATH
fi
for tool in jq kubectl bc /usr/bin/time; do
	command -v $tool >/dev/null || { echo "rewrite.sh: $tool is required" >&2; exit 2; }
done
. "$top/tests/bench/stale.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/rekey-bench-rw-XXXXXX")
cleanup() {
	for d in "$work"/sbx-*; do [ -f "$d/etcd.pid" ] && "$SANDBOX" down --dir "$d" >/dev/null 2>&1; done
	rm -rf "$work" "${kbin:-}"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
rate() { printf '%.0f' "$(echo "$1 / $2" | bc -l)"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
rss_mb() { awk '/Maximum resident set size/ {printf "%.1f", $NF / 1024}' "$1"; }
cpu_ms_per_object() { # TIMEFILE OBJECTS
	awk -v n="$2" '/User time/ {u = $NF} /System time/ {s = $NF} END {printf "%.3f", (u + s) * 1000 / n}' "$1"
}
faults() { # faults DIR ARGS...: on every node
	d=$1
	shift
	for node in $(jq -r '.nodes[].name' "$d/sandbox.json"); do "$SANDBOX" fault --dir "$d" --node "$node" "$@" >/dev/null; done
}
keyn=0
stale() { # every stored secret under an old key
	keyn=$((keyn + 1))
	sandbox_new_write_key "$1" "bench$keyn" || { echo "rewrite.sh: new write key failed" >&2; exit 1; }
}
rewrite() { # rewrite DIR NAME ARGS...: stale data, timed run of $RW (default REKEYCTL); NAME.time, .out, .s
	d=$1 c=$2
	shift 2
	stale "$d"
	t0=$(now)
	/usr/bin/time -v -o "$work/$c.time" "${RW:-$REKEYCTL}" rewrite --kubeconfig "$d/kubeconfig" --state "$work/state" \
		--cluster "$c" -o json --concurrency "$CONCURRENCY" --batch-size 500 "$@" >"$work/$c.out" 2>"$work/$c.err"
	elapsed "$t0" "$(now)" >"$work/$c.s"
}
done_of() { jq -r '.counts | .rewritten + .current + .conflict' "$work/$1.out"; }
rate_of() { rate "$(done_of "$1")" "$(cat "$work/$1.s")"; }
kubectl_pipeline() { # DIR NAME [NAMESPACE]: stale data, get | replace, timed, RSS of each side
	d=$1 n=$2
	scope="-A"
	[ $# -ge 3 ] && scope="-n $3"
	stale "$d"
	t0=$(now)
	/usr/bin/time -v -o "$work/$n.get.time" kubectl --kubeconfig "$d/kubeconfig" get secrets $scope -o json >"$work/$n.json"
	/usr/bin/time -v -o "$work/$n.replace.time" kubectl --kubeconfig "$d/kubeconfig" replace --validate=false \
		-f "$work/$n.json" >/dev/null
	elapsed "$t0" "$(now)" >"$work/$n.s"
	jq '.items | length' "$work/$n.json" >"$work/$n.n"
}
ceiling() { # DIR NAME [--node N]: bench-put PUT/s
	d=$1 n=$2
	shift 2
	"$SANDBOX" bench-put --dir "$d" --connections "$CONCURRENCY" --secrets "$SMALL" --namespaces 10 --duration 10 \
		-o json "$@" >"$work/$n.json"
	jq -r '.putsPerSecond' "$work/$n.json"
}
waits() { # NAME: where rekeyctl's time went, from its timing counters
	jq -r 'if .timing == null then "-" else .timing | "list \(.wait_s.list | . * 10 | round / 10) s, PUT round trips (in-flight cap) \(.wait_s.inflight | . * 10 | round / 10) s, throttle \(.wait_s.throttle | . * 10 | round / 10) s, window \(.wait_s.window | . * 10 | round / 10) s, drain \(.wait_s.drain | . * 10 | round / 10) s, \(.checkpoints) checkpoints \(.checkpoint_s * 1000 | round) ms, of \(.wall_s | . * 10 | round / 10) s" end' "$work/$1.out"
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
load=$(cut -d' ' -f1-3 /proc/loadavg)
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)

# ---- the real control plane: every object stale, 0 and 10 ms between the apiservers and etcd ----
real_section() {
	R=$work/sbx-real
	"$SANDBOX" up --dir "$R" --real --apiservers 3 --secrets "$SMALL" --secret-bytes 1024 --namespaces 10 >/dev/null
	for lat in 0 10; do
		"$SANDBOX" fault --dir "$R" --etcd-latency-ms "$lat" >/dev/null
		rewrite "$R" "real$lat"
		if [ "$lat" = 0 ]; then kubectl_pipeline "$R" "rkc$lat"; else kubectl_pipeline "$R" "rkc$lat" ns-1; fi
		ceiling "$R" "rceil$lat" --node cp-1 >"$work/rceil$lat.v"
	done
	"$SANDBOX" down --dir "$R" >/dev/null
	{
		echo
		echo "## rewrite on the real control plane, $when, $(nproc) CPUs ($cpu), load $load, rev $rev"
		echo
		echo "3 kube-apiservers v1.34.4 over etcd v3.6.16 (\`up --real\`), 1 KiB secrets, every object stale (a new"
		echo "write key before each run), everything through cp-1; kubectl $(kubectl version --client 2>/dev/null | sed -n 's/^Client Version: //p')."
		echo
		echo "| apiserver-etcd latency | rekeyctl rewrite | kubectl get \\| replace | raw PUT ceiling (cp-1) | rekeyctl / ceiling | rekeyctl / kubectl |"
		echo "|---|---|---|---|---|---|"
		for lat in 0 10; do
			rk=$(rate_of "real$lat") kc=$(rate "$(cat "$work/rkc$lat.n")" "$(cat "$work/rkc$lat.s")") ce=$(cat "$work/rceil$lat.v")
			echo "| +$lat ms | $rk/s ($(jq -r '.counts.rewritten' "$work/real$lat.out") rewritten) | $kc/s ($(cat "$work/rkc$lat.n") objects) | $ce PUT/s | $(ratio "$rk" "$ce") | $(ratio "$rk" "$kc") |"
		done
	} | tee -a "$RESULTS"
}
if [ "$REAL" = only ]; then
	real_section
	exit 0
fi

# ---- throughput, side by side, at 0 and 10 ms added per request ----
S=$work/sbx-small
"$SANDBOX" up --dir "$S" --apiservers 3 --secrets "$SMALL" --secret-bytes 1024 --namespaces 10 >/dev/null
first=$(jq -r '.nodes[0].name' "$S/sandbox.json")
spread=$(jq -r '.nodes[] | "--endpoint \(.url)"' "$S/sandbox.json" | tr '\n' ' ')
for lat in 0 10; do
	faults "$S" --latency-ms "$lat"
	rewrite "$S" "one$lat"
	[ -n "$BEFORE" ] && RW=$BEFORE rewrite "$S" "before$lat"
	# shellcheck disable=SC2086 # $spread is several flags
	rewrite "$S" "spread$lat" $spread
	if [ "$lat" = 0 ]; then kubectl_pipeline "$S" "kc$lat"; else kubectl_pipeline "$S" "kc$lat" ns-1; fi
	ceiling "$S" "ceilone$lat" --node "$first" >"$work/ceilone$lat.v"
	ceiling "$S" "ceilall$lat" >"$work/ceilall$lat.v"
done
faults "$S" --clear
rk_rss_small=$(rss_mb "$work/one0.time")
kc_rss=$(rss_mb "$work/kc0.get.time")

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
rk_rss_large="skipped" large_rate="-" large_cpu="-"
if [ "$LARGE" -gt 0 ]; then
	L=$work/sbx-large
	"$SANDBOX" up --dir "$L" --apiservers 3 --secrets "$LARGE" --secret-bytes 1024 --namespaces 10 >/dev/null
	rewrite "$L" large
	rk_rss_large=$(rss_mb "$work/large.time")
	large_rate=$(rate_of large)
	large_cpu=$(cpu_ms_per_object "$work/large.time" "$(done_of large)")
	"$SANDBOX" down --dir "$L" >/dev/null
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

row() { # LABEL NAME CEILINGNAME: rekeyctl row with its share of the ceiling, CPU/object, waits
	r=$(rate_of "$2")
	echo "| $1 | $r objects/s ($(done_of "$2") in $(printf '%.1f' "$(cat "$work/$2.s")") s) | $(ratio "$r" "$(cat "$work/$3.v")") of $(cat "$work/$3.v") PUT/s | $(cpu_ms_per_object "$work/$2.time" "$(done_of "$2")") ms | $(rss_mb "$work/$2.time") MB | $(waits "$2") |"
}
kc_row() {
	n=$(cat "$work/$2.n")
	r=$(rate "$n" "$(cat "$work/$2.s")")
	echo "| $1 | $r objects/s ($n in $(printf '%.1f' "$(cat "$work/$2.s")") s) | rekeyctl (one apiserver) is $(ratio "$(rate_of "$3")" "$r")x | | $(rss_mb "$work/$2.get.time") MB (get), $(rss_mb "$work/$2.replace.time") MB (replace) | |"
}
{
	echo
	echo "## rewrite, $when, $(nproc) CPUs ($cpu), load $load (at the end: $load_end), rev $rev"
	echo
	echo "$SMALL stale 1 KiB secrets (every PUT a real etcd write), 3 apiservers, --concurrency $CONCURRENCY --batch-size 500;"
	echo "ceilings: bench-put with $CONCURRENCY connections through the same apiserver(s), 10 s."
	echo
	echo "| run | rate | vs ceiling / kubectl | CPU per object | peak RSS | where the time went (waits) |"
	echo "|---|---|---|---|---|---|"
	for lat in 0 10; do
		row "+$lat ms: rekeyctl rewrite, one apiserver" "one$lat" "ceilone$lat"
		[ -n "$BEFORE" ] && row "+$lat ms: before ($BEFORE), one apiserver" "before$lat" "ceilone$lat"
		row "+$lat ms: rekeyctl rewrite --endpoint x3 (spread)" "spread$lat" "ceilall$lat"
		kc_row "+$lat ms: kubectl get \\| replace" "kc$lat" "one$lat"
	done
	echo
	echo "| measure | value |"
	echo "|---|---|"
	echo "| peak RSS rekeyctl, $SMALL secrets | $rk_rss_small MB |"
	[ "$LARGE" -gt 0 ] && echo "| peak RSS rekeyctl, $LARGE secrets | $rk_rss_large MB ($large_rate objects/s, $large_cpu ms CPU per object) |"
	echo "| peak RSS kubectl get, $SMALL secrets | $kc_rss MB |"
	echo "| --qps 200 achieved over $(printf '%.0f' "$rate_s") s | $(printf '%.1f' "$(echo "$rate_n / $rate_s" | bc -l)") objects/s |"
	echo "| budget: 300 ms injected, 200 ms p99 budget: first slowdown after | $react |"
	echo "| budget: p99 (ms) and rate limit (objects/s) at the end | $settled |"
} | tee -a "$RESULTS"
[ "$REAL" = 1 ] && real_section
exit 0
