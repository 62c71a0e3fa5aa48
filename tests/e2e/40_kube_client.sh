#!/bin/sh
# 40_kube_client.sh: the API client against the sandbox (real etcd, TLS, 2 apiservers): client
# certificate, bearer token, token file, exec plugin (run once while its token is valid), wrong CA,
# no credentials, merged KUBECONFIG, a named apiserver, discovery, readyz, leases with
# resourceVersion, retries under sandbox faults (5xx, 429 + Retry-After, bounds), and paging 10k
# secrets with limit 500 (peak RSS against one big page) through an etcd compaction (410 Expired).
. tests/e2e/lib.sh
: "${SANDBOX:?SANDBOX must name the rekey-sandbox binary}"
T=$E2E_TMP
D=$T/sbx
N=10000
trap '"$SANDBOX" down --dir "$D" >/dev/null 2>&1; e2e_cleanup' EXIT

sbx_up() { "$SANDBOX" up --dir "$D" --apiservers 2 --secrets $N >"$T/up.log" 2>&1; }
# more tries when a start fails (etcd start-up under load); the log of the last try is shown
sbx_retry_up() { "$SANDBOX" down --dir "$D" >/dev/null 2>&1; rm -rf "$D"; sbx_up; }
if ! sbx_up && ! sbx_retry_up && ! sbx_retry_up; then
	not_ok kube_sandbox_up "$(tail -5 "$T/up.log")"
	e2e_done
fi
ms_now() { date +%s%3N; }
K="$REKEYCTL kube --kubeconfig $D/kubeconfig"
CP1=$(cat "$D/nodes/cp-1/apiserver.url")
CP2=$(cat "$D/nodes/cp-2/apiserver.url")
TOKEN=$(head -n 1 "$D/pki/tokens.csv" | cut -d, -f1)

# --- authentication ---
expect_exit kube_sbx_client_cert 0 $K get /version -v
expect_grep kube_sbx_version '"gitVersion":"v1' "$T/out"
expect_grep kube_sbx_http11 'http_version=1' "$T/err" # the sandbox (libmicrohttpd) offers no h2

printf '%s\n' "$TOKEN" >"$T/tokenfile"
cat >"$T/plugin.sh" <<EOF
#!/bin/sh
echo run >>"$T/calls"
printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}\n' "$TOKEN"
EOF
chmod 700 "$T/plugin.sh"
cat >"$T/kc" <<EOF
apiVersion: v1
kind: Config
current-context: token
clusters:
- {name: s, cluster: {server: "$CP1", certificate-authority: $D/pki/ca.crt}}
- {name: other-ca, cluster: {server: "$CP1", certificate-authority: $T/other.crt}}
users:
- {name: token, user: {token: "$TOKEN"}}
- {name: tf, user: {tokenFile: tokenfile}}
- {name: bad-token, user: {token: not-a-token}}
- name: plugin
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ./plugin.sh}
contexts:
- {name: token, context: {cluster: s, user: token}}
- {name: tf, context: {cluster: s, user: tf}}
- {name: plugin, context: {cluster: s, user: plugin}}
- {name: anon, context: {cluster: s}}
- {name: bad-token, context: {cluster: s, user: bad-token}}
- {name: wrong-ca, context: {cluster: other-ca, user: token}}
EOF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other -days 1 \
	-keyout "$T/other.key" -out "$T/other.crt" 2>/dev/null
KT="$REKEYCTL kube --kubeconfig $T/kc"
expect_exit kube_sbx_bearer_token 0 $KT get /api/v1/namespaces/default/secrets?limit=1
expect_grep kube_sbx_bearer_token_list '"kind":"SecretList"' "$T/out"
expect_exit kube_sbx_token_file 0 $KT --context tf get /version
expect_exit kube_sbx_exec_plugin 0 $KT --context plugin repeat 30 /version --parallel 4
expect_grep kube_sbx_exec_plugin_ok 'ok=30 failed=0 .*exec_runs=1' "$T/out"
if [ "$(wc -l <"$T/calls")" = 1 ]; then ok kube_sbx_exec_once; else not_ok kube_sbx_exec_once "$(wc -l <"$T/calls") runs"; fi
expect_exit kube_sbx_no_credentials 1 $KT --context anon get /api/v1/secrets
expect_grep kube_sbx_401_message '401 Unauthorized' "$T/err"
expect_exit kube_sbx_bad_token 1 $KT --context bad-token get /api/v1/secrets
expect_grep kube_sbx_bad_token_401 '401' "$T/err"
expect_exit kube_sbx_wrong_ca 1 $KT --context wrong-ca get /version
expect_grep kube_sbx_wrong_ca_msg 'TLS/certificate error' "$T/err"

# --- merged KUBECONFIG: the first file's current-context (sandbox-cp-2) wins ---
printf 'current-context: sandbox-cp-2\n' >"$T/first.yaml"
export KUBECONFIG="$T/first.yaml:$D/kubeconfig"
expect_exit kube_sbx_merged 0 $REKEYCTL kube get /version -v
unset KUBECONFIG
expect_grep kube_sbx_merged_context "url=$CP2/version" "$T/err"

# --- a named apiserver with the cluster's credentials; readyz; discovery ---
expect_exit kube_sbx_endpoint 0 $K --endpoint "$CP2" readyz
expect_grep kube_sbx_endpoint_readyz '^\[\+\]etcd ok' "$T/out"
expect_exit kube_sbx_readyz_check 0 $K --endpoint "$CP2" readyz etcd
expect_exit kube_sbx_discover_secrets 0 $K resource secrets
expect_grep kube_sbx_discover_secrets_path 'group= version=v1 resource=secrets kind=Secret namespaced=1' "$T/out"
expect_exit kube_sbx_discover_leases 0 $K resource leases.coordination.k8s.io
expect_grep kube_sbx_discover_leases_path 'path=/apis/coordination.k8s.io/v1/namespaces/NAMESPACE/leases' "$T/out"
expect_exit kube_sbx_discover_unknown 2 $K resource frobs
expect_grep kube_sbx_discover_unknown_msg 'resource "frobs" not found by discovery' "$T/err"
expect_exit kube_sbx_metrics 0 $K --endpoint "$CP2" metrics
expect_grep kube_sbx_metrics_text '^apiserver_request_total\{' "$T/out"
expect_exit kube_sbx_pods 0 $K get /api/v1/namespaces/kube-system/pods
expect_grep kube_sbx_mirror_pod '"name":"kube-apiserver-cp-1"' "$T/out"

# --- leases: create, renew with the resourceVersion read; a stale PUT is a 409, not retried ---
LP=/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/rekeyctl-e2e
expect_exit kube_sbx_lease_create 0 $K lease kube-system rekeyctl-e2e tester
expect_grep kube_sbx_lease_created '^created rv=[0-9]+' "$T/out"
$K get $LP >"$T/lease-old.json"
expect_exit kube_sbx_lease_renew 0 $K lease kube-system rekeyctl-e2e tester
expect_grep kube_sbx_lease_renewed '^renewed rv=[0-9]+->[0-9]+' "$T/out"
expect_exit kube_sbx_lease_stale 1 $K raw PUT $LP -f "$T/lease-old.json" -v
expect_grep kube_sbx_lease_stale_409 'status=409 .*attempts=1' "$T/err"

# --- retries under sandbox faults on cp-1 (the "sandbox" context's server) ---
"$SANDBOX" fault --dir "$D" --node cp-1 --error-ratio 0.5 --error-code 503 >/dev/null
expect_exit kube_sbx_5xx_retried 0 $K repeat 40 /api/v1/namespaces/default/secrets?limit=1 --parallel 8 --attempts 25
expect_grep kube_sbx_5xx_all_ok 'ok=40 failed=0 .*retries=[1-9]' "$T/out"
"$SANDBOX" fault --dir "$D" --node cp-1 --error-ratio 1 --error-code 503 >/dev/null
t0=$(ms_now)
expect_exit kube_sbx_5xx_gives_up 1 $K --retry-budget-ms 2000 get /api/v1/namespaces/default/secrets?limit=1
el=$(($(ms_now) - t0))
expect_grep kube_sbx_5xx_gives_up_msg 'gave up after [0-9]+ attempts in [0-9.]+s: 503' "$T/err"
if [ "$el" -lt 4000 ]; then ok kube_sbx_retry_bound; else not_ok kube_sbx_retry_bound "${el} ms for a 2000 ms budget"; fi
"$SANDBOX" fault --dir "$D" --node cp-1 --clear >/dev/null
"$SANDBOX" fault --dir "$D" --node cp-1 --throttle-ratio 1 --retry-after 2 >/dev/null
t0=$(ms_now)
expect_exit kube_sbx_429_exhausted 1 $K --attempts 3 get /api/v1/namespaces/default/secrets?limit=1
el=$(($(ms_now) - t0))
expect_grep kube_sbx_429_msg 'gave up after 3 attempts .*429' "$T/err"
if [ "$el" -ge 4000 ]; then ok kube_sbx_429_retry_after_honoured; else not_ok kube_sbx_429_retry_after_honoured "2 waits took ${el} ms < 2 x 2 s"; fi
"$SANDBOX" fault --dir "$D" --node cp-1 --throttle-ratio 0.5 --retry-after 1 >/dev/null
expect_exit kube_sbx_429_then_ok 0 $K repeat 10 /version --parallel 10 --attempts 25
expect_grep kube_sbx_429_all_ok 'ok=10 failed=0' "$T/out"
"$SANDBOX" fault --dir "$D" --node cp-1 --clear >/dev/null

# --- paging: 10k secrets, limit 500, against one page of 10k ---
# ASan keeps freed memory in quarantine; without it, VmHWM shows what the process really holds
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
expect_exit kube_sbx_list_paged 0 $K --attempts 12 list /api/v1/secrets --limit 500 -v
sort "$T/out" >"$T/paged"
expect_grep kube_sbx_list_paged_pages "listed=$N pages=20 inconsistent=0" "$T/err"
PAGED_KB=$(sed -n 's/.*vmhwm_kb=\([0-9]*\).*/\1/p' "$T/err")
expect_exit kube_sbx_list_one_page 0 $K --attempts 12 list /api/v1/secrets --limit $N -v
ONE_KB=$(sed -n 's/.*vmhwm_kb=\([0-9]*\).*/\1/p' "$T/err")
echo "peak RSS (VmHWM): limit 500: ${PAGED_KB} kB, limit $N: ${ONE_KB} kB"
if [ -n "$PAGED_KB" ] && [ -n "$ONE_KB" ] && [ $((PAGED_KB * 2)) -lt "$ONE_KB" ]; then
	ok kube_sbx_paging_memory
else
	not_ok kube_sbx_paging_memory "paged ${PAGED_KB} kB is not well under one-page ${ONE_KB} kB"
fi
if [ "$(uniq "$T/paged" | wc -l)" = $N ]; then ok kube_sbx_list_unique; else not_ok kube_sbx_list_unique "$(uniq -d "$T/paged" | head -3)"; fi

# --- 410 mid-list: a write and an etcd compaction after page 2; the list goes on, by name ---
ETCD=$(cat "$D/etcd.url")
cat >"$T/compact.sh" <<EOF
#!/bin/sh
export ETCDCTL_API=3
etcdctl --endpoints "$ETCD" put /rekey-e2e/bump x >/dev/null
rev=\$(etcdctl --endpoints "$ETCD" endpoint status -w json | sed -n 's/.*"revision":\([0-9]*\).*/\1/p')
etcdctl --endpoints "$ETCD" compaction "\$rev" >/dev/null
EOF
chmod 700 "$T/compact.sh"
expect_exit kube_sbx_list_410 0 $K --attempts 12 list /api/v1/secrets --limit 500 -v --run-after-page 2 --run "$T/compact.sh"
expect_grep kube_sbx_list_410_inconsistent "listed=$N pages=20 inconsistent=1" "$T/err"
expect_grep kube_sbx_list_410_warned 'continue token expired \(410\)' "$T/err"
sort "$T/out" >"$T/after410"
if cmp -s "$T/paged" "$T/after410"; then ok kube_sbx_list_410_same_names; else not_ok kube_sbx_list_410_same_names "$(diff "$T/paged" "$T/after410" | head -5)"; fi

e2e_done
