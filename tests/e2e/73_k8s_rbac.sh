#!/bin/sh
# 73_k8s_rbac.sh: examples/k8s against the real kube-apiserver (RBAC, the TokenRequest API). The
# manifests are accepted (namespace, ServiceAccount and RBAC applied; Job, CronJob and PVC by a server-side
# dry run); rekeyctl run as the ServiceAccount (a token from `kubectl create token`, the cluster CA) with
# rbac-rewrite.yaml applied rewrites every secret, and so does it in a pod's place (no kubeconfig: the
# token, CA and namespace at /var/run/secrets/kubernetes.io/serviceaccount in a private mount namespace,
# KUBERNETES_SERVICE_HOST/PORT set; without the token a one-line error, exit 2, nothing written); with
# `update` (then `list`) taken out of the ClusterRole it stops at once with exit 4 naming the verb and resource, and no object changed (resourceVersions);
# `rotate` as the ServiceAccount stops at its preflight the same way (no node, no key touched), also
# without the budget trend probes' Lease patch or the list of APIServices discovery needs, and with
# rbac-rewrite.yaml and rbac-rotate.yaml it rotates.
# control-planes: real
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

sbx_up k8s --apiservers 1 --secrets 60 --namespaces 3 || { not_ok sandbox_up "see log"; e2e_done; }
K=$D/kubeconfig
kc() { kubectl --kubeconfig "$K" "$@"; }
EX=examples/k8s
for f in namespace serviceaccount rbac-rewrite rbac-rotate; do
	kc apply -f "$EX/$f.yaml" >"$E2E_TMP/apply.out" 2>&1 && ok "applied_$f" || not_ok "applied_$f" "$(tail -n 3 "$E2E_TMP/apply.out")"
done
for f in pvc job-rewrite cronjob-rotate; do
	kc apply --dry-run=server -f "$EX/$f.yaml" >"$E2E_TMP/apply.out" 2>&1 && ok "accepted_$f" ||
		not_ok "accepted_$f" "$(tail -n 3 "$E2E_TMP/apply.out")"
done

# the ServiceAccount's own kubeconfig: a token the apiserver issued (TokenRequest) and the cluster CA
token=$(kc create token rekeyctl -n rekeyctl --duration 20m 2>"$E2E_TMP/token.err")
[ -n "$token" ] && ok token_issued || not_ok token_issued "$(cat "$E2E_TMP/token.err")"
server=$(kc config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
SA=$E2E_TMP/sa.kubeconfig
cat >"$SA" <<EOT
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$server", certificate-authority: "$D/pki/ca.crt"}
users:
- name: sa
  user: {token: "$token"}
contexts:
- name: sa
  context: {cluster: c, user: sa}
current-context: sa
EOT
chmod 600 "$SA"
kubectl --kubeconfig "$SA" auth whoami -o jsonpath='{.status.userInfo.username}' >"$E2E_TMP/whoami" 2>&1
[ "$(cat "$E2E_TMP/whoami")" = system:serviceaccount:rekeyctl:rekeyctl ] && ok runs_as_serviceaccount ||
	not_ok runs_as_serviceaccount "$(cat "$E2E_TMP/whoami")"
total=$(kc get secrets -A --no-headers | wc -l)

expect_exit rewrite_as_serviceaccount 0 "$REKEYCTL" rewrite --kubeconfig "$SA" --resource secrets \
	--cluster sa --state "$E2E_TMP/state" -o json
[ "$(jq -r '.counts.rewritten + .counts.current' "$E2E_TMP/out")" = "$total" ] && [ "$(jq -r .counts.failed "$E2E_TMP/out")" = 0 ] &&
	ok rewrote_every_secret || not_ok rewrote_every_secret "$total secrets: $(jq -c .counts "$E2E_TMP/out")"

# versions NAME: every secret's namespace/name@resourceVersion, sorted, into $E2E_TMP/NAME
versions() {
	kc get secrets -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}@{.metadata.resourceVersion}{"\n"}{end}' |
		sort >"$E2E_TMP/$1"
}

# ---- in the cluster: no kubeconfig at all, the pod's own files at their fixed path ----
# A private mount namespace puts a tmpfs on /run (/var/run) holding what the kubelet mounts into a pod
# (token, ca.crt, namespace at /var/run/secrets/kubernetes.io/serviceaccount) and the Service's
# environment points at cp-1; HOME is empty and KUBECONFIG unset, so the in-cluster path is the only one.
SAFILES=$E2E_TMP/serviceaccount
mkdir -p "$SAFILES" "$E2E_TMP/emptyhome"
printf '%s' "$token" >"$SAFILES/token"
cp "$D/pki/ca.crt" "$SAFILES/ca.crt"
printf rekeyctl >"$SAFILES/namespace"
hostport=${server#https://}
# in_pod FILES ARGS...: rekeyctl ARGS run as in a pod whose service-account files are FILES
in_pod() {
	pod_files=$1
	shift
	env -u KUBECONFIG HOME="$E2E_TMP/emptyhome" KUBERNETES_SERVICE_HOST="${hostport%:*}" \
		KUBERNETES_SERVICE_PORT="${hostport##*:}" unshare -m sh -c '
		mount -t tmpfs -o mode=0755 tmpfs /run &&
			mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
			cp "$0"/* /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"' "$pod_files" "$REKEYCTL" "$@"
}
expect_exit in_pod_rewrite 0 in_pod "$SAFILES" rewrite --resource secrets --cluster pod --state "$E2E_TMP/state" -o json
[ "$(jq -r '.counts.rewritten + .counts.current' "$E2E_TMP/out")" = "$total" ] && [ "$(jq -r .counts.failed "$E2E_TMP/out")" = 0 ] &&
	ok in_pod_rewrote_every_secret || not_ok in_pod_rewrote_every_secret "$total secrets: $(jq -c .counts "$E2E_TMP/out")"
[ ! -e /run/secrets/kubernetes.io/serviceaccount/token ] && ok in_pod_files_stayed_in_namespace ||
	not_ok in_pod_files_stayed_in_namespace "/run/secrets/kubernetes.io/serviceaccount/token exists outside the test's namespace"
# a pod without its token: a clear one-line error naming the file, exit 2, nothing written
mkdir -p "$E2E_TMP/notoken"
cp "$SAFILES/ca.crt" "$SAFILES/namespace" "$E2E_TMP/notoken/"
versions before-notoken
expect_exit in_pod_no_token 2 in_pod "$E2E_TMP/notoken" rewrite --resource secrets --cluster pod2 --state "$E2E_TMP/state"
expect_grep in_pod_no_token_names_file 'in-cluster.*/var/run/secrets/kubernetes.io/serviceaccount/token' "$E2E_TMP/err"
versions after-notoken
cmp -s "$E2E_TMP/before-notoken" "$E2E_TMP/after-notoken" && ok in_pod_no_token_nothing_written ||
	not_ok in_pod_no_token_nothing_written "$(diff "$E2E_TMP/before-notoken" "$E2E_TMP/after-notoken" | head -n 4)"

# without VERB: the ClusterRole lacks it; once the authorizer agrees, rekeyctl stops before any write
# sa_can_i VERB RESOURCE yes|no [KUBECTL ARGS]: waits (30 s at most) until the authorizer answers so for
# the ServiceAccount
sa_can_i() {
	can_verb=$1 can_resource=$2 can_want=$3
	shift 3
	deadline=$(($(date +%s) + 30))
	until [ "$(kc auth can-i "$can_verb" "$can_resource" "$@" --as system:serviceaccount:rekeyctl:rekeyctl 2>/dev/null)" = "$can_want" ]; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}
can_i() { sa_can_i "$1" secrets "$2" -A; }
# deny VERB VERBS: the ClusterRole keeps VERBS only, and the authorizer denies VERB
deny() {
	sed "s/verbs: \[\"list\", \"get\", \"update\"\]/verbs: [$2]/" "$EX/rbac-rewrite.yaml" | kc apply -f - >/dev/null
	can_i "$1" no
}
without() {
	verb=$1
	deny "$verb" "$2"
	versions "before-$verb"
	expect_exit "no_${verb}_refused" 4 "$REKEYCTL" rewrite --kubeconfig "$SA" --resource secrets \
		--cluster "sa-$verb" --state "$E2E_TMP/state"
	expect_grep "no_${verb}_names_verb_and_resource" "may not $verb secrets \\(all namespaces\\)" "$E2E_TMP/err"
	[ "$(grep -c . "$E2E_TMP/err")" -le 3 ] && ok "no_${verb}_stops_at_once" || not_ok "no_${verb}_stops_at_once" "$(head -c 400 "$E2E_TMP/err")"
	versions "after-$verb"
	cmp -s "$E2E_TMP/before-$verb" "$E2E_TMP/after-$verb" && ok "no_${verb}_nothing_written" ||
		not_ok "no_${verb}_nothing_written" "$(diff "$E2E_TMP/before-$verb" "$E2E_TMP/after-$verb" | head -n 4)"
}
without update '"list", "get"'
without list '"get", "update"'

# ---- rotate as the ServiceAccount: a missing verb stops the preflight before any node or key ----
sed -e "s|^kubeconfig: .*|kubeconfig: $SA|" -e "s|^context: .*|context: sa|" "$PLAN" >"$E2E_TMP/plan-sa.yaml"
grep -q "^kubeconfig: $SA\$" "$E2E_TMP/plan-sa.yaml" && ok plan_uses_serviceaccount || not_ok plan_uses_serviceaccount "$(grep -n kubeconfig "$E2E_TMP/plan-sa.yaml")"
cp "$(node_config cp-1)" "$E2E_TMP/cp-1.before"
without_rotate() {
	deny update '"list", "get"'
	expect_exit rotate_no_update_refused 4 "$REKEYCTL" rotate -f "$E2E_TMP/plan-sa.yaml" --state "$E2E_TMP/rstate"
	expect_grep rotate_no_update_named "may not update secrets \(all namespaces\)" "$E2E_TMP/err"
	cmp -s "$(node_config cp-1)" "$E2E_TMP/cp-1.before" && ok rotate_no_update_node_untouched || not_ok rotate_no_update_node_untouched "config changed"
	"$REKEYCTL" history --cluster sandbox --state "$E2E_TMP/rstate" -o json >"$E2E_TMP/h.json" 2>/dev/null
	[ "$(jq '.keys | length' "$E2E_TMP/h.json")" = 0 ] && ok rotate_no_update_no_key || not_ok rotate_no_update_no_key "$(head -c 300 "$E2E_TMP/h.json")"
}
without_rotate
# the example RBAC (rewrite + rotate) is enough for a whole rotation
kc apply -f "$EX/rbac-rewrite.yaml" >/dev/null
can_i update yes
# discovery: without list on APIServices the preflight cannot tell which resources the plan's rules cover
# and stops before any write, naming the grant
sed '/resources: \["apiservices"\]/{n;s/verbs: \["list"\]/verbs: ["get"]/;}' "$EX/rbac-rotate.yaml" | kc apply -f - >/dev/null
sa_can_i list apiservices.apiregistration.k8s.io no
expect_exit rotate_no_apiservices_refused 4 "$REKEYCTL" rotate -f "$E2E_TMP/plan-sa.yaml" --state "$E2E_TMP/rstate"
expect_grep rotate_no_apiservices_named "may not list apiservices\.apiregistration\.k8s\.io, which discovery" "$E2E_TMP/err"
cmp -s "$(node_config cp-1)" "$E2E_TMP/cp-1.before" && ok rotate_no_apiservices_node_untouched || not_ok rotate_no_apiservices_node_untouched "config changed"
# the budget trend's probes: without patch on Leases in kube-system the preflight stops before any write
lease_can_i() { sa_can_i "$1" leases.coordination.k8s.io "$2" -n kube-system; }
sed 's/"update", "patch", "delete"\]/"update", "delete"]/' "$EX/rbac-rotate.yaml" | kc apply -f - >/dev/null
lease_can_i patch no
sa_can_i list apiservices.apiregistration.k8s.io yes
expect_exit rotate_no_lease_patch_refused 4 "$REKEYCTL" rotate -f "$E2E_TMP/plan-sa.yaml" --state "$E2E_TMP/rstate"
expect_grep rotate_no_lease_patch_named "the budget trend's probes may not patch leases.coordination.k8s.io in namespace kube-system" "$E2E_TMP/err"
cmp -s "$(node_config cp-1)" "$E2E_TMP/cp-1.before" && ok rotate_no_lease_patch_node_untouched || not_ok rotate_no_lease_patch_node_untouched "config changed"
kc apply -f "$EX/rbac-rotate.yaml" >/dev/null
lease_can_i patch yes
old=$(write_key_of cp-1)
expect_exit rotate_as_serviceaccount 0 "$REKEYCTL" rotate -f "$E2E_TMP/plan-sa.yaml" --state "$E2E_TMP/rstate"
[ "$(write_key_of cp-1)" != "$old" ] && ok rotate_as_serviceaccount_new_key || not_ok rotate_as_serviceaccount_new_key "still $old"
e2e_done
