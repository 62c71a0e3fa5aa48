#!/bin/sh
# 23_fidelity.sh: the apiserver and etcd behaviours rekeyctl relies on, asserted the same way against the
# sandbox and against the real kube-apiserver v1.34 / etcd v3.6 (docs/fidelity.md lists each with its
# result on both): stored formats and AAD per provider in both directions (the apiserver reads what our
# codec seeds, rekeyctl's verify decrypts what the apiserver writes), the no-op and stale rewrite rule,
# 409, the 404 orphan, paging and the 410 of an expired continue token with its inconsistent token,
# /readyz and its named checks, the metric names and labels gates and budgets read, identity Leases and
# apiserver_id_hash, discovery, HTTP/2 and protobuf, and the reload signal (last_config_info). Where the
# two differ on purpose the assertion names the documented value for each (cp_expect).
# control-planes: sandbox real
. tests/e2e/lib.sh
. tests/e2e/rotate_lib.sh

sbx_up fid --apiservers 2 --secrets 20 --namespaces 2 --reload automatic --reload-period 1 ||
	{ not_ok sandbox_up "see log"; e2e_done; }
CP1=$(jq -r '.nodes[0].url' "$D/sandbox.json")
CP2=$(jq -r '.nodes[1].url' "$D/sandbox.json")
ETCD=$(etcd_url)

# api URL METHOD PATH [BODY_FILE [CONTENT_TYPE]]: curl as admin; body in $E2E_TMP/body, status printed.
api() {
	set -- "$@" "" ""
	curl -sS -o "$E2E_TMP/body" -w '%{http_code}' --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" \
		--key "$D/pki/admin.key" -X "$2" ${4:+--data-binary "@$4"} \
		-H "Content-Type: ${5:-application/json}" "$1$3"
}
# cp_expect NAME SANDBOX_VALUE REAL_VALUE GOT: GOT must be the documented value for this control plane.
cp_expect() {
	if is_real; then want=$3; else want=$2; fi
	[ "$4" = "$want" ] && ok "$1" || not_ok "$1" "got '$4', documented for $REKEY_CP: '$want'"
}
stored() { "$ETCDCTL" --endpoints "$ETCD" get "$1" --print-value-only; }
mod_rev() { "$ETCDCTL" --endpoints "$ETCD" get "$1" -w json | jq -r '.kvs[0].mod_revision'; }
file_hash() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
config_hash_of() { # URL: the hash label of last_config_info
	api "$1" GET /metrics >/dev/null
	sed -n 's/^apiserver_encryption_config_controller_last_config_info{.*hash="\(sha256:[0-9a-f]*\)".*} 1$/\1/p' \
		"$E2E_TMP/body" | head -n 1
}
# set_config FILE: the same enc.yaml on both nodes, then waits (on last_config_info, never on time) until
# both apiservers run it.
set_config() {
	for n in cp-1 cp-2; do cp "$1" "$(node_config "$n").new" && mv "$(node_config "$n").new" "$(node_config "$n")"; done
	want=$(file_hash "$1")
	deadline=$(($(date +%s) + 90))
	until [ "$(config_hash_of "$CP1")" = "$want" ] && [ "$(config_hash_of "$CP2")" = "$want" ]; do
		[ "$(date +%s)" -ge "$deadline" ] && { not_ok "reload_$2" "apiservers do not run $want"; return 1; }
		sleep 0.2
	done
	ok "reload_$2"
}
# with_write_key PROVIDER NAME: enc.yaml with a fresh PROVIDER key NAME first, then the current providers.
with_write_key() {
	cur=$(node_config cp-1)
	if [ "$1" = identity ]; then block='      - identity: {}'; else
		block="      - $1: {keys: [{name: $2, secret: $(head -c 32 /dev/urandom | base64 -w0)}]}"
	fi
	grep -v '^ *- identity: {}$' "$cur" | awk -v b="$block" '{print} /^    providers:/ && !done {print b; done=1}' >"$E2E_TMP/enc.yaml"
	[ "$1" = identity ] || echo '      - identity: {}' >>"$E2E_TMP/enc.yaml"
	chmod 600 "$E2E_TMP/enc.yaml"
}
secret_json() { printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"%s","namespace":"default"},"type":"Opaque","data":{"k":"%s"}}' "$1" "$(printf %s "$1" | base64)" >"$E2E_TMP/$1.json"; }

# ---- the apiserver reads what our codec seeded (aescbc, JSON plaintext) ----
[ "$(api "$CP2" GET /api/v1/namespaces/ns-1/secrets/secret-000000)" = 200 ] && jq -e '.data.data | length > 0' "$E2E_TMP/body" >/dev/null &&
	ok seeded_aescbc_readable || not_ok seeded_aescbc_readable "$(head -c 300 "$E2E_TMP/body")"

# ---- stored formats per provider, both directions ----
i=0
for p in aesgcm secretbox aescbc identity; do
	i=$((i + 1))
	with_write_key "$p" "fid-$p"
	set_config "$E2E_TMP/enc.yaml" "$p" || continue
	secret_json "w-$p"
	[ "$(api "$CP1" POST /api/v1/namespaces/default/secrets "$E2E_TMP/w-$p.json")" = 201 ] || not_ok "create_$p" "$(head -c 200 "$E2E_TMP/body")"
	v=$(stored "/registry/secrets/default/w-$p" | head -c 40 | tr -d '\0')
	if [ "$p" = identity ]; then
		first=$(stored "/registry/secrets/default/w-$p" | head -c 3)
		cp_expect identity_plaintext_format '{"a' k8s "$first"
	else
		case "$v" in "k8s:enc:$p:v1:fid-$p:"*) ok "stored_prefix_$p" ;; *) not_ok "stored_prefix_$p" "$v" ;; esac
	fi
	"$SANDBOX" seed --dir "$D" --secrets 2 --namespaces 2 --first $((1000 + 10 * i)) >/dev/null 2>&1
	name=$(printf 'secret-%06d' $((1000 + 10 * i)))
	[ "$(api "$CP2" GET "/api/v1/namespaces/ns-1/secrets/$name")" = 200 ] && ok "apiserver_reads_seeded_$p" ||
		not_ok "apiserver_reads_seeded_$p" "$(head -c 200 "$E2E_TMP/body")"
	"$REKEYCTL" verify --etcd "$ETCD" --resource secrets --config "$E2E_TMP/enc.yaml" -o json >"$E2E_TMP/verify.json" 2>"$E2E_TMP/err"
	jq -e '.decryptChecked > 0 and .decryptFailed == 0' "$E2E_TMP/verify.json" >/dev/null && ok "verify_decrypts_apiserver_$p" ||
		not_ok "verify_decrypts_apiserver_$p" "$(head -c 300 "$E2E_TMP/verify.json") $(head -c 200 "$E2E_TMP/err")"
done

# ---- verify reads etcd through gRPC and through the JSON gateway alike ----
for api_kind in grpc json; do
	"$REKEYCTL" verify --etcd "$ETCD" --etcd-api "$api_kind" --resource secrets >"$E2E_TMP/v-$api_kind" 2>&1
	grep -o '^[0-9]* values scanned' "$E2E_TMP/v-$api_kind" >"$E2E_TMP/n-$api_kind"
done
[ -s "$E2E_TMP/n-grpc" ] && cmp -s "$E2E_TMP/n-grpc" "$E2E_TMP/n-json" && ok verify_etcd_grpc_and_json ||
	not_ok verify_etcd_grpc_and_json "grpc: $(tail -n 1 "$E2E_TMP/v-grpc"); json: $(tail -n 1 "$E2E_TMP/v-json")"

# ---- no-op and stale rewrite, 409 ----
secret_json nop
api "$CP1" POST /api/v1/namespaces/default/secrets "$E2E_TMP/nop.json" >/dev/null
api "$CP1" GET /api/v1/namespaces/default/secrets/nop >/dev/null && cp "$E2E_TMP/body" "$E2E_TMP/nop-got.json"
rv0=$(jq -r .metadata.resourceVersion "$E2E_TMP/nop-got.json")
api "$CP1" PUT /api/v1/namespaces/default/secrets/nop "$E2E_TMP/nop-got.json" >/dev/null
[ "$(jq -r .metadata.resourceVersion "$E2E_TMP/body")" = "$rv0" ] && [ "$(mod_rev /registry/secrets/default/nop)" = "$rv0" ] &&
	ok noop_put_keeps_resource_version || not_ok noop_put_keeps_resource_version "rv $rv0 -> $(jq -r .metadata.resourceVersion "$E2E_TMP/body")"
with_write_key aescbc fid-stale
set_config "$E2E_TMP/enc.yaml" stale_key
api "$CP1" PUT /api/v1/namespaces/default/secrets/nop "$E2E_TMP/nop-got.json" >/dev/null
rv1=$(jq -r .metadata.resourceVersion "$E2E_TMP/body")
[ "$rv1" != "$rv0" ] && case "$(stored /registry/secrets/default/nop | head -c 28)" in k8s:enc:aescbc:v1:fid-stale:) true ;; *) false ;; esac &&
	ok stale_put_rewrites || not_ok stale_put_rewrites "rv $rv0 -> $rv1, $(stored /registry/secrets/default/nop | head -c 30)"
# An object seeded (JSON plaintext) under the current write key: the real apiserver stores protobuf, so
# re-encoding differs from the stored bytes and its PUT is a write; the sandbox stores JSON: a no-op.
"$SANDBOX" seed --dir "$D" --secrets 1 --namespaces 2 --first 1100 >/dev/null 2>&1
api "$CP1" GET /api/v1/namespaces/ns-1/secrets/secret-001100 >/dev/null && cp "$E2E_TMP/body" "$E2E_TMP/seeded.json"
rv_s=$(jq -r .metadata.resourceVersion "$E2E_TMP/seeded.json")
api "$CP1" PUT /api/v1/namespaces/ns-1/secrets/secret-001100 "$E2E_TMP/seeded.json" >/dev/null
[ "$(jq -r .metadata.resourceVersion "$E2E_TMP/body")" = "$rv_s" ] && same=kept || same=new
cp_expect seeded_json_current_put kept new "$same"
code=$(api "$CP1" PUT /api/v1/namespaces/default/secrets/nop "$E2E_TMP/nop-got.json")
[ "$code" = 409 ] && jq -e '.kind == "Status" and .reason == "Conflict" and .code == 409' "$E2E_TMP/body" >/dev/null &&
	ok conflict_409 || not_ok conflict_409 "HTTP $code $(head -c 200 "$E2E_TMP/body")"

# ---- 404 orphan: the namespace is gone (removed from etcd; no namespace controller runs) ----
printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"doomed"}}' >"$E2E_TMP/ns.json"
api "$CP1" POST /api/v1/namespaces "$E2E_TMP/ns.json" >/dev/null
secret_json orphan && sed -i 's/"namespace":"default"/"namespace":"doomed"/' "$E2E_TMP/orphan.json"
api "$CP1" POST /api/v1/namespaces/doomed/secrets "$E2E_TMP/orphan.json" >/dev/null
"$ETCDCTL" --endpoints "$ETCD" del /registry/namespaces/doomed >/dev/null
deadline=$(($(date +%s) + 30))
until [ "$(api "$CP1" GET /api/v1/namespaces/doomed)" = 404 ] || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.2; done
api "$CP1" GET /api/v1/namespaces/doomed/secrets/orphan >/dev/null && cp "$E2E_TMP/body" "$E2E_TMP/orphan-got.json"
code=$(api "$CP1" PUT /api/v1/namespaces/doomed/secrets/orphan "$E2E_TMP/orphan-got.json")
get=$(api "$CP1" GET /api/v1/namespaces/doomed/secrets/orphan)
[ "$code" = 404 ] && [ "$get" = 200 ] && ok orphan_put_404_get_200 || not_ok orphan_put_404_get_200 "PUT $code, GET $get"

# ---- paging and continue tokens ----
total=$(KUBECONFIG=$D/kubeconfig kubectl get secrets -n ns-1 --no-headers | wc -l)
api "$CP1" GET "/api/v1/namespaces/ns-1/secrets?limit=3" >/dev/null
tok=$(jq -r '.metadata.continue // empty' "$E2E_TMP/body")
[ "$(jq '.items | length' "$E2E_TMP/body")" = 3 ] && [ -n "$tok" ] && ok paging_first_page || not_ok paging_first_page "$(head -c 200 "$E2E_TMP/body")"
seen=3
while [ -n "$tok" ]; do
	api "$CP1" GET "/api/v1/namespaces/ns-1/secrets?limit=3&continue=$tok" >/dev/null || break
	seen=$((seen + $(jq '.items | length' "$E2E_TMP/body")))
	tok=$(jq -r '.metadata.continue // empty' "$E2E_TMP/body")
done
[ "$seen" = "$total" ] && ok paging_follows_continue || not_ok paging_follows_continue "$seen of $total"
api "$CP1" GET "/api/v1/namespaces/ns-1/secrets?limit=2" >/dev/null
tok=$(jq -r '.metadata.continue' "$E2E_TMP/body")
for n in 1 2 3; do secret_json "churn-$n" && api "$CP1" POST /api/v1/namespaces/default/secrets "$E2E_TMP/churn-$n.json" >/dev/null; done
rev=$("$ETCDCTL" --endpoints "$ETCD" get /registry/secrets/default/churn-3 -w json | jq -r .header.revision)
"$ETCDCTL" --endpoints "$ETCD" compact "$rev" >/dev/null
# The real v1.34 serves continued lists from its watch-cache snapshots (ListFromCacheSnapshot) and learns
# of a compaction only through the key its own compactor records it in (compact_rev_key, watched), which
# its cache reads every 15 s: compact as the apiserver does (record the revision), then 410 within ~15 s.
"$ETCDCTL" --endpoints "$ETCD" put compact_rev_key "$rev" >/dev/null
t_compact=$(date +%s)
deadline=$((t_compact + 45))
first_code=$(api "$CP1" GET "/api/v1/namespaces/ns-1/secrets?limit=2&continue=$tok")
until code=$(api "$CP1" GET "/api/v1/namespaces/ns-1/secrets?limit=2&continue=$tok") && [ "$code" != 200 ]; do
	[ "$(date +%s)" -ge "$deadline" ] && break
	sleep 0.5
done
echo "# continue token after compaction: first answer $first_code, then $code after $(($(date +%s) - t_compact)) s"
[ "$code" = 410 ] && jq -e '.reason == "Expired"' "$E2E_TMP/body" >/dev/null && ok expired_continue_410 ||
	not_ok expired_continue_410 "HTTP $code $(head -c 200 "$E2E_TMP/body")"
jq -r .message "$E2E_TMP/body" | grep -q '^The provided continue parameter is too old to display a consistent list result' &&
	ok expired_continue_message || not_ok expired_continue_message "$(jq -r .message "$E2E_TMP/body")"
inc=$(jq -r '.metadata.continue // empty' "$E2E_TMP/body")
[ -n "$inc" ] && [ "$(api "$CP1" GET "/api/v1/namespaces/ns-1/secrets?limit=2&continue=$inc")" = 200 ] &&
	ok expired_continue_inconsistent_token || not_ok expired_continue_inconsistent_token "token '$inc'"

# ---- /readyz, named checks ----
[ "$(api "$CP1" GET '/readyz?verbose')" = 200 ] && ok readyz_200 || not_ok readyz_200 "$(head -c 200 "$E2E_TMP/body")"
for check in etcd kms-providers; do
	expect_grep "readyz_names_$check" "^\[\+\]$check ok" "$E2E_TMP/body"
done
[ "$(api "$CP1" GET /readyz/etcd)" = 200 ] && grep -qx ok "$E2E_TMP/body" && ok readyz_single_check || not_ok readyz_single_check "$(head -c 100 "$E2E_TMP/body")"

# ---- metrics gates and budgets read ----
api "$CP1" GET /metrics >/dev/null
cp "$E2E_TMP/body" "$E2E_TMP/metrics"
expect_grep metric_last_config_info "^apiserver_encryption_config_controller_last_config_info\{apiserver_id_hash=\"sha256:[0-9a-f]{64}\",hash=\"$(file_hash "$(node_config cp-1)")\"\} 1$" "$E2E_TMP/metrics"
expect_grep metric_automatic_reloads "^apiserver_encryption_config_controller_automatic_reloads_total\{apiserver_id_hash=\"sha256:[0-9a-f]{64}\",status=\"success\"\} [1-9]" "$E2E_TMP/metrics"
put_bucket=$(grep '^apiserver_request_duration_seconds_bucket{' "$E2E_TMP/metrics" | grep 'verb="PUT"' | grep 'resource="secrets"' |
	grep 'group=""' | grep 'subresource=""' | grep -c 'dry_run=""')
[ "$put_bucket" -gt 0 ] && ok metric_put_duration_labels || not_ok metric_put_duration_labels "no PUT secrets bucket"
expect_grep metric_inflight_mutating '^apiserver_current_inflight_requests\{request_kind="mutating"\} [0-9]' "$E2E_TMP/metrics"
# series NAME LABEL...: how many series of metric NAME carry every LABEL (name="value", in any order).
series() {
	name=$1
	shift
	grep "^$name{" "$E2E_TMP/metrics" >"$E2E_TMP/series"
	for l in "$@"; do grep -F "$l" "$E2E_TMP/series" >"$E2E_TMP/series.n"; mv "$E2E_TMP/series.n" "$E2E_TMP/series"; done
	grep -c . "$E2E_TMP/series"
}
# the budget's split of apiserver_request_total: writes by verb, dry runs and subresources left out,
# 5xx and 429 by the code label (a 3-digit string; the 201 and 404 of the requests above)
n=$(series apiserver_request_total 'verb="POST"' 'resource="secrets"' 'group=""' 'version="v1"' 'subresource=""' 'dry_run=""' 'code="201"')
[ "$n" -gt 0 ] && ok metric_request_total_labels || not_ok metric_request_total_labels "no POST secrets 201 series"
n=$(series apiserver_request_total 'verb="PUT"' 'resource="secrets"' 'code="404"')
[ "$n" -gt 0 ] && ok metric_request_total_code_404 || not_ok metric_request_total_code_404 "no PUT secrets 404 series"
# the histogram's bounds (5 ms ... 60 s) and its _count, which the p99 interpolates over
for le in 0.005 0.1 1 60 +Inf; do
	n=$(series apiserver_request_duration_seconds_bucket 'verb="PUT"' 'resource="secrets"' "le=\"$le\"")
	[ "$n" -gt 0 ] && ok "metric_duration_le_$le" || not_ok "metric_duration_le_$le" "no PUT secrets bucket le=$le"
done
n=$(series apiserver_request_duration_seconds_count 'verb="POST"' 'resource="secrets"' 'dry_run=""')
[ "$n" -gt 0 ] && ok metric_duration_count || not_ok metric_duration_count "no POST secrets _count"
expect_grep metric_process_start_time '^process_start_time_seconds [0-9.e+]+$' "$E2E_TMP/metrics"
# rekeyctl's own reading of them: plan measures both apiservers over the preflight window and finds writes
expect_exit plan_budget_figures 0 "$REKEYCTL" plan -f "$PLAN" --state "$STATE"
grep -E '^  (ok|OVER BUDGET)' "$E2E_TMP/out" | sed 's/^/# plan: /'
for n in cp-1 cp-2; do
	expect_grep "plan_reads_$n" "^  ok $n: apiserver [1-9][0-9]* writes.*5xx 0\.00%, 429 0\.00%" "$E2E_TMP/out"
done

# ---- identity Leases and apiserver_id_hash ----
KUBECONFIG=$D/kubeconfig kubectl get leases -n kube-system -l apiserver.kubernetes.io/identity=kube-apiserver \
	-o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' >"$E2E_TMP/leases"
sel=$(api "$CP1" GET '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?labelSelector=component%20in%20(x)')
cp_expect label_selector_set_based 400 200 "$sel"
[ "$(sort -u "$E2E_TMP/leases" | grep -c .)" = 2 ] && ok identity_lease_per_apiserver || not_ok identity_lease_per_apiserver "$(cat "$E2E_TMP/leases")"
for u in "$CP1" "$CP2"; do
	api "$u" GET /metrics >/dev/null
	sed -n 's/^apiserver_encryption_config_controller_last_config_info{apiserver_id_hash="\([^"]*\)".*/\1/p' "$E2E_TMP/body"
done >"$E2E_TMP/idhashes"
while read -r lease; do echo "sha256:$(printf %s "$lease" | sha256sum | cut -d' ' -f1)"; done <"$E2E_TMP/leases" | sort >"$E2E_TMP/leasehashes"
[ "$(sort -u "$E2E_TMP/idhashes")" = "$(cat "$E2E_TMP/leasehashes")" ] && ok id_hash_is_sha256_of_lease_name ||
	not_ok id_hash_is_sha256_of_lease_name "metrics $(tr '\n' ' ' <"$E2E_TMP/idhashes") leases $(tr '\n' ' ' <"$E2E_TMP/leasehashes")"

# ---- discovery, HTTP/2, protobuf, OpenAPI ----
[ "$(api "$CP1" GET /api)" = 200 ] && jq -e '.kind == "APIVersions" and (.versions | index("v1"))' "$E2E_TMP/body" >/dev/null &&
	ok discovery_api || not_ok discovery_api "$(head -c 200 "$E2E_TMP/body")"
[ "$(api "$CP1" GET /api/v1)" = 200 ] && jq -e '.resources[] | select(.name == "secrets") | .verbs | index("update")' "$E2E_TMP/body" >/dev/null &&
	ok discovery_secrets_update || not_ok discovery_secrets_update "$(head -c 200 "$E2E_TMP/body")"
[ "$(api "$CP1" GET /apis)" = 200 ] && jq -e '.kind == "APIGroupList"' "$E2E_TMP/body" >/dev/null && ok discovery_apis || not_ok discovery_apis "$(head -c 200 "$E2E_TMP/body")"
httpv=$(curl -sS -o /dev/null -w '%{http_version}' --http2 --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" "$CP1/version")
cp_expect http_version 1.1 2 "$httpv"
rkv=$("$REKEYCTL" kube --kubeconfig "$D/kubeconfig" -v get /version 2>&1 >/dev/null | sed -n 's/.*status=200 http_version=\([0-9]\).*/\1/p' | head -n 1)
cp_expect rekeyctl_http_version 1 2 "$rkv"
pb=$(curl -sS -o "$E2E_TMP/pb" -w '%{http_code} %{content_type}' --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" \
	-H 'Accept: application/vnd.kubernetes.protobuf, application/json' "$CP1/api/v1/namespaces/default/secrets/nop")
cp_expect protobuf_get_content_type "200 application/json" "200 application/vnd.kubernetes.protobuf" "$pb"
# kubectl's typed generators POST protobuf: the sandbox decodes Secret and ConfigMap bodies (it did 415)
KUBECONFIG=$D/kubeconfig kubectl create secret generic fid-kubectl --from-literal=a=b --from-literal=c=d \
	--type=example.com/fid >/dev/null 2>"$E2E_TMP/kerr" &&
	[ "$(KUBECONFIG=$D/kubeconfig kubectl get secret fid-kubectl -o jsonpath='{.data.a} {.data.c} {.type}')" = "Yg== ZA== example.com/fid" ] &&
	ok kubectl_create_secret_generic || not_ok kubectl_create_secret_generic "$(head -c 300 "$E2E_TMP/kerr")"
KUBECONFIG=$D/kubeconfig kubectl create configmap fid-cm --from-literal=k=v >/dev/null 2>"$E2E_TMP/kerr" &&
	[ "$(KUBECONFIG=$D/kubeconfig kubectl get configmap fid-cm -o jsonpath='{.data.k}')" = v ] &&
	ok kubectl_create_configmap || not_ok kubectl_create_configmap "$(head -c 300 "$E2E_TMP/kerr")"
printf 'k8s\000\012\004\012\002v1' >"$E2E_TMP/bad.pb"
code=$(api "$CP1" POST /api/v1/namespaces/default/secrets "$E2E_TMP/bad.pb" application/vnd.kubernetes.protobuf)
[ "$code" -ge 400 ] && [ "$code" -lt 500 ] && ok protobuf_malformed_refused || not_ok protobuf_malformed_refused "HTTP $code"
oa=$(api "$CP1" GET /openapi/v2)
cp_expect openapi_v2 404 200 "$oa"

# ---- faults: which work on which control plane; bad uses of up --real ----
if is_real; then
	expect_exit fault_apiserver_only_refused 2 "$SANDBOX" fault --dir "$D" --node cp-1 --latency-ms 10
	expect_grep fault_apiserver_only_message 'latency-ms is a fault of the sandbox.s apiserver; this sandbox runs the real kube-apiserver' "$E2E_TMP/err"
	# the fastest of three GETs by name (each reads etcd), so one slow answer of a loaded machine is no
	# reading: with 300 ms added to every etcd answer even the fastest must take 300 ms, and more than
	# the fastest without it
	min_get_ms() {
		best=
		for _ in 1 2 3; do
			t0=$(date +%s%N)
			api "$CP1" GET /api/v1/namespaces/default/secrets/nop >/dev/null
			ms=$((($(date +%s%N) - t0) / 1000000))
			if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
		done
		echo "$best"
	}
	fast=$(min_get_ms)
	expect_exit fault_etcd_latency 0 "$SANDBOX" fault --dir "$D" --etcd-latency-ms 300
	slow=$(min_get_ms)
	"$SANDBOX" fault --dir "$D" --etcd-latency-ms 0 >/dev/null
	[ "$slow" -ge 300 ] && [ "$slow" -gt "$fast" ] && ok etcd_latency_delays_reads ||
		not_ok etcd_latency_delays_reads "fastest GET took $fast ms, then $slow ms with 300 ms added"
else
	expect_exit fault_etcd_latency_needs_real 2 "$SANDBOX" fault --dir "$D" --etcd-latency-ms 10
	expect_grep fault_etcd_latency_message 'needs a sandbox started with --real' "$E2E_TMP/err"
	expect_exit up_binaries_need_real 2 "$SANDBOX" up --dir "$E2E_TMP/x" --kube-apiserver /bin/true
	expect_exit up_real_missing_binary 2 "$SANDBOX" up --dir "$E2E_TMP/y" --real --kube-apiserver "$E2E_TMP/none"
	expect_grep up_real_missing_binary_message "$E2E_TMP/none: No such file" "$E2E_TMP/err"
	[ -e "$E2E_TMP/y" ] && not_ok up_real_missing_binary_nothing_created "$E2E_TMP/y exists" || ok up_real_missing_binary_nothing_created
	# make realcp without Go fails loudly (exit 1, says why), never skips
	if PATH=/usr/bin:/bin command -v go >/dev/null 2>&1; then
		skip realcp_without_go_fails "a go in /usr/bin or /bin"
	else
		expect_exit realcp_without_go_fails 1 env PATH=/usr/bin:/bin REALCP_OUT="$E2E_TMP/realcp/bin" sh tests/realcp/build.sh
		expect_grep realcp_without_go_message 'go is not installed' "$E2E_TMP/err"
	fi
fi

# ---- the rotation's inputs once more: every secret still reads through both apiservers ----
for u in "$CP1" "$CP2"; do
	[ "$(api "$u" GET /api/v1/secrets)" = 200 ] && ok "list_all_through_$(echo "$u" | sed 's/.*://')" ||
		not_ok list_all "$(head -c 200 "$E2E_TMP/body")"
done
e2e_done
