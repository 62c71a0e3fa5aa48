# rotate_lib.sh: helpers for the rotation scenarios (sourced after lib.sh): a sandbox per scenario, a
# plan tuned for tests, and the checks every rotation must pass. REKEY_CP=real (tests/run.sh sets it for
# scenarios marked "# control-planes: sandbox real") runs them on `rekey-sandbox up --real`: the real
# kube-apiserver v1.34 and etcd v3.6 built by `make realcp` (REALCP_BIN); a missing build fails `up`.
: "${SANDBOX:?SANDBOX must name the rekey-sandbox binary}"
REKEY_CP=${REKEY_CP:-sandbox}
REALCP_BIN=${REALCP_BIN:-$(pwd)/build/realcp/bin}
SBX_DIRS=""
if [ "$REKEY_CP" = real ]; then
	CP_FLAGS="--real --kube-apiserver $REALCP_BIN/kube-apiserver --etcd $REALCP_BIN/etcd"
	ETCDCTL=$REALCP_BIN/etcdctl
	READY_TIMEOUT=120s # a real apiserver takes seconds to start, more on a loaded machine
else
	CP_FLAGS=""
	ETCDCTL=etcdctl
	export ETCDCTL_API=3 # Debian's etcdctl 3.4 (3.6's has only v3 and warns about the variable)
	READY_TIMEOUT=30s
fi
is_real() { [ "$REKEY_CP" = real ]; }

rot_down_all() {
	for d in $SBX_DIRS; do "$SANDBOX" down --dir "$d" >/dev/null 2>&1; done
}
trap 'rot_down_all; e2e_cleanup' EXIT

# sbx_up NAME ARGS...: a sandbox in $E2E_TMP/NAME; sets D, PLAN (soak 0, short timeouts, a 5 s p99
# budget so a busy test machine does not stop a scenario about something else), STATE.
# A failed `up` is retried (up to 3 times, each in a fresh directory) after printing why: a sandbox
# apiserver that does not become ready is a sandbox problem worth its log, not this scenario's subject.
sbx_up() {
	name=$1
	shift
	for attempt in 1 2 3; do
		D=$E2E_TMP/$name-$attempt
		SBX_DIRS="$SBX_DIRS $D"
		# shellcheck disable=SC2086 # CP_FLAGS is a list of flags
		"$SANDBOX" up --dir "$D" $CP_FLAGS "$@" >"$E2E_TMP/up.log" 2>&1 && break
		echo "# sandbox up failed (attempt $attempt):"
		sed 's/^/#   /' "$E2E_TMP/up.log"
		for log in "$D"/nodes/*/apiserver.log; do
			[ -f "$log" ] && echo "# $log:" && tail -n 15 "$log" | sed 's/^/#   /'
		done
		"$SANDBOX" down --dir "$D" >/dev/null 2>&1
		[ "$attempt" = 3 ] && return 1
	done
	PLAN=$D/plan-test.yaml
	STATE=$D/state
	sed -e 's/soak: [0-9a-z]*/soak: 0s/' -e 's/writeP99: [0-9a-z]*/writeP99: 5s/' \
		-e "s/^controlPlane:/controlPlane:\n  readyTimeout: $READY_TIMEOUT/" "$D/plan.yaml" >"$PLAN"
}

# wait_ready NODE [DIR]: until the sandbox in DIR (default $D) reports NODE ready (the kubelet brings a
# repaired apiserver back after its crash-loop backoff), at most 120 s; returns 1 when it never is.
wait_ready() {
	deadline=$(($(date +%s) + 120))
	until [ "$("$SANDBOX" status --dir "${2:-$D}" -o json | jq -r ".nodes[] | select(.name == \"$1\") | .ready")" = true ]; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

node_config() { echo "$D/nodes/$1/etc/kubernetes/enc/enc.yaml"; }
etcd_url() { cat "$D/etcd.url"; }
# jq_ok NAME FILTER: the last command's stdout is one JSON object for which FILTER is true.
jq_ok() {
	if [ "$(jq -s 'length' "$E2E_TMP/out" 2>/dev/null)" = 1 ] && jq -e "$2" "$E2E_TMP/out" >/dev/null 2>&1; then
		ok "$1"
	else
		not_ok "$1" "$(jq -c . "$E2E_TMP/out" 2>&1 | head -c 1500)"
	fi
}
write_key_of() { "$REKEYCTL" config show "$(node_config "$1")" | sed -n 's/.*write key: \([^ ]*\).*/\1/p' | head -n 1; }

# A checksum of every secret's data through the API (kubectl), to prove the data did not change.
data_sum() {
	KUBECONFIG=$D/kubeconfig kubectl get secrets -A \
		-o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.data}{"\n"}{end}' |
		grep -v '^kube-system/rekeyctl-probe' | sort | sha256sum | cut -d' ' -f1
}

# kms_all_under STATE PROVIDER KEYID: every secret in etcd (one etcdctl read of keys and values) is a kms v2
# value of PROVIDER under KEYID, as the test plugin's own decoder reads it (STATE: that plugin's state
# file); sets total and bad.
kms_all_under() {
	"$ETCDCTL" --endpoints "$(etcd_url)" get --prefix /registry/secrets/ -w json | jq -r '.kvs[]?.value' >"$E2E_TMP/values"
	total=$(grep -c . "$E2E_TMP/values")
	: >"$E2E_TMP/decoded"
	while read -r v; do
		echo "$v" | base64 -d >"$E2E_TMP/value"
		"$REALCP_BIN/kmsplugin" decode --state "$1" <"$E2E_TMP/value" >>"$E2E_TMP/decoded" 2>/dev/null ||
			echo '{"provider": "undecodable"}' >>"$E2E_TMP/decoded"
	done <"$E2E_TMP/values"
	bad=$(jq -s --arg p "$2" --arg k "$3" --argjson n "$total" \
		'(map(select(.provider != $p or .key_id != $k)) | length) + $n - length' "$E2E_TMP/decoded")
	[ "$total" -gt 0 ] && [ "$bad" = 0 ]
}

# cross_readable: every node's write key is readable by every other node (the safety invariant).
cross_readable() {
	for a in cp-1 cp-2 cp-3; do
		w=$(write_key_of "$a")
		for b in cp-1 cp-2 cp-3; do
			if [ "$w" = identity ]; then
				grep -q 'identity' "$(node_config "$b")" || return 1
			else
				grep -q "name: $w\$" "$(node_config "$b")" || return 1
			fi
		done
	done
}

# check_rotated NAME OLDKEY SUMBEFORE: after a rotation, etcd holds every secret under the new write
# key only, data unchanged, old key gone from every node's config, every node runs the same write key.
check_rotated() {
	new=$(write_key_of cp-1)
	for n in cp-2 cp-3; do
		[ "$(write_key_of "$n")" = "$new" ] || { not_ok "$1_same_write_key" "$n writes $(write_key_of "$n"), cp-1 $new"; return; }
	done
	ok "$1_same_write_key"
	expect_exit "$1_etcd_all_under_new_key" 0 "$REKEYCTL" verify --etcd "$(etcd_url)" --resource secrets --expect "$new"
	"$ETCDCTL" --endpoints "$(etcd_url)" snapshot save "$D/snapshot.db" >/dev/null 2>&1 ||
		not_ok "$1_snapshot_saved" "etcdctl snapshot save failed"
	expect_exit "$1_snapshot_all_under_new_key" 0 "$REKEYCTL" verify --snapshot "$D/snapshot.db" --resource secrets --expect "$new"
	rm -f "$D/snapshot.db"
	gone=1
	for n in cp-1 cp-2 cp-3; do grep -q "name: $2\$" "$(node_config "$n")" && gone=0; done
	[ "$2" = identity ] && for n in cp-1 cp-2 cp-3; do grep -q identity "$(node_config "$n")" && gone=0; done
	[ "$gone" = 1 ] && ok "$1_old_key_gone" || not_ok "$1_old_key_gone" "$2 still in a node config"
	[ "$(data_sum)" = "$3" ] && ok "$1_data_unchanged" || not_ok "$1_data_unchanged" "checksum differs"
}

# set_enc_config FILE: installs FILE as every node's EncryptionConfiguration (0600), restarts every
# apiserver (an annotation in its static-pod manifest, as an operator's edit would; not when $PLAN says
# `reload: automatic`: those apiservers load the file themselves) and waits, up to 3 minutes, until each
# one reports running it (last_config_info's hash) and is ready (/readyz: a real apiserver serves
# /metrics seconds before its post-start hooks are done, and a rotation's preflight refuses an
# apiserver that is not ready).
set_enc_config() {
	h=$(sha256sum "$1" | cut -c1-64)
	for n in cp-1 cp-2 cp-3; do
		install -m 600 "$1" "$(node_config "$n")"
		grep -q '^  reload: automatic$' "$PLAN" && continue
		m=$D/nodes/$n/etc/kubernetes/manifests/kube-apiserver.yaml
		sed -i -e '/rekey.test\/config-hash/d' -e "s|^  annotations:\$|  annotations:\n    rekey.test/config-hash: \"$h\"|" "$m"
	done
	deadline=$(($(date +%s) + 180))
	for n in cp-1 cp-2 cp-3; do
		until "$REKEYCTL" kube --kubeconfig "$D/kubeconfig" --context "sandbox-$n" metrics 2>/dev/null |
			grep -q "last_config_info{.*hash=\"sha256:$h\""; do
			[ "$(date +%s)" -lt "$deadline" ] || { echo "# $n does not run config sha256:$h"; return 1; }
			sleep 0.5
		done
		until "$REKEYCTL" kube --kubeconfig "$D/kubeconfig" --context "sandbox-$n" readyz >/dev/null 2>&1; do
			[ "$(date +%s)" -lt "$deadline" ] || { echo "# $n is not ready"; return 1; }
			sleep 0.5
		done
	done
}
