#!/bin/sh
# verify_bench.sh: scan rate and peak RSS of `rekeyctl verify` over N secrets (default 100000, 1 KiB)
# in a real etcd, from a snapshot and live, next to `etcdctl get --prefix` on the same data.
# Usage: sh tests/bench/verify_bench.sh [N] [BYTES]   (needs a release build: make)
set -eu
N=${1:-100000}
BYTES=${2:-1024}
top=$(cd "$(dirname "$0")/../.." && pwd)
REKEYCTL=${REKEYCTL:-$top/build/rel/bin/rekeyctl}
T=$(mktemp -d "${TMPDIR:-/tmp}/rekey-bench-XXXXXX")
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CP=$(port)
PP=$(port)
E=http://127.0.0.1:$CP
etcd --name b --data-dir "$T/etcd" --listen-client-urls "$E" --advertise-client-urls "$E" \
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
t0=$(date +%s.%N)
python3 "$top/tests/bench/seed_etcd.py" "$E" "$N" "$BYTES"
t1=$(date +%s.%N)
echo "seeded $N secrets of ~$BYTES bytes in $(echo "$t1 - $t0" | bc) s"
etcdctl --endpoints "$E" snapshot save "$T/snap.db" >/dev/null 2>&1
echo "snapshot: $(stat -c %s "$T/snap.db") bytes"
measure() { # measure LABEL CMD...: wall seconds, peak RSS (KiB), values/s
	label=$1
	shift
	/usr/bin/time -f "%e %M %U" -o "$T/time" "$@" >"$T/out" 2>"$T/err" || true
	read -r secs rss user <<EOF2
$(tail -n 1 "$T/time")
EOF2
	rate=$(echo "scale=0; $N / $secs" | bc 2>/dev/null || echo "-")
	printf '| %-46s | %7s s | %6s s | %8s KiB | %9s |\n' "$label" "$secs" "$user" "$rss" "$rate"
}
echo "| what | wall | user CPU | peak RSS | values/s |"
echo "|---|---|---|---|---|"
measure "rekeyctl verify --snapshot" "$REKEYCTL" verify --snapshot "$T/snap.db" --expect key1
measure "rekeyctl verify --snapshot -o json --limit 0" "$REKEYCTL" verify --snapshot "$T/snap.db" --expect key1 -o json --limit 0
measure "rekeyctl verify --etcd (adaptive pages)" "$REKEYCTL" verify --etcd "$E" --expect key1
measure "rekeyctl verify --etcd --page-size 500" "$REKEYCTL" verify --etcd "$E" --expect key1 --page-size 500

measure "etcdctl get --prefix /registry/secrets/" etcdctl --endpoints "$E" get --prefix /registry/secrets/
measure "etcdctl get --prefix --keys-only" etcdctl --endpoints "$E" get --prefix --keys-only /registry/secrets/

"$REKEYCTL" verify --snapshot "$T/snap.db" | tail -n 1
