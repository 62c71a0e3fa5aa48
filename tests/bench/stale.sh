# stale.sh: sourced by benchmarks and e2e scenarios: sandbox_new_write_key DIR NAME gives every apiserver
# of the sandbox in DIR a new aescbc write key NAME (added first, so every stored object becomes stale:
# its PUT is a real etcd write) and restarts them through their static-pod manifests, returning once
# every node runs the new config. Needs REKEYCTL and SANDBOX, jq-free (sed on sandbox.json).
sandbox_new_write_key() {
	_d=$1 _k=$2
	"$REKEYCTL" keygen --provider aescbc --out "$_d/$_k.key" >/dev/null || return 1
	for _n in $(ls "$_d/nodes"); do
		_enc=$_d/nodes/$_n/etc/kubernetes/enc/enc.yaml
		"$REKEYCTL" config add-key "$_enc" --provider aescbc --key-file "$_d/$_k.key" --key "$_k" >/dev/null &&
			"$REKEYCTL" config promote "$_enc" --key "$_k" >/dev/null || return 1
		_h=$("$REKEYCTL" config hash "$_enc" | awk '{print $1}')
		_m=$_d/nodes/$_n/etc/kubernetes/manifests/kube-apiserver.yaml
		sed -i '/rekeyctl.io\/config-hash/d' "$_m"
		sed -i "s|^  annotations:\$|  annotations:\n    rekeyctl.io/config-hash: \"$_h\"|" "$_m"
	done
	_deadline=$(($(date +%s) + 120))
	while :; do
		_ready=0 _all=0
		"$SANDBOX" status --dir "$_d" >"$_d/stale.status" 2>&1
		for _n in $(ls "$_d/nodes"); do
			_all=$((_all + 1))
			_enc=$_d/nodes/$_n/etc/kubernetes/enc/enc.yaml
			_h=$("$REKEYCTL" config hash "$_enc" | awk '{print $1}')
			_m=$_d/nodes/$_n/etc/kubernetes/manifests/kube-apiserver.yaml
			[ "$(cut -d' ' -f1 "$_d/nodes/$_n/manifest.seen" 2>/dev/null)" = "sha256:$(sha256sum <"$_m" | cut -d' ' -f1)" ] &&
				awk -v n="$_n" -v h="$_h" '$1 == n && $3 == "running" && $4 == "yes" && $7 == h {f=1} END {exit !f}' \
					"$_d/stale.status" && _ready=$((_ready + 1))
		done
		[ "$_ready" = "$_all" ] && return 0
		[ "$(date +%s)" -ge $_deadline ] && return 1
		sleep 0.2
	done
}
