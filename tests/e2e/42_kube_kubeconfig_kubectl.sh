#!/bin/sh
# 42_kube_kubeconfig_kubectl.sh: rekeyctl resolves kubeconfigs exactly as real kubectl does: the same
# context, cluster server, namespace, user, credential kind and resolved CA path, for merged KUBECONFIG
# lists (first file wins per entry, first non-empty current-context, missing files skipped), --context,
# and relative paths. kubectl's side comes from `kubectl config view --minify --raw` (offline).
. tests/e2e/lib.sh
T=$E2E_TMP
if ! command -v kubectl >/dev/null 2>&1; then
	skip kube_kubectl_config "kubectl is not installed"
	e2e_done
fi
mkdir -p "$T/a" "$T/b" "$T/c/pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=ca -days 1 \
	-keyout "$T/c/pki/ca.key" -out "$T/c/pki/ca.crt" 2>/dev/null
cp "$T/c/pki/ca.crt" "$T/b/ca.crt"
echo tok >"$T/b/tf"
cat >"$T/a/config" <<'EOF'
apiVersion: v1
kind: Config
current-context: ""
users:
- name: shared
  user: {token: from-a}
EOF
cat >"$T/b/config" <<'EOF'
apiVersion: v1
kind: Config
current-context: ctx-b
clusters:
- name: cc
  cluster: {server: "https://127.0.0.9:9", certificate-authority: ca.crt}
contexts:
- name: ctx-b
  context: {cluster: cb, user: shared, namespace: team-b}
users:
- name: shared
  user: {tokenFile: tf}
- name: other
  user: {tokenFile: tf}
EOF
cat >"$T/c/config" <<'EOF'
apiVersion: v1
kind: Config
current-context: ctx-c
clusters:
- name: cb
  cluster: {server: "https://127.0.0.3:1", certificate-authority: pki/ca.crt, tls-server-name: kubernetes}
- name: cc
  cluster: {server: "https://127.0.0.4:1"}
contexts:
- name: ctx-b
  context: {cluster: cc, user: other}
- name: ctx-c
  context: {cluster: cc, user: other}
EOF

# both NAME [ARGS]: compares rekeyctl's resolution with kubectl's for the same KUBECONFIG and flags.
both() {
	name=$1
	shift
	kubectl config view --minify --raw --flatten "$@" -o jsonpath='{.contexts[0].name}|{.clusters[0].cluster.server}|{.contexts[0].context.namespace}|{.contexts[0].context.user}|{.users[0].user.token}{.users[0].user.tokenFile}|{.clusters[0].cluster.certificate-authority-data}|{.clusters[0].cluster.tls-server-name}' \
		>"$T/kubectl.raw" 2>"$T/kubectl.err"
	# kubectl prints the credential itself; keep its kind (token / tokenFile) like rekeyctl does
	awk -F'|' -v OFS='|' '{ if ($5 == "from-a") $5 = "token"; else if ($5 ~ /tf$/) $5 = "tokenFile"; if ($3 == "") $3 = "default"; print }' \
		"$T/kubectl.raw" >"$T/kubectl.txt"
	"$REKEYCTL" kube "$@" config >"$T/rk.out" 2>"$T/rk.err"
	# the CA as kubectl --flatten inlines it: base64 of the file rekeyctl resolved
	ca=$(sed -n 's/^ca=//p' "$T/rk.out")
	cadata=$([ -n "$ca" ] && base64 -w0 "$ca")
	awk -F= -v cadata="$cadata" '{ v[$1] = substr($0, length($1) + 2) } END { print v["context"] "|" v["server"] "|" v["namespace"] "|" v["user"] "|" v["auth"] "|" cadata "|" v["tls-server-name"] }' \
		"$T/rk.out" >"$T/rk.txt"
	if [ -s "$T/kubectl.txt" ] && cmp -s "$T/kubectl.txt" "$T/rk.txt"; then
		ok "$name"
	else
		not_ok "$name" "kubectl: $(cat "$T/kubectl.txt" "$T/kubectl.err") rekeyctl: $(cat "$T/rk.txt" "$T/rk.err")"
	fi
}

export KUBECONFIG="$T/a/config:$T/missing:$T/b/config:$T/c/config"
both kube_kubectl_merged_current_context
both kube_kubectl_merged_context_flag --context ctx-c
export KUBECONFIG="$T/c/config:$T/b/config"
both kube_kubectl_merged_reverse_order
both kube_kubectl_merged_reverse_context --context ctx-b
unset KUBECONFIG
# b alone lacks cluster cb: both refuse it
kubectl config view --minify --kubeconfig "$T/b/config" --context ctx-b >/dev/null 2>&1
kubectl_rc=$?
expect_exit kube_kubectl_both_refuse 2 "$REKEYCTL" kube --kubeconfig "$T/b/config" --context ctx-b config
[ "$kubectl_rc" != 0 ] && ok kube_kubectl_refuses_too || not_ok kube_kubectl_refuses_too "kubectl accepted it"
expect_grep kube_kubectl_refusal_names_cluster "cluster \"cb\" \(context \"ctx-b\"\) not found in $T/b/config" "$T/err"
e2e_done
