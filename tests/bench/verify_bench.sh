#!/bin/sh
# verify_bench.sh: scan rate and peak RSS of `rekeyctl verify` on one real etcd, side by side in one
# run with `etcdctl get --prefix`: for each size N (default 10000 then 100000 secrets of BYTES, default
# 1 KiB), the keyspace is grown to N and every reader runs on the same data: rekeyctl from a snapshot,
# live over gRPC (the default), live over the JSON gateway, and etcdctl. Wall, user CPU and peak RSS
# come from /usr/bin/time -v; values/s = N / wall. The machine's load is printed with each size. The
# gRPC scan and `etcdctl get` alternate REPEAT times (default 3) so a busy moment hits both alike.
# Usage: sh tests/bench/verify_bench.sh [BYTES [N...]]   (needs a release build: make)
# Environment: ETCD (the etcd binary, default etcd from PATH, e.g. build/realcp/bin/etcd), REKEYCTL,
# REPEAT.
set -eu
BYTES=${1:-1024}
[ $# -gt 0 ] && shift
SIZES=${*:-10000 100000}
REPEAT=${REPEAT:-3}
top=$(cd "$(dirname "$0")/../.." && pwd)
REKEYCTL=${REKEYCTL:-$top/build/rel/bin/rekeyctl}
T=$(mktemp -d "${TMPDIR:-/tmp}/rekey-bench-XXXXXX")
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CP=$(port)
PP=$(port)
E=http://127.0.0.1:$CP
"${ETCD:-etcd}" --name b --data-dir "$T/etcd" --listen-client-urls "$E" --advertise-client-urls "$E" \
	--listen-peer-urls "http://127.0.0.1:$PP" --initial-advertise-peer-urls "http://127.0.0.1:$PP" \
	--initial-cluster "b=http://127.0.0.1:$PP" --quota-backend-bytes=8589934592 >"$T/etcd.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$T"' EXIT
export ETCDCTL_API=3
deadline=$(($(date +%s) + 30))
until etcdctl --endpoints "$E" endpoint health >/dev/null 2>&1; do
	[ "$(date +%s)" -lt $deadline ] || { echo "etcd did not start"; exit 1; }
	sleep 0.2
done
measure() { # measure N LABEL CMD...: wall, user CPU, peak RSS, values/s; checks the reader saw N values
	n=$1 label=$2
	shift 2
	/usr/bin/time -v -o "$T/time" "$@" >"$T/out" 2>"$T/err" || true
	secs=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$T/time" |
		awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
	user=$(sed -n 's/.*User time (seconds): //p' "$T/time")
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time")
	rate=$(echo "scale=0; $n / $secs" | bc 2>/dev/null || echo "-")
	printf '| %7s | %-42s | %7s s | %6s s | %6s MB | %9s |\n' "$n" "$label" "$secs" "$user" \
		"$(echo "scale=1; $rss / 1024" | bc)" "$rate"
}
seen() { jq -r .total "$T/out" 2>/dev/null || echo "?"; }
have=0
echo "| N | what | wall | user CPU | peak RSS | values/s |"
echo "|---|---|---|---|---|---|"
for N in $SIZES; do
	python3 "$top/tests/bench/seed_etcd.py" "$E" "$N" "$BYTES" "$have"
	have=$N
	etcdctl --endpoints "$E" snapshot save "$T/snap.db" >/dev/null 2>&1
	echo "| $N | (load $(cut -d' ' -f1-3 /proc/loadavg); snapshot $(($(stat -c %s "$T/snap.db") / 1048576)) MB) | | | | |"
	measure "$N" "rekeyctl verify --snapshot" "$REKEYCTL" verify --snapshot "$T/snap.db" --expect key1 -o json --limit 1
	measure "$N" "rekeyctl verify --etcd --etcd-api json" "$REKEYCTL" verify --etcd "$E" --etcd-api json --expect key1 -o json --limit 1
	[ "$(seen)" = "$N" ] || echo "JSON scan saw $(seen) values, want $N" >&2
	r=0
	while [ $r -lt "$REPEAT" ]; do
		r=$((r + 1))
		measure "$N" "rekeyctl verify --etcd (gRPC) #$r" "$REKEYCTL" verify --etcd "$E" --expect key1 -o json --limit 1
		[ "$(seen)" = "$N" ] || echo "gRPC scan saw $(seen) values, want $N" >&2
		measure "$N" "etcdctl get --prefix /registry/secrets/ #$r" etcdctl --endpoints "$E" get --prefix /registry/secrets/
	done
	measure "$N" "etcdctl get --prefix --keys-only" etcdctl --endpoints "$E" get --prefix --keys-only /registry/secrets/
done
