#!/bin/sh
# run.sh: the sandbox benchmarks that later benchmarks compare against. (1) The PUT ceiling: unconditional
# PUTs of seeded secrets with 16 concurrent keep-alive connections (libcurl multi, TCP_NODELAY) spread
# over a 3-apiserver sandbox, with no added latency and with 10 ms added per request (sandbox fault).
# (2) How long `rekey-sandbox up --secrets 100000` takes to seed. Results are appended, with the
# machine (CPUs, CPU model, load, date), to tests/bench/RESULTS.md.
# Environment: SANDBOX (binary, default build/rel/bin/rekey-sandbox), DURATION (seconds per PUT run,
# default 10), CONNECTIONS (default 16), SEED_SECRETS (default 100000), RESULTS (output file).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
SANDBOX=${SANDBOX:-$top/build/rel/bin/rekey-sandbox}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
SEED_SECRETS=${SEED_SECRETS:-100000}
RESULTS=${RESULTS:-$top/tests/bench/RESULTS.md}
command -v jq >/dev/null || { echo "run.sh: jq is required" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/rekey-bench-XXXXXX")
cleanup() {
	for d in "$work/put" "$work/seed"; do [ -f "$d/etcd.pid" ] && "$SANDBOX" down --dir "$d" >/dev/null 2>&1; done
	rm -rf "$work"
}
trap cleanup EXIT

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
load=$(cut -d' ' -f1-3 /proc/loadavg)
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)

# ---- PUT ceiling ----
"$SANDBOX" up --dir "$work/put" --apiservers 3 --secrets 1000 --secret-bytes 1024 >/dev/null
"$SANDBOX" bench-put --dir "$work/put" --connections "$CONNECTIONS" --secrets 1000 --duration "$DURATION" -o json >"$work/r0.json"
url=$(jq -r '.nodes[0].url' "$work/put/sandbox.json")
for node in $(jq -r '.nodes[].name' "$work/put/sandbox.json"); do
	"$SANDBOX" fault --dir "$work/put" --node "$node" --latency-ms 10 >/dev/null
done
# wait until the latency is in effect (the apiserver re-reads faults.json within ~100 ms)
tries=0
until [ "$(curl -s -o /dev/null -w '%{time_starttransfer}' --cacert "$work/put/pki/ca.crt" --cert "$work/put/pki/admin.crt" \
	--key "$work/put/pki/admin.key" "$url/api/v1/namespaces/ns-1/secrets/secret-000000" | awk '{print ($1 >= 0.010)}')" = 1 ]; do
	tries=$((tries + 1))
	[ "$tries" -lt 50 ] || { echo "run.sh: the 10 ms latency fault never took effect" >&2; exit 1; }
	sleep 0.1
done
"$SANDBOX" bench-put --dir "$work/put" --connections "$CONNECTIONS" --secrets 1000 --duration "$DURATION" -o json >"$work/r10.json"
"$SANDBOX" down --dir "$work/put" >/dev/null

# ---- seeding 100k secrets ----
t0=$(date +%s.%N)
"$SANDBOX" up --dir "$work/seed" --apiservers 3 --secrets "$SEED_SECRETS" --secret-bytes 1024 --namespaces 10 >"$work/seed.out"
t1=$(date +%s.%N)
seed_s=$(sed -n 's/^seeded .* in \([0-9.]*\) s$/\1/p' "$work/seed.out")
count=$(curl -s -X POST "$(cat "$work/seed/etcd.url")/v3/kv/range" \
	-d "{\"key\":\"$(printf /registry/secrets/ | base64)\",\"range_end\":\"$(printf /registry/secrets0 | base64)\",\"count_only\":true}" | jq -r '.count')
"$SANDBOX" down --dir "$work/seed" >/dev/null
[ "$count" = "$SEED_SECRETS" ] || { echo "run.sh: etcd holds $count secrets, want $SEED_SECRETS" >&2; exit 1; }

row() { jq -r '"\(.putsPerSecond) PUT/s (\(.ok) ok, \(.failed) failed, p50 \(.p50Ms) ms, p99 \(.p99Ms) ms)"' "$1"; }
{
	echo
	echo "## $when, $(nproc) CPUs ($cpu), load $load, rev $rev"
	echo
	echo "| measurement | result |"
	echo "|---|---|"
	echo "| PUT ceiling, $CONNECTIONS connections, 3 apiservers, +0 ms, ${DURATION}s | $(row "$work/r0.json") |"
	echo "| PUT ceiling, $CONNECTIONS connections, 3 apiservers, +10 ms, ${DURATION}s | $(row "$work/r10.json") |"
	echo "| up --secrets $SEED_SECRETS (1 KiB, aescbc): seeding | ${seed_s} s ($(echo "$SEED_SECRETS $seed_s" | awk '{printf "%.0f", $1 / $2}') secrets/s) |"
	echo "| up --secrets $SEED_SECRETS: whole command (etcd, PKI, seeding, 3 apiservers ready) | $(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}') s |"
} | tee -a "$RESULTS"

# ---- rekeyctl rewrite against the same kind of sandbox (tests/bench/rewrite.sh appends its own table) ----
SANDBOX="$SANDBOX" RESULTS="$RESULTS" sh "$top/tests/bench/rewrite.sh"
